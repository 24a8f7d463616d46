"""`make demo`: the whole system on embedded defaults, driven by a sample app.

Brings the local stack up (Apache Kafka in KRaft mode, SQLite, the three services) unless it
is already running, produces a realistic mix of requests, waits for every result, prints them
as a table (each request beside its result), writes the sticker PNGs to out/demo/stickers/,
and stops what it started.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from tqdm import tqdm

from infra.demo.events import all_events
from infra.demo.table import table_lines
from schemas.topics import request_topic, result_topic
from shared.config import REPO_ROOT, CoreSettings

RESULT_TIMEOUT_S = 900
OUT_DIR = REPO_ROOT / "out" / "demo"


def stack(action: str) -> None:
    subprocess.run([sys.executable, "-m", "infra.stack", action], check=True, cwd=REPO_ROOT)


def stack_running() -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "infra.stack", "status"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    return any(v for v in json.loads(out.stdout).values())


async def exchange(bootstrap: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The requests the sample app sent and the results that came back, by request id."""
    events = all_events()
    sent = {e["request_id"]: e for evs in events.values() for e in evs}
    wanted = {e["request_id"]: f.value for f, evs in events.items() for e in evs}
    consumer = AIOKafkaConsumer(
        *(result_topic(f) for f in events),
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for feature, evs in events.items():
            for ev in evs:
                await producer.send_and_wait(
                    request_topic(feature), json.dumps(ev).encode(), key=ev["user_id"].encode()
                )
        print(f"sample app produced {len(wanted)} requests; waiting for results...")
        results: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        with tqdm(total=len(wanted), unit="result") as bar:
            while len(results) < len(wanted) and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for r in records:
                        doc = json.loads(r.value) if r.value else {}
                        rid = doc.get("request_id")
                        if rid in wanted and rid not in results:
                            results[rid] = doc
                            bar.update(1)
        missing = set(wanted) - set(results)
        if missing:
            print(f"timed out waiting for {len(missing)} results: {sorted(missing)[:5]}...")
        return sent, results
    finally:
        await producer.stop()
        await consumer.stop()


def print_table(results: dict[str, dict[str, Any]], requests: dict[str, dict[str, Any]]) -> None:
    print()
    print("\n".join(table_lines(results, requests, shutil.get_terminal_size((140, 20)).columns)))


def export_stickers(results: dict[str, dict[str, Any]]) -> int:
    blob_dir = CoreSettings().state_dir / "blobs"
    target = OUT_DIR / "stickers"
    target.mkdir(parents=True, exist_ok=True)
    n = 0
    for doc in results.values():
        for i, sticker in enumerate((doc.get("result") or {}).get("stickers", [])):
            found = next(iter(blob_dir.rglob(f"{sticker['sha256']}*")), None)
            if found:
                shutil.copyfile(found, target / f"{doc['request_id']}-{i}.png")
                n += 1
    return n


def main() -> None:
    started = time.monotonic()
    port = int(os.environ.get("KAFKA_PORT", "9092"))
    we_started = not stack_running()
    if we_started:
        stack("up")
    try:
        requests, results = asyncio.run(exchange(f"127.0.0.1:{port}"))
        print_table(results, requests)
        n = export_stickers(results)
        print(f"\nwrote {n} sticker PNGs to {OUT_DIR / 'stickers'}")
        tiers: dict[str, int] = {}
        for doc in results.values():
            key = f"{doc['provenance']['tier']}/{doc['status']}"
            tiers[key] = tiers.get(key, 0) + 1
        print(f"results by tier/status: {tiers}")
        example = next(iter(results), None)
    finally:
        if we_started:
            stack("down")
    print(f"demo finished in {time.monotonic() - started:.0f}s")
    print_next_steps(example, stopped=we_started)


def print_next_steps(request_id: str | None, *, stopped: bool) -> None:
    """Where an operator looks next (README "Day two", docs/operations.md)."""
    rid = request_id or "<request_id>"
    print(
        textwrap.dedent(
            f"""
            where to look next:
              logs          .cairn/stack/logs/<service>.log  (make logs)
              metrics       http://127.0.0.1:9101/metrics (summarizer), :9102 (rewriter),
                            :9103 (emoji); /healthz and /readyz on the same ports
              dashboards    infra/monitoring/grafana/cairn-<service>.json (Grafana import),
                            alerts in infra/monitoring/rules/ (make check-monitoring)
              dead letters  .venv/bin/cairn dlq list   (then: dlq show P:OFFSET, dlq replay)
              one request   .venv/bin/cairn results show demo-tenant {rid}
            """
        ).rstrip()
    )
    if stopped:
        print("  the demo stopped the stack it started: `make up` keeps one running for these")


if __name__ == "__main__":
    main()
