"""Several candidates, one verified answer.

A small model's first (greedy) draft is often rejected by the verifiers while one of a few
sampled drafts passes. The candidates of one request are submitted together, so the
engine runs them in one continuous batch: on CPU a batch of 4 costs far less than 4
sequential calls. Every candidate is verified; among those that
pass, the task's own scoring rule (which sees the other passing candidates, for consensus
rules) picks the answer (the highest score wins, ties go to the
earlier candidate, so the greedy draft wins a tie).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, Protocol, TypeVar

from shared.inference.types import ChatMessage, Generation, GenerationParams

T = TypeVar("T")

# Sampling for the extra candidates: varied enough to differ, tame enough to stay on task.
CANDIDATE_TEMPERATURE = 0.7
CANDIDATE_TOP_P = 0.95


class Generator(Protocol):
    """The part of the local generator the writing tasks use."""

    @property
    def max_prompt_tokens(self) -> int: ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int: ...

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        timeout_s: float | None = None,
    ) -> Generation: ...


def generate_with(
    generator: Generator, messages: Sequence[ChatMessage], timeout_s: float | None
) -> Callable[[GenerationParams], Awaitable[Generation]]:
    """`best_of`'s generate callable: these messages, this timeout, one set of params."""

    async def generate(params: GenerationParams) -> Generation:
        return await generator.generate(messages, params, timeout_s=timeout_s)

    return generate


@dataclass(frozen=True)
class Candidate(Generic[T]):
    """One draft: what the model said, what it became, and the verifier's verdict."""

    generation: Generation
    result: T
    problem: str | None


@dataclass(frozen=True)
class Choice(Generic[T]):
    """The chosen candidate (the first one when none passed) and all of them."""

    chosen: Candidate[T]
    candidates: tuple[Candidate[T], ...]

    @property
    def passed(self) -> int:
        return sum(c.problem is None for c in self.candidates)


def candidate_params(base: GenerationParams, n: int) -> list[GenerationParams]:
    """Greedy first (the single-candidate answer), then n-1 seeded samples."""
    sampled = replace(base, temperature=CANDIDATE_TEMPERATURE, top_p=CANDIDATE_TOP_P)
    return [base, *(replace(sampled, seed=i) for i in range(1, n))]


async def best_of(
    generate: Callable[[GenerationParams], Awaitable[Generation]],
    params: Sequence[GenerationParams],
    build: Callable[[Generation], T],
    verify: Callable[[T], Awaitable[str | None]],
    score: Callable[[T, Sequence[T]], float],
) -> Choice[T]:
    """Generate one candidate per `params` at once, verify each, keep the best that passes."""
    generations = await asyncio.gather(*(generate(p) for p in params))
    results = [build(g) for g in generations]
    problems = await asyncio.gather(*(verify(r) for r in results))
    candidates = tuple(
        Candidate(g, r, p) for g, r, p in zip(generations, results, problems, strict=True)
    )
    passing = [c for c in candidates if c.problem is None]
    if not passing:
        return Choice(candidates[0], candidates)
    peers = [c.result for c in passing]
    best = max(enumerate(passing), key=lambda item: (score(item[1].result, peers), -item[0]))[1]
    return Choice(best, candidates)


def consensus(text: str, peers: Sequence[str]) -> float:
    """Minimum-Bayes-risk score: mean word overlap (Jaccard) with the other candidates.

    The candidate most like the others is the one the model is surest of; an outlier that
    happens to pass the checks loses to the majority reading.
    """
    words = set(text.lower().split())
    others = [set(p.lower().split()) for p in peers if p != text]
    if not others or not words:
        return 0.0
    return sum(len(words & o) / len(words | o) for o in others) / len(others)
