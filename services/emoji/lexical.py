"""Exact keyword hits: a small boost on top of the embedding score.

MiniLM sometimes prefers a loosely related emoji over one whose CLDR keyword is literally in
the description ("pizza party" -> 🎉 over 🍕); counting exact keyword words fixes those cheaply.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"(?<![\w@])@\w+")
_HASHTAG = re.compile(r"#(\w)")
_SPACES = re.compile(r"\s+")
# Words that are CLDR keywords of many emoji and carry no meaning of their own.
_STOPWORDS = frozenset(
    (
        *("a", "an", "and", "the", "of", "with", "in", "on", "at", "to", "for", "my", "me"),
        *("i", "you", "it", "is", "are", "be", "this", "that", "so", "just"),
        *("face", "person", "man", "woman", "symbol", "sign", "button", "mark"),
    )
)


def query_text(text: str) -> str:
    """What gets embedded of a description: URLs and @handles dropped, `#tag` -> `tag`.

    Neither a link nor a user name says which emoji fits; a text that is nothing else is kept.
    """
    stripped = _HASHTAG.sub(r"\1", _MENTION.sub(" ", _URL.sub(" ", text)))
    return _SPACES.sub(" ", stripped).strip() or text


def words(text: str) -> set[str]:
    """Lower-cased word set; `#birthday` counts as `birthday`."""
    return {w for w in _WORD.findall(text.casefold()) if w not in _STOPWORDS and len(w) > 1}


class KeywordIndex:
    """word -> emoji rows whose name or keywords contain that exact word."""

    def __init__(self, keyword_lists: Sequence[Iterable[str]]) -> None:
        self._size = len(keyword_lists)
        rows: dict[str, list[int]] = defaultdict(list)
        for row, keywords in enumerate(keyword_lists):
            for word in words(" ".join(keywords)):
                rows[word].append(row)
        self._rows = {w: np.asarray(r, dtype=np.int64) for w, r in rows.items()}

    def hits(self, text: str) -> np.ndarray:
        """Number of distinct words of `text` that are keywords, per emoji row."""
        counts = np.zeros(self._size, dtype=np.float32)
        for word in words(text):
            found = self._rows.get(word)
            if found is not None:
                counts[found] += 1.0
        return counts
