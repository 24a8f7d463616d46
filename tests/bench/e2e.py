"""`make bench`: end-to-end throughput and latency, side by side with two references.

One run, one model, the same events:
- e2e: Kafka → the rewriter service (real runtime, real handler) → database → results topic;
- model_only: the same handler called directly, as concurrently as the runtime allows
  (no Kafka, no database): the upper bound;
- naive: one event, one handler call, one save, one publish, one commit at a time (the
  common per-message consumer).
Then a sweep of offered load (open-loop producer at fixed rates) for the plots. Writes
docs/bench/e2e.json and PNG plots; the last line is
`bench e2e: vs_model_only=<ratio> vs_naive=<ratio> p99_ms=<x>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from infra.stack.kafka import KafkaCluster
from services.rewriter.spec import SPEC
from shared.config import REPO_ROOT, CoreSettings, DatabaseSettings, KafkaSettings
from shared.messaging.app import ServiceRuntime
from shared.messaging.codec import decode, encode
from shared.messaging.handler import Handler, ServiceContext
from shared.messaging.handling import result_document, stored_result
from shared.messaging.settings import RuntimeSettings
from shared.persistence.engine import create_engine
from shared.persistence.migrate import upgrade
from shared.persistence.repository import ResultRepository

log = logging.getLogger("bench.e2e")
OUT_DIR = REPO_ROOT / "docs" / "bench"

# Short everyday sentences with the slips people make on phones (made up for the bench).
SUBJECTS = ["i", "we", "my brother", "the team", "Sara", "our landlord", "the kids"]
VERBS = ["was going", "are planning", "has decide", "wants", "will try", "cant wait"]
ENDINGS = [
    "to go to the beach tomorow",
    "to finish the the report by friday",
    "to call you back later tonite",
    "to meet at the cafe near there office",
    "to buy grocerys before the store close",
    "to fix the sink wich is leaking again",
    "to visit grandma on sunday afternon",
]


def sentences(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(ENDINGS)}." for _ in range(n)]


def event(text: str, i: int) -> dict[str, Any]:
    return {
        "request_id": f"bench-{uuid.uuid4().hex[:10]}-{i}",
        "tenant_id": "bench",
        "user_id": f"user-{i}",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"operation": "proofread", "text": text},
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(latencies_ms: list[float], n: int, seconds: float) -> dict[str, float]:
    return {
        "events": n,
        "seconds": round(seconds, 3),
        "throughput_eps": round(n / seconds, 4) if seconds > 0 else 0.0,
        "p50_ms": round(percentile(latencies_ms, 50), 1),
        "p95_ms": round(percentile(latencies_ms, 95), 1),
        "p99_ms": round(percentile(latencies_ms, 99), 1),
    }


async def model_only(
    handler: Handler, events: list[dict[str, Any]], concurrency: int
) -> dict[str, float]:
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(ev: dict[str, Any]) -> None:
        request = decode(encode(ev), SPEC.request_model)
        async with slots:
            t = time.perf_counter()
            await handler(request)
            latencies.append((time.perf_counter() - t) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(one(ev) for ev in events))
    return summary(latencies, len(events), time.perf_counter() - start)


async def run_e2e(
    handler: Handler,
    events: list[dict[str, Any]],
    bootstrap: str,
    db_url: str,
    state_dir: Path,
    *,
    rate_eps: float | None = None,
) -> dict[str, float]:
    """Through the real runtime; `rate_eps` None = everything at once (saturation)."""
    topic = f"bench.{uuid.uuid4().hex[:8]}"
    spec = SPEC.with_topics(topic, f"{topic}.results")
    runtime = ServiceRuntime(
        spec,
        core=CoreSettings(CAIRN_STATE_DIR=str(state_dir)),
        kafka=KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap, KAFKA_TOPIC_PARTITIONS=6),
        runtime=RuntimeSettings(CAIRN_GROUP_ID=f"g-{topic}", CAIRN_DLQ_TOPIC=f"{topic}.dlq"),
        database=DatabaseSettings(DATABASE_URL=db_url),
        handler=handler,
    )
    await runtime.start()
    consumer = AIOKafkaConsumer(
        f"{topic}.results", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    try:
        await asyncio.sleep(1.0)  # let the group settle so the clock measures work, not joins
        start = time.perf_counter()
        for i, ev in enumerate(events):
            if rate_eps:
                await asyncio.sleep(max(0.0, start + i / rate_eps - time.perf_counter()))
            sent_at[ev["request_id"]] = time.perf_counter()
            await producer.send(topic, encode(ev), key=ev["user_id"].encode())
        await producer.flush()
        while len(latencies) < len(events):
            batch = await consumer.getmany(timeout_ms=500)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    rid = json.loads(r.value or b"{}").get("request_id")
                    if rid in sent_at:
                        latencies.append((now - sent_at.pop(rid)) * 1000)
        elapsed = time.perf_counter() - start
    finally:
        await producer.stop()
        await consumer.stop()
        await runtime.stop()
    return summary(latencies, len(events), elapsed)


async def naive(
    handler: Handler, events: list[dict[str, Any]], bootstrap: str, db_url: str
) -> dict[str, float]:
    """The per-message pattern: getone → handle → save → send_and_wait → commit."""
    topic = f"naive.{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    for ev in events:
        await producer.send(topic, encode(ev), key=ev["user_id"].encode())
    await producer.flush()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    engine = create_engine(db_url)
    repo = ResultRepository(engine)
    latencies: list[float] = []
    try:
        start = time.perf_counter()
        for _ in events:
            record = await consumer.getone()
            t = time.perf_counter()
            request = decode(record.value, SPEC.request_model)
            result = await handler(request)
            doc = result_document(SPEC, request, result)
            await repo.save(stored_result(SPEC, request, result, doc, store_input_text=False))
            await producer.send_and_wait(f"{topic}.results", encode(doc), key=record.key)
            tp = TopicPartition(record.topic, record.partition)
            await consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})
            latencies.append((time.perf_counter() - t) * 1000)
        elapsed = time.perf_counter() - start
    finally:
        await consumer.stop()
        await producer.stop()
        await engine.dispose()
    return summary(latencies, len(events), elapsed)


def plot(sweep: list[dict[str, Any]], model_only_eps: float, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    offered = [s["offered_eps"] for s in sweep]
    files = []
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(offered, [s["throughput_eps"] for s in sweep], "o-", label="e2e achieved")
    ax.plot(offered, offered, ":", color="grey", label="offered")
    ax.axhline(model_only_eps, ls="--", color="tab:red", label="model only (upper bound)")
    ax.set_xlabel("offered load (events/s)")
    ax.set_ylabel("throughput (events/s)")
    ax.set_title("Cairn rewriter: throughput vs offered load")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=110)
    files.append(str(out / "throughput.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    for q in ("p50_ms", "p95_ms", "p99_ms"):
        ax.plot(offered, [s[q] for s in sweep], "o-", label=q.replace("_ms", ""))
    ax.set_xlabel("offered load (events/s)")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.set_title("Cairn rewriter: latency vs offered load")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    files.append(str(out / "latency.png"))
    plt.close("all")
    return files


async def main_async(args: argparse.Namespace) -> None:
    from shared.inference.runtime import LocalGenerator
    from shared.inference.settings import InferenceSettings

    core = CoreSettings()
    tmp = Path(tempfile.mkdtemp(prefix="cairn-bench-"))
    db_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
    upgrade(db_url)
    generator = await LocalGenerator.start(InferenceSettings(), core, model=args.model)
    cluster = KafkaCluster(tmp / "kafka")
    cluster.start()
    results: dict[str, Any] = {"model": generator.model_id, "device": generator.device}
    try:
        ctx = ServiceContext(core=core, extras={"generator": generator})
        async with SPEC.lifespan(ctx) as handler:
            texts = sentences(args.events + args.naive_events + 8)
            await model_only(handler, [event(t, i) for i, t in enumerate(texts[:8])], 8)  # warm
            events = [event(t, i) for i, t in enumerate(texts[: args.events])]
            concurrency = RuntimeSettings().max_in_flight
            print(f"model_only: {len(events)} events, concurrency {concurrency}...", flush=True)
            results["model_only"] = await model_only(handler, events, concurrency)
            print(f"  {results['model_only']}", flush=True)

            print(f"e2e (saturated): {len(events)} events...", flush=True)
            fresh = [event(t, i) for i, t in enumerate(texts[: args.events])]
            results["e2e"] = await run_e2e(handler, fresh, cluster.bootstrap, db_url, tmp)
            print(f"  {results['e2e']}", flush=True)

            naive_events = [event(t, i) for i, t in enumerate(texts[-args.naive_events :])]
            print(f"naive: {len(naive_events)} events, one at a time...", flush=True)
            results["naive"] = await naive(handler, naive_events, cluster.bootstrap, db_url)
            print(f"  {results['naive']}", flush=True)

            sweep = []
            capacity = results["model_only"]["throughput_eps"]
            for factor in args.sweep:
                rate = capacity * factor
                n = max(6, int(rate * args.sweep_seconds))
                evs = [event(t, i) for i, t in enumerate(sentences(n, seed=int(factor * 100)))]
                print(f"sweep: offered {rate:.2f} ev/s x {n} events...", flush=True)
                point = await run_e2e(handler, evs, cluster.bootstrap, db_url, tmp, rate_eps=rate)
                point["offered_eps"] = round(rate, 4)
                sweep.append(point)
                print(f"  {point}", flush=True)
            results["sweep"] = sweep
    finally:
        cluster.stop()
        await generator.close()

    vs_model = results["e2e"]["throughput_eps"] / results["model_only"]["throughput_eps"]
    vs_naive = results["e2e"]["throughput_eps"] / results["naive"]["throughput_eps"]
    results["ratios"] = {"vs_model_only": round(vs_model, 3), "vs_naive": round(vs_naive, 3)}
    results["machine"] = {"cpus": os.cpu_count(), "at": datetime.now(UTC).isoformat()}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "e2e.json").write_text(json.dumps(results, indent=2) + "\n")
    files = plot(results["sweep"], results["model_only"]["throughput_eps"], OUT_DIR)
    print(f"wrote {OUT_DIR / 'e2e.json'} and {', '.join(files)}")
    print(
        f"bench e2e: vs_model_only={vs_model:.3f} vs_naive={vs_naive:.3f} "
        f"p99_ms={results['e2e']['p99_ms']:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", "64")))
    parser.add_argument("--naive-events", type=int, default=16)
    parser.add_argument("--model", default=os.environ.get("BENCH_MODEL"))
    parser.add_argument("--sweep", type=float, nargs="*", default=[0.25, 0.5, 1.0, 2.0])
    parser.add_argument("--sweep-seconds", type=float, default=20.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
