"""Benchmark of best-of-N local candidates: latency and tokens per request, N vs 1.

Run: .venv/bin/python -m tests.bench.candidates [--model NAME] [--candidates 3]
                                                [--requests 8] [--concurrency 4] [--rounds 2]
It is a measurement, not a test: numbers depend on the machine and on what else runs on it.

The prompts are the rewriter's own tone prompts (services/rewriter/prompts.py) over the first
messages of tests/eval/data/tone_messages.jsonl. A request is one local round as the rewriter
runs it: the candidates of shared/inference/candidates.py (greedy + seeded samples) submitted
together to one LocalGenerator, so the micro-batcher groups them. The same requests run with
N candidates and with 1, `--concurrency` requests in flight at a time (the same load), in
alternating rounds so drift in machine load hits both sides alike. Verification and retry
rounds are left out: they cost the same per candidate on both sides.
Last line: `bench candidates: p50_ratio=<x> tokens_ratio=<x>` (N over 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from schemas.rewrite import Tone, WritingOperation, WritingRequest
from services.rewriter import prompts
from shared.config import CoreSettings
from shared.inference.candidates import candidate_params
from shared.inference.runtime import LocalGenerator
from shared.inference.settings import InferenceSettings
from shared.inference.types import ChatMessage, GenerationParams

DATA = Path(__file__).parents[1] / "eval" / "data" / "tone_messages.jsonl"
TONES = (Tone.PROFESSIONAL, Tone.FRIENDLY, Tone.CONCISE)


def request_prompts(count: int) -> list[list[ChatMessage]]:
    """`count` rewrite prompts, cycling through the tones."""
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    out = []
    for i, row in enumerate(rows[:count]):
        payload = WritingRequest(
            operation=WritingOperation.REWRITE, tone=TONES[i % len(TONES)], text=row["text"]
        )
        out.append([ChatMessage(m["role"], m["content"]) for m in prompts.messages(payload)])  # type: ignore[arg-type]
    return out


def p50(values: Sequence[float]) -> float:
    return statistics.median(values)


async def one_request(
    gen: LocalGenerator, messages: list[ChatMessage], base: GenerationParams, n: int
) -> tuple[float, int]:
    """Seconds until all `n` candidates of one request are back, and their tokens."""
    started = time.perf_counter()
    generations = await asyncio.gather(
        *(gen.generate(messages, p) for p in candidate_params(base, n))
    )
    return time.perf_counter() - started, sum(g.completion_tokens for g in generations)


async def one_side(
    gen: LocalGenerator,
    requests: list[list[ChatMessage]],
    base: GenerationParams,
    n: int,
    concurrency: int,
) -> list[tuple[float, int]]:
    gate = asyncio.Semaphore(concurrency)

    async def run(messages: list[ChatMessage]) -> tuple[float, int]:
        async with gate:
            return await one_request(gen, messages, base, n)

    return list(await asyncio.gather(*(run(m) for m in requests)))


async def bench(args: argparse.Namespace) -> tuple[float, float]:
    settings = InferenceSettings()
    started = time.perf_counter()
    gen = await LocalGenerator.start(settings, CoreSettings(), model=args.model)
    print(
        f"model {gen.model_id} on {gen.device}: ready in {time.perf_counter() - started:.1f}s "
        f"(max_batch_size={settings.max_batch_size}, max_wait_ms={settings.max_wait_ms})"
    )
    requests = request_prompts(args.requests)
    base = GenerationParams(max_new_tokens=args.max_new_tokens)
    sides: dict[int, list[tuple[float, int]]] = {args.candidates: [], 1: []}
    try:
        for round_no in range(args.rounds):
            # Alternate which side goes first, so a change in machine load is shared.
            order = (args.candidates, 1) if round_no % 2 == 0 else (1, args.candidates)
            for n in order:
                t0 = time.perf_counter()
                got = await one_side(gen, requests, base, n, args.concurrency)
                sides[n] += got
                print(
                    f"round {round_no + 1} N={n}: {len(got)} requests in "
                    f"{time.perf_counter() - t0:.1f}s, p50 {p50([s for s, _ in got]):.2f}s"
                )
    finally:
        await gen.close()
    for n, got in sides.items():
        lat = sorted(s for s, _ in got)
        tokens = sum(t for _, t in got) / len(got)
        print(
            f"N={n}: {len(got)} requests at concurrency {args.concurrency}: latency p50 "
            f"{p50(lat):.2f}s max {lat[-1]:.2f}s; completion tokens per request {tokens:.1f}"
        )
    many, single = sides[args.candidates], sides[1]
    p50_ratio = p50([s for s, _ in many]) / p50([s for s, _ in single])
    tokens_ratio = sum(t for _, t in many) / max(1, sum(t for _, t in single))
    return p50_ratio, tokens_ratio


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.candidates", description=__doc__)
    parser.add_argument("--model", default=None, help="generator (default CAIRN_GENERATOR_MODEL)")
    parser.add_argument("--candidates", type=int, default=3, help="N, as REWRITER_CANDIDATES")
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    p50_ratio, tokens_ratio = asyncio.run(bench(args))
    print(f"bench candidates: p50_ratio={p50_ratio:.2f} tokens_ratio={tokens_ratio:.2f}")


if __name__ == "__main__":
    main()
