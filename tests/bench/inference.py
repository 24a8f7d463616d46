"""Benchmark of the local generator: micro-batched vs one-request-at-a-time, and bucket padding.

Run: .venv/bin/python -m bench.inference [--requests N] [--max-new-tokens T] [--model NAME]
It is a measurement, not a test: numbers depend on the machine and on what else runs on it.
The same prompts go through the same LocalGenerator twice: one at a time (each awaited before
the next is sent) and all at once (the micro-batcher groups them). The padding figure is the
bucket set's waste on a larger, realistic mix of prompt lengths (static-shape execution pays
it on Inferentia); the batches' own left-padding waste on CPU is printed too.
Last line: `bench inference: batched_vs_sequential=<ratio> padding_waste=<fraction>`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

from shared.config import CoreSettings
from shared.inference.buckets import padding_waste
from shared.inference.runtime import LocalGenerator
from shared.inference.settings import InferenceSettings
from shared.inference.types import ChatMessage, Generation, GenerationParams

_WORDS = (  # noqa: SIM905 (a word list reads better as prose)
    "meeting project deadline invoice team update client review budget report schedule "
    "delivery order payment account password reminder doctor appointment dinner weekend "
    "flight hotel booking package tracking release feature bug fix design launch contract "
    "lunch coffee birthday party school homework train delay weather storm discount sale"
).split()
_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Iris", "Jon")
_APPS = ("Messages", "Mail", "Slack", "Calendar", "Bank", "Delivery", "Photos", "Health")


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def _prompt(rng: random.Random) -> list[ChatMessage]:
    """One request of the product's mix: emoji picks (short), proofreading and rewrites
    (medium), notification-stack summaries (long)."""
    kind = rng.choices(("emoji", "proofread", "rewrite", "summary"), (3, 3, 2, 2))[0]
    if kind == "emoji":
        return [
            ChatMessage("system", "Answer with one emoji."),
            ChatMessage("user", f"Emoji for: {_sentence(rng, 4, 14)}"),
        ]
    if kind == "proofread":
        return [
            ChatMessage("system", "Fix spelling and grammar. Reply with the corrected text only."),
            ChatMessage("user", " ".join(_sentence(rng, 6, 18) for _ in range(rng.randint(1, 3)))),
        ]
    if kind == "rewrite":
        tone = rng.choice(("concise", "friendly", "professional"))
        body = " ".join(_sentence(rng, 6, 20) for _ in range(rng.randint(3, 9)))
        return [
            ChatMessage("system", f"Rewrite the email to be {tone}. Keep every fact."),
            ChatMessage("user", f"Hi {rng.choice(_NAMES)},\n{body}\nThanks"),
        ]
    items = "\n".join(
        f"[{rng.choice(_APPS)}] {rng.choice(_NAMES)}: {_sentence(rng, 5, 16)}"
        for _ in range(rng.randint(3, 12))
    )
    return [
        ChatMessage("system", "Summarise these notifications in one sentence."),
        ChatMessage("user", items),
    ]


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _timed(
    gen: LocalGenerator, msgs: list[ChatMessage], params: GenerationParams
) -> tuple[Generation, float]:
    started = time.perf_counter()
    result = await gen.generate(msgs, params)
    return result, time.perf_counter() - started


async def run(args: argparse.Namespace) -> tuple[float, float]:
    settings = InferenceSettings()
    core = CoreSettings()
    started = time.perf_counter()
    gen = await LocalGenerator.start(settings, core, model=args.model)
    load_s = time.perf_counter() - started
    print(
        f"model {gen.model_id} on {gen.device}: ready in {load_s:.1f}s "
        f"(max_batch_size={settings.max_batch_size}, max_wait_ms={settings.max_wait_ms})"
    )

    rng = random.Random(7)
    mix = [_prompt(rng) for _ in range(args.mix)]
    lengths = [gen.count_tokens(m) for m in mix]
    waste = padding_waste(lengths, gen.buckets)
    print(
        f"prompt mix: {len(lengths)} prompts, tokens min/median/p95/max = {min(lengths)}/"
        f"{int(statistics.median(lengths))}/{int(_pct(lengths, 0.95))}/{max(lengths)}; "
        f"bucket padding waste {waste:.3f} over {len(gen.buckets)} buckets"
    )

    prompts = mix[: args.requests]
    params = GenerationParams(max_new_tokens=args.max_new_tokens)

    t0 = time.perf_counter()
    sequential = [await _timed(gen, p, params) for p in prompts]
    seq_wall = time.perf_counter() - t0
    seq_tokens = sum(g.completion_tokens for g, _ in sequential)
    seq_lat = [s for _, s in sequential]

    before = gen.stats()
    t0 = time.perf_counter()
    batched = await asyncio.gather(*(_timed(gen, p, params) for p in prompts))
    bat_wall = time.perf_counter() - t0
    bat_tokens = sum(g.completion_tokens for g, _ in batched)
    bat_lat = [s for _, s in batched]
    after = gen.stats()

    seq_tps, bat_tps = seq_tokens / seq_wall, bat_tokens / bat_wall
    same = sum(a.text == b.text for (a, _), (b, _) in zip(sequential, batched, strict=True))
    batches = after.batches - before.batches
    print(
        f"sequential: {len(prompts)} requests, {seq_tokens} tokens in {seq_wall:.1f}s = "
        f"{seq_tps:.1f} tok/s; latency p50 {_pct(seq_lat, 0.5):.2f}s "
        f"p95 {_pct(seq_lat, 0.95):.2f}s"
    )
    print(
        f"batched:    {len(prompts)} requests, {bat_tokens} tokens in {bat_wall:.1f}s = "
        f"{bat_tps:.1f} tok/s; latency p50 {_pct(bat_lat, 0.5):.2f}s "
        f"p95 {_pct(bat_lat, 0.95):.2f}s; "
        f"{batches} batches, mean size {len(prompts) / max(batches, 1):.1f}"
    )
    print(
        f"identical greedy text batched vs sequential: {same}/{len(prompts)}; "
        f"batcher padding waste (CPU, left-padding to batch max) {after.padding_waste:.3f}"
    )
    await gen.close()
    return bat_tps / seq_tps, waste


_LOAD_PROBE = """
import asyncio, resource, time, sys
from shared.config import CoreSettings
from shared.inference.runtime import LocalEmbedder, LocalGenerator
from shared.inference.settings import InferenceSettings
async def main(name, role):
    cls = LocalEmbedder if role == "embedder" else LocalGenerator
    t = time.perf_counter()
    model = await cls.start(InferenceSettings(INFERENCE_WARMUP=False), CoreSettings(), model=name)
    load = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name}: load {load:.1f}s (cache ready, no warm-up), peak RSS {rss:.0f} MiB")
    await model.close()
asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def load_report(settings: InferenceSettings) -> None:
    """Each default model's load time and peak RSS, in a fresh process each."""
    for name, role in (
        (settings.generator_model, "generator"),
        ("smollm2-135m-instruct", "generator"),
        (settings.embedding_model, "embedder"),
    ):
        subprocess.run([sys.executable, "-c", _LOAD_PROBE, name, role], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.inference", description=__doc__)
    parser.add_argument("--model", default=None, help="generator (default CAIRN_GENERATOR_MODEL)")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--mix", type=int, default=500, help="prompts in the padding mix")
    parser.add_argument("--load-report", action="store_true", help="also time model loads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.load_report:
        load_report(InferenceSettings())
    ratio, waste = asyncio.run(run(args))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this run: {rss:.0f} MiB")
    print(f"bench inference: batched_vs_sequential={ratio:.2f} padding_waste={waste:.3f}")


if __name__ == "__main__":
    main()
