"""The embedding index of one locale's catalog, cached on disk as npz.

The cache file name carries a hash of the model name, the index format and every embedded
text, so a new CLDR release, `emoji` package or model builds a new file instead of reusing a
stale one. Building costs ~10 s on 2 CPU cores; loading the cache a few milliseconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from services.emoji.catalog import EmojiEntry
from services.emoji.constants import CLDR_VERSION, EMBED_BATCH, INDEX_FORMAT
from services.emoji.lexical import KeywordIndex
from services.emoji.popularity import log_popularity

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What the index needs from `shared.inference.LocalEmbedder`."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EmojiIndex:
    """Catalog rows, their unit vectors, their keyword index and their popularity prior."""

    locale: str
    entries: tuple[EmojiEntry, ...]
    vectors: np.ndarray  # (n, dim) float32, L2-normalised
    keywords: KeywordIndex
    popularity: np.ndarray  # (n,) float32, log(1 + occurrences), see popularity.py

    def row_of(self, emoji: str) -> int | None:
        for row, entry in enumerate(self.entries):
            if entry.emoji == emoji or entry.emoji.replace("\ufe0f", "") == emoji.replace(
                "\ufe0f", ""
            ):
                return row
        return None


def cache_path(index_dir: Path, locale: str, model: str, entries: Sequence[EmojiEntry]) -> Path:
    digest = hashlib.sha256(f"{model}\n{INDEX_FORMAT}\n".encode())
    for entry in entries:
        digest.update(f"{entry.emoji}\t{entry.text}\n".encode())
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", model)[-40:]
    return index_dir / f"{locale}-cldr{CLDR_VERSION}-{slug}-{digest.hexdigest()[:16]}.npz"


async def _embed_all(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    parts = [
        await embedder.embed(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)
    ]
    return np.concatenate(parts).astype(np.float32, copy=False)


def _save(path: Path, vectors: np.ndarray, emoji_list: np.ndarray) -> None:
    """Write to a temporary name, then rename: a crash never leaves a truncated cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.npz")
    np.savez(tmp, vectors=vectors, emoji=emoji_list)
    os.replace(tmp, path)


async def load_or_build(
    entries: Sequence[EmojiEntry], locale: str, model: str, embedder: Embedder, index_dir: Path
) -> EmojiIndex:
    """The cached index if its key matches, else embed the catalog and cache it atomically."""
    path = cache_path(index_dir, locale, model, entries)
    emoji_list = np.asarray([e.emoji for e in entries])
    vectors: np.ndarray | None = None
    if path.is_file():
        with np.load(path, allow_pickle=False) as cached:
            if np.array_equal(cached["emoji"], emoji_list):
                vectors = cached["vectors"]
    if vectors is None:
        started = time.perf_counter()
        vectors = await _embed_all(embedder, [e.text for e in entries])
        _save(path, vectors, emoji_list)
        log.info(
            "built emoji index %s: %d rows in %.1f s",
            path.name,
            len(entries),
            time.perf_counter() - started,
        )
    return EmojiIndex(
        locale=locale,
        entries=tuple(entries),
        vectors=vectors,
        keywords=KeywordIndex([(e.name, *e.keywords) for e in entries]),
        popularity=log_popularity(entries),
    )
