"""`python -m infra.monitoring.snapshot`: the README's dashboard picture, from real metrics.

Runs the real rewriter service for a minute or two (Apache Kafka in KRaft mode, SQLite in a
temporary directory, SmolLM2 on CPU, the ChatGPT tier pointed at the local fake OpenAI server
used by the tests), sends waves of writing requests (some asking for the best quality, so they
escalate and cost something, a few schema-invalid ones for the DLQ), scrapes the service's
own /metrics every two seconds and draws the dashboard's panels with matplotlib, computed the
way the panels' PromQL computes them. Nothing is faked but the provider's HTTP answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from shared.config import REPO_ROOT

OUT = REPO_ROOT / "docs" / "monitoring" / "dashboard-rewriter.png"
SCRAPE_EVERY_S = 2.0
WINDOW_S = 20.0  # the picture's rate() window: the run is short, so shorter than Grafana's
TEXTS = [
    "Their going to the park tomorow, weather permiting.",
    "i wanted to let you know that the the report is almost finish.",
    "hey, cant make it friday, can we do monday instead? sorry!!",
    "Thanks for you patience, we will send it tomorow morning.",
]

Sample = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Scrape:
    t: float
    samples: Sample


def parse(text: str) -> Sample:
    out: Sample = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: local\r\n\r\n")
    await writer.drain()
    body = await reader.read()
    writer.close()
    return body.split(b"\r\n\r\n", 1)[1].decode()


def request(i: int, *, best: bool) -> dict[str, Any]:
    return {
        "request_id": f"snap-{uuid.uuid4().hex[:10]}-{i}",
        "tenant_id": "demo-tenant",
        "user_id": f"writer-{i % 7}",
        "occurred_at": datetime.now(UTC).isoformat(),
        "locale": "en-US",
        "consent_external": True,
        "quality_hint": "best" if best else "balanced",
        "payload": {"operation": "proofread", "text": TEXTS[i % len(TEXTS)]},
    }


async def run(seconds: float) -> list[Scrape]:
    from aiokafka import AIOKafkaProducer

    from infra.stack.kafka import KafkaCluster
    from services.rewriter.spec import SPEC
    from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
    from shared.messaging.app import ServiceRuntime
    from shared.messaging.settings import RuntimeSettings
    from shared.persistence.migrate import upgrade
    from tests.e2e.support import provider_answer
    from tests.fakes.openai_server import FakeOpenAIServer

    tmp = Path(tempfile.mkdtemp(prefix="cairn-snapshot-"))
    cluster = KafkaCluster(tmp / "kafka")
    cluster.start()
    fake = await FakeOpenAIServer(responder=provider_answer).start()
    os.environ.update(
        {
            "CAIRN_GENERATOR_MODEL": "smollm2-135m-instruct",
            "INFERENCE_DEVICE": "cpu",
            "INFERENCE_TORCH_THREADS": "1",
            "INFERENCE_WARMUP": "false",
            "CAIRN_TIERS": "local,openai",
            # SmolLM2 on one CPU thread beside the broker: give the local tier time to answer,
            # so only the requests asking for the best quality escalate.
            "CAIRN_LATENCY_BUDGET_MS": "20000",
            "OPENAI_API_KEY": "sk-snapshot-local-fake",
            "OPENAI_BASE_URL": fake.base_url,
        }
    )
    db = f"sqlite+aiosqlite:///{tmp}/cairn.db"
    upgrade(db)
    runtime = ServiceRuntime(
        SPEC,
        core=CoreSettings(),
        kafka=KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=cluster.bootstrap, KAFKA_TOPIC_PARTITIONS=3),
        runtime=RuntimeSettings(CAIRN_COMMIT_INTERVAL_S=0.5),
        database=DatabaseSettings(DATABASE_URL=db),
    )
    scrapes: list[Scrape] = []
    try:
        await runtime.start()
        assert runtime.health is not None
        producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap)
        await producer.start()
        started = time.monotonic()
        sent = 0
        next_scrape = started
        try:
            while time.monotonic() - started < seconds:
                elapsed = time.monotonic() - started
                # Waves: a burst every 20 s, bigger in the middle of the run, so lag and
                # throughput move; every third request asks for the best quality.
                if sent < int(elapsed / 20 + 1) * (6 if elapsed < seconds / 2 else 10):
                    for _ in range(6):
                        ev = request(sent, best=sent % 3 == 0)
                        value = json.dumps(ev).encode()
                        await producer.send(SPEC.input_topic, value, key=ev["user_id"].encode())
                        sent += 1
                    if sent % 18 == 0:  # an old client: a field this contract does not know
                        bad = request(sent, best=False)
                        bad["payload"]["colour"] = "red"
                        await producer.send(SPEC.input_topic, json.dumps(bad).encode())
                if time.monotonic() >= next_scrape:
                    text = await scrape(runtime.health.port)
                    scrapes.append(Scrape(time.monotonic() - started, parse(text)))
                    next_scrape += SCRAPE_EVERY_S
                await asyncio.sleep(0.2)
        finally:
            await producer.stop()
        print(f"sent {sent} requests, processed {runtime.processed}, {len(scrapes)} scrapes")
    finally:
        await runtime.stop()
        await fake.close()
        cluster.stop()
    return scrapes


# -- PromQL, the little the panels need ---------------------------------------------------


def series(scrapes: list[Scrape], name: str, by: str, **match: str) -> dict[str, list[float]]:
    """sum by (`by`) (name{match}) at each scrape."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(scrapes))
    for i, sc in enumerate(scrapes):
        for (n, labels), v in sc.samples.items():
            d = dict(labels)
            if n == name and all(d.get(k) == val for k, val in match.items()):
                out[d.get(by, "")][i] += v
    return dict(out)


def rate(values: list[float], times: list[float]) -> list[float]:
    out = []
    for i, t in enumerate(times):
        j = next(k for k in range(i + 1) if t - times[k] <= WINDOW_S)
        dt = t - times[j]
        out.append((values[i] - values[j]) / dt if dt > 0 else 0.0)
    return out


def quantile(q: float, buckets: dict[str, list[float]], times: list[float]) -> list[float]:
    """histogram_quantile over rate() of cumulative buckets (linear inside a bucket)."""
    bounds = sorted(buckets, key=lambda b: float("inf") if b == "+Inf" else float(b))
    rates = {b: rate(buckets[b], times) for b in bounds}
    out = []
    for i in range(len(times)):
        total = rates["+Inf"][i] if "+Inf" in rates else 0.0
        if total <= 0:
            out.append(float("nan"))
            continue
        rank, prev_bound, prev_count = q * total, 0.0, 0.0
        value = float("nan")
        for b in bounds:
            count = rates[b][i]
            if count >= rank:
                upper = prev_bound if b == "+Inf" else float(b)
                width = count - prev_count
                value = prev_bound + (upper - prev_bound) * ((rank - prev_count) / width or 0)
                break
            prev_bound, prev_count = (prev_bound if b == "+Inf" else float(b)), count
        out.append(value)
    return out


def by_tier_buckets(scrapes: list[Scrape]) -> dict[str, dict[str, list[float]]]:
    tiers: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for i, sc in enumerate(scrapes):
        for (n, labels), v in sc.samples.items():
            d = dict(labels)
            if n == "cairn_routing_latency_seconds_bucket":
                tiers[d["tier"]].setdefault(d["le"], [0.0] * len(scrapes))[i] += v
    return tiers


def draw(scrapes: list[Scrape], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t for s in scrapes]
    fig, axes = plt.subplots(3, 2, figsize=(13, 10), constrained_layout=True)
    fig.suptitle("Cairn rewriter: a short real run (SmolLM2 on CPU, fake OpenAI tier)")
    ax = axes[0][0]
    for part, v in sorted(series(scrapes, "cairn_consumer_lag", "partition").items()):
        ax.plot(t, v, label=f"partition {part}")
    ax.set_title("Consumer lag per partition")
    ax = axes[0][1]
    for outcome, v in sorted(series(scrapes, "cairn_events_total", "outcome").items()):
        ax.plot(t, rate(v, t), label=outcome)
    for error, v in sorted(series(scrapes, "cairn_dead_letters_total", "error_type").items()):
        ax.plot(t, rate(v, t), "--", label=f"dead letters: {error}")
    ax.set_title("Throughput by outcome, dead letters (events/s)")
    ax = axes[1][0]
    for tier, buckets in sorted(by_tier_buckets(scrapes).items()):
        ax.plot(t, quantile(0.95, buckets, t), label=tier)
    ax.set_title("Latency p95 by tier (s)")
    ax = axes[1][1]
    for reason, v in sorted(series(scrapes, "cairn_routing_escalations_total", "reason").items()):
        ax.plot(t, rate(v, t), label=reason)
    ax.set_title("Escalation reasons (per s)")
    ax = axes[2][0]
    for tier, v in sorted(series(scrapes, "cairn_routing_cost_usd_total", "tier").items()):
        ax.plot(t, [r * 3600 for r in rate(v, t)], label=tier)
    ax.set_title("Fallback cost (USD/h)")
    ax = axes[2][1]
    for model, v in series(scrapes, "cairn_inference_mean_batch_size", "model").items():
        ax.plot(t, v, label=f"batch size {model}")
    for model, v in series(scrapes, "cairn_inference_padding_waste", "model").items():
        ax.plot(t, v, "--", label=f"padding {model}")
    ax.set_title("Local model: mean batch size and padding share")
    for row in axes:
        for ax in row:
            ax.set_xlabel("seconds")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    print(f"wrote {out.relative_to(REPO_ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=100.0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--scrapes", type=Path, help="also keep the raw scrapes (JSON)")
    args = parser.parse_args()
    scrapes = asyncio.run(run(args.seconds))
    if args.scrapes:
        args.scrapes.write_text(
            json.dumps(
                [
                    {"t": s.t, "samples": [[k[0], k[1], v] for k, v in s.samples.items()]}
                    for s in scrapes
                ]
            )
        )
    draw(scrapes, args.out)


if __name__ == "__main__":
    main()
