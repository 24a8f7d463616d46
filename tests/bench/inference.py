"""Benchmark of the local generator's serving engine, against llama.cpp and the hardware.

Run: .venv/bin/python -m tests.bench.inference [--requests N] [--max-new-tokens T] [--model NAME]
It is a measurement, not a test: numbers depend on the machine and on what else runs on it.
Everything below runs in one invocation, on the same weights and the same machine:

1. Memory read bandwidth of this CPU (torch sum over 1 GiB, all threads, best of 5), and the
   weight bytes one decode step reads (every GGUF tensor once, except a token embedding that
   has a separate output projection: a step gathers one row of it).
   roofline_share = decode steps/s x bytes per step / bandwidth, where a step that accepts a
   speculative draft still counts once (it reads the weights once).
2. Cairn's generator (INFERENCE_ENGINE, default auto = llama.cpp's server on CPU) on the
   product's prompt mix: one request at a time (decode tok/s from the engine's own prefill /
   decode split), then `--requests` at once (generated tok/s, prefill included), then a light
   load at 0.25x the measured capacity (Poisson arrivals) for light_p50_vs_single.
3. llama.cpp as it ships: a stock `llama-server` (its defaults; `-np --requests`, the same
   threads) sent the very same token-id prompts with the same greedy parameters, one at a time
   and `--requests` at once: vs_llamacpp_single (decode tok/s) and vs_llamacpp_batch
   (generated tok/s with prefill). Also llama.cpp's `llama-batched-bench` (uniform synthetic
   prompts of the mix's median length), printed for reference.
4. `--static`: the previous serving path (static micro-batcher, torch bf16) on the same prompts.
Last line: `bench inference: vs_llamacpp_single=.. vs_llamacpp_batch=.. light_p50_vs_single=..
roofline_share=.. padding_waste=..`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.config import CoreSettings
from shared.inference.buckets import padding_waste
from shared.inference.engines.llamacpp import LlamaCppEngine, find_server
from shared.inference.provision import provision
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


def memory_bandwidth() -> float:
    """Bytes/s this process reads from memory with every core (best of 5 passes)."""
    import torch

    data = torch.ones(256 * 1024 * 1024, dtype=torch.float32)  # 1 GiB, beyond every cache
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        float(data.sum())
        best = min(best, time.perf_counter() - started)
    return data.numel() * data.element_size() / best


def gguf_step_bytes(path: str) -> int:
    """Weight bytes one decode step reads: every tensor of the GGUF once, except a token
    embedding beside a separate output projection (a step gathers one row of it)."""
    from gguf import GGUFReader

    tensors = {t.name: int(t.n_bytes) for t in GGUFReader(path).tensors}
    if "output.weight" in tensors:
        tensors.pop("token_embd.weight", None)
    return sum(tensors.values())


@dataclass
class Phase:
    label: str
    results: list[tuple[Generation, float]]
    wall_s: float

    @property
    def tokens(self) -> int:
        return sum(g.completion_tokens for g, _ in self.results)

    @property
    def tok_s(self) -> float:
        return self.tokens / self.wall_s

    @property
    def p50(self) -> float:
        return _pct([s for _, s in self.results], 0.5)

    def _decode_rate(self, count: Callable[[Generation], int]) -> float | None:
        # Per second of the time spent after the prompt, where the engine reports that split.
        spans = [
            (count(g), g.compute_ms - g.prefill_ms)
            for g, _ in self.results
            if g.prefill_ms is not None
        ]
        decode_ms = sum(ms for _, ms in spans)
        return sum(n for n, _ in spans) / decode_ms * 1000.0 if spans and decode_ms else None

    def decode_steps_s(self) -> float | None:
        # Forward passes: accepted drafts ride on one pass.
        return self._decode_rate(lambda g: g.completion_tokens - g.drafted_accepted)

    def decode_tok_s(self) -> float | None:
        return self._decode_rate(lambda g: g.completion_tokens)

    def line(self) -> str:
        decode = self.decode_tok_s()
        extra = f"; decode alone {decode:.1f} tok/s" if decode else ""
        return (
            f"{self.label}: {len(self.results)} requests, {self.tokens} tokens in "
            f"{self.wall_s:.1f}s = {self.tok_s:.1f} tok/s; latency p50 {self.p50:.2f}s "
            f"p95 {_pct([s for _, s in self.results], 0.95):.2f}s{extra}"
        )


async def sequential(
    gen: LocalGenerator, prompts: Sequence[list[ChatMessage]], params: GenerationParams, label: str
) -> Phase:
    t0 = time.perf_counter()
    results = [await _timed(gen, p, params) for p in prompts]
    return Phase(label, results, time.perf_counter() - t0)


async def concurrent(
    gen: LocalGenerator, prompts: Sequence[list[ChatMessage]], params: GenerationParams, label: str
) -> Phase:
    t0 = time.perf_counter()
    results = list(await asyncio.gather(*(_timed(gen, p, params) for p in prompts)))
    return Phase(label, results, time.perf_counter() - t0)


async def light_load(
    gen: LocalGenerator,
    prompts: Sequence[list[ChatMessage]],
    params: GenerationParams,
    rate_per_s: float,
    seed: int,
) -> Phase:
    """Poisson arrivals at `rate_per_s`; each request's latency from its own arrival."""
    rng = random.Random(seed)
    tasks = []
    t0 = time.perf_counter()
    for p in prompts:
        tasks.append(asyncio.ensure_future(_timed(gen, p, params)))
        await asyncio.sleep(rng.expovariate(rate_per_s))
    results = list(await asyncio.gather(*tasks))
    return Phase(f"light load ({rate_per_s:.2f} req/s)", results, time.perf_counter() - t0)


def llamacpp_baseline(
    binary: Path, gguf: str, prompt_tokens: int, new_tokens: int, parallel: int, threads: int
) -> dict[int, dict[str, float]]:
    """llama-batched-bench rows keyed by parallel sequence count (1 and `parallel`)."""
    bench = binary.with_name("llama-batched-bench")
    context = parallel * (prompt_tokens + new_tokens) + 64
    command = [
        str(bench), "-m", gguf, "-c", str(context), "-b", "2048", "-ub", "512",
        "-npp", str(prompt_tokens), "-ntg", str(new_tokens), "-npl", f"1,{parallel}",
        "-t", str(threads), "-tb", str(threads), "--output-format", "jsonl",
    ]  # fmt: skip
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
    )
    rows: dict[int, dict[str, float]] = {}
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith("{") and '"speed_tg"' in line:
            row = json.loads(line)
            rows[int(row["pl"])] = row
    return rows


@dataclass
class StockRun:
    """One phase against the stock llama-server: tokens, decode time and wall time."""

    tokens: int
    decode_ms: float
    wall_s: float

    @property
    def decode_tok_s(self) -> float:
        return self.tokens / self.decode_ms * 1000.0 if self.decode_ms else 0.0

    @property
    def tok_s(self) -> float:
        return self.tokens / self.wall_s


async def stock_llamacpp(
    binary: Path,
    gguf: str,
    single: Sequence[list[int]],
    batch: Sequence[list[int]],
    new_tokens: int,
    threads: int,
) -> tuple[StockRun, StockRun]:
    """llama-server with its own defaults, fed the same token ids: one at a time, then all
    of `batch` at once."""
    import httpx2 as httpx

    from shared.inference.engines.lifetime import die_with_parent
    from shared.inference.engines.llamacpp import _free_port

    port = _free_port()
    context = len(batch) * (max(len(p) for p in (*single, *batch)) + new_tokens + 16)
    command = [
        str(binary), "-m", gguf, "--host", "127.0.0.1", "--port", str(port),
        "-np", str(len(batch)), "-c", str(context), "-t", str(threads), "-tb", str(threads),
        "--no-webui",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        preexec_fn=die_with_parent(),
    )
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=httpx.Timeout(None, connect=5.0),
            limits=httpx.Limits(max_connections=2 * len(batch)),
        ) as client:
            for _ in range(600):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

            async def one(ids: list[int]) -> tuple[int, float]:
                body = {"prompt": ids, "n_predict": new_tokens, "temperature": 0.0}
                data = (await client.post("/completion", json=body)).json()
                return int(data["tokens_predicted"]), float(data["timings"]["predicted_ms"])

            async def phase(prompts: Sequence[list[int]], together: bool) -> StockRun:
                t0 = time.perf_counter()
                if together:
                    done = list(await asyncio.gather(*(one(p) for p in prompts)))
                else:
                    done = [await one(p) for p in prompts]
                wall = time.perf_counter() - t0
                return StockRun(sum(n for n, _ in done), sum(ms for _, ms in done), wall)

            await one(single[0][:8])  # warm-up, as Cairn's engine warms up at start
            return await phase(single, False), await phase(batch, True)
    finally:
        process.terminate()
        await process.wait()


def _child_peak_rss_mib(gen: LocalGenerator) -> float | None:
    engine = gen.engine
    if not isinstance(engine, LlamaCppEngine) or engine._process is None:
        return None
    try:
        status = Path(f"/proc/{engine._process.pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


async def run(args: argparse.Namespace) -> dict[str, float]:
    settings = InferenceSettings()
    core = CoreSettings()
    figures: dict[str, float] = {}
    threads = settings.engine_threads or (os.cpu_count() or 1)

    bandwidth = memory_bandwidth()
    print(f"memory read bandwidth: {bandwidth / 1e9:.1f} GB/s ({os.cpu_count()} cores)")

    started = time.perf_counter()
    gen = await LocalGenerator.start(settings, core, model=args.model)
    print(
        f"model {gen.model_id} on {gen.device}, engine {gen.engine_name}: ready in "
        f"{time.perf_counter() - started:.1f}s (INFERENCE_MAX_BATCH_SIZE={settings.max_batch_size})"
    )
    rng = random.Random(7)
    mix = [_prompt(rng) for _ in range(args.mix)]
    lengths = [gen.count_tokens(m) for m in mix]
    median = int(statistics.median(lengths))
    print(
        f"prompt mix: {len(lengths)} prompts, tokens min/median/p95/max = {min(lengths)}/"
        f"{median}/{int(_pct(lengths, 0.95))}/{max(lengths)}; static-shape bucket padding "
        f"(Neuron) {padding_waste(lengths, settings.buckets):.3f}"
    )
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    # Different prompts per phase, so a prompt cached by one phase does not speed up the next.
    n = args.requests
    single_prompts, batch_prompts, light_prompts = mix[:n], mix[n : 2 * n], mix[2 * n : 3 * n]

    single = await sequential(gen, single_prompts, params, "one at a time")
    print(single.line())
    batch = await concurrent(gen, batch_prompts, params, f"{n} at once  ")
    print(batch.line())
    capacity = len(batch.results) / batch.wall_s
    light = await light_load(gen, light_prompts, params, 0.25 * capacity, seed=11)
    print(light.line())
    stats = gen.stats()
    figures["light_p50_vs_single"] = light.p50 / single.p50
    figures["padding_waste"] = stats.padding_waste
    rss_child = _child_peak_rss_mib(gen)
    single_ids = [gen.engine.encode_chat(m) for m in single_prompts]
    batch_ids = [gen.engine.encode_chat(m) for m in batch_prompts]
    await gen.close()

    model = provision(gen.model_id, core, settings)
    decode = single.decode_tok_s() or single.tok_s
    steps = single.decode_steps_s() or decode
    accepted = sum(g.drafted_accepted for g, _ in single.results)
    print(
        f"speculative drafts ({settings.speculative}): {accepted} of {single.tokens} tokens "
        f"one at a time came from accepted drafts; {steps:.1f} decode steps/s"
    )
    server = find_server(settings, core.state_dir)
    if model.gguf is not None and server is not None:
        stock_single, stock_batch = await stock_llamacpp(
            server, model.gguf, single_ids, batch_ids, args.max_new_tokens, threads
        )
        print(
            f"stock llama-server (same GGUF, same token ids, {threads} threads): one at a time "
            f"decode {stock_single.decode_tok_s:.1f} tok/s; {n} at once {stock_batch.tokens} "
            f"tokens in {stock_batch.wall_s:.1f}s = {stock_batch.tok_s:.1f} tok/s"
        )
        figures["vs_llamacpp_single"] = decode / stock_single.decode_tok_s
        figures["vs_llamacpp_batch"] = batch.tok_s / stock_batch.tok_s
        rows = llamacpp_baseline(server, model.gguf, median, args.max_new_tokens, n, threads)
        one, many = rows[1], rows[n]
        print(
            f"llama-batched-bench (uniform {median}-token prompts, {args.max_new_tokens} tokens "
            f"each): 1 sequence decode {float(one['speed_tg']):.1f} tok/s; {n} sequences "
            f"{n * args.max_new_tokens / float(many['t']):.1f} generated tok/s with prefill "
            f"(prefill alone {float(many['speed_pp']):.0f} tok/s)"
        )
        step_bytes = gguf_step_bytes(model.gguf)
        bound = bandwidth / step_bytes
        figures["roofline_share"] = steps / bound
        print(
            f"roofline: {step_bytes / 1e6:.0f} MB of weights per decode step -> {bound:.1f} "
            f"steps/s bound; Cairn runs {steps:.1f} steps/s ({decode:.1f} tok/s, "
            f"{decode / bound:.3f} of the bound in tokens); stock llama.cpp "
            f"{stock_single.decode_tok_s / bound:.3f}"
        )

    if args.static:
        static = await LocalGenerator.start(
            InferenceSettings(INFERENCE_ENGINE="static"), core, model=args.model
        )
        k = args.static_requests
        old_single = await sequential(static, single_prompts[:k], params, "static, one at a time")
        print(old_single.line())
        old_batch = await concurrent(static, batch_prompts, params, f"static, {n} at once")
        print(old_batch.line())
        waste = static.stats().padding_waste
        print(f"static padding waste (left-padding to batch max): {waste:.3f}")
        await static.close()
        figures["vs_static_single"] = single.tok_s / old_single.tok_s
        figures["vs_static_batch"] = batch.tok_s / old_batch.tok_s

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = f", llama-server {rss_child:.0f} MiB" if rss_child is not None else ""
    print(f"peak RSS: this process {rss:.0f} MiB{child}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.inference", description=__doc__)
    parser.add_argument("--model", default=None, help="generator (default CAIRN_GENERATOR_MODEL)")
    parser.add_argument("--requests", type=int, default=16, help="concurrency of the batch phase")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--mix", type=int, default=500, help="prompts in the padding mix")
    parser.add_argument("--static", action="store_true", help="also run the static path")
    parser.add_argument("--static-requests", type=int, default=6)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(run(args))
    order = (
        "vs_llamacpp_single",
        "vs_llamacpp_batch",
        "light_p50_vs_single",
        "roofline_share",
        "padding_waste",
        "vs_static_single",
        "vs_static_batch",
    )
    print("bench inference: " + " ".join(f"{k}={figures[k]:.3f}" for k in order if k in figures))


if __name__ == "__main__":
    main()
