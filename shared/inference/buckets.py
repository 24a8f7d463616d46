"""Sequence-length buckets: static shapes for compiled graphs, grouping keys for the batcher."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from shared.errors import PermanentError


class PromptTooLong(PermanentError):
    """The prompt does not fit the largest bucket; the router should escalate or truncate."""

    def __init__(self, tokens: int, limit: int) -> None:
        super().__init__(f"prompt has {tokens} tokens, the largest bucket holds {limit}")
        self.tokens = tokens
        self.limit = limit


def choose_bucket(length: int, buckets: Sequence[int]) -> int:
    """Smallest bucket that holds `length` tokens (buckets sorted ascending).

    A prompt exactly as long as a bucket goes in that bucket; one token more goes in the next.
    """
    if length < 1:
        raise ValueError("length must be >= 1")
    index = bisect.bisect_left(buckets, length)
    if index == len(buckets):
        raise PromptTooLong(length, buckets[-1])
    return buckets[index]


def padding_waste(lengths: Iterable[int], buckets: Sequence[int]) -> float:
    """Fraction of bucket-padded positions that are padding, for a mix of prompt lengths.

    This is what static-shape execution (one graph per bucket) pays for the bucket set,
    before any batching.
    """
    real = padded = 0
    for length in lengths:
        real += length
        padded += choose_bucket(length, buckets)
    return 0.0 if padded == 0 else 1.0 - real / padded
