"""Description -> ranked emoji: cosine similarity over the locale's index, plus keyword hits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.emoji.constants import FALLBACK_LOCALE, MAX_LEXICAL_HITS
from services.emoji.index import Embedder, EmojiIndex
from services.emoji.lexical import query_text


@dataclass(frozen=True)
class Match:
    """One ranked emoji. `score` (what ranking uses) = cosine + keyword boost + popularity.

    The match threshold uses `cosine` alone: popularity says nothing about the description."""

    emoji: str
    name: str
    english_name: str
    cosine: float
    score: float


class Retriever:
    """Ranks emoji for texts, one index per provisioned locale."""

    def __init__(
        self,
        embedder: Embedder,
        indexes: Mapping[str, EmojiIndex],
        lexical_boost: float,
        popularity_weight: float = 0.0,
    ) -> None:
        if FALLBACK_LOCALE not in indexes:
            raise ValueError(f"the {FALLBACK_LOCALE!r} index is required")
        self._embedder = embedder
        self._indexes = dict(indexes)
        self._by_casefold = {loc.casefold(): loc for loc in indexes}
        self.lexical_boost = lexical_boost
        self.popularity_weight = popularity_weight

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(self._indexes)

    def index(self, locale: str) -> EmojiIndex:
        return self._indexes[self.resolve_locale(locale)[0]]

    def resolve_locale(self, tag: str) -> tuple[str, bool]:
        """BCP 47 tag -> (index locale, whether the tag's language has its own index)."""
        subtags = tag.replace("_", "-").split("-")
        for n in range(len(subtags), 0, -1):
            found = self._by_casefold.get("-".join(subtags[:n]).casefold())
            if found is not None:
                return found, True
        return FALLBACK_LOCALE, False

    async def rank(
        self,
        texts: Sequence[str],
        locale: str,
        k: int,
        allowed: Sequence[str] | None = None,
    ) -> list[list[Match]]:
        """Top-k matches per text; `allowed` restricts ranking to those emoji."""
        index = self.index(locale)
        columns = np.arange(len(index.entries))
        if allowed is not None:
            rows = [index.row_of(e) for e in allowed]
            columns = np.asarray([r for r in rows if r is not None], dtype=np.int64)
        vectors = await self._embedder.embed([query_text(t) for t in texts])
        cosines = np.asarray(vectors, dtype=np.float32) @ index.vectors[columns].T
        prior = self.popularity_weight * index.popularity[columns]
        ranked: list[list[Match]] = []
        for text, row_cosines in zip(texts, cosines, strict=True):
            hits = np.minimum(index.keywords.hits(text)[columns], MAX_LEXICAL_HITS)
            scores = row_cosines + self.lexical_boost * hits + prior
            top = min(k, len(columns))
            best = np.argpartition(-scores, top - 1)[:top]
            best = best[np.argsort(-scores[best], kind="stable")]
            matches = []
            for col in best:
                entry = index.entries[int(columns[col])]
                matches.append(
                    Match(
                        emoji=entry.emoji,
                        name=entry.name,
                        english_name=entry.english_name,
                        cosine=float(row_cosines[col]),
                        score=float(scores[col]),
                    )
                )
            ranked.append(matches)
        return ranked
