"""Scenario 4: poison messages mixed into a stream of good ones.

Five kinds (random bytes, invalid JSON, schema-invalid, oversized, valid but the handler fails
permanently), 12 of each among 1,200 good events. Each poison record ends up on the DLQ with
the reason of its kind; every good event is stored and published; nothing else is dead-lettered.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest

from shared.config import KafkaSettings
from shared.messaging import dlq
from tests.reliability.conftest import (
    Load,
    Tally,
    counting_echo,
    echo_event,
    echo_runtime,
    read_topic,
)
from tests.support.runs import Runs

pytestmark = [pytest.mark.slow, pytest.mark.kafka]

GOOD = 1200
PER_KIND = 12


def poison(kind: str, rng: random.Random, i: int) -> bytes:
    if kind == "random-bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == "invalid-json":
        return b'{"request_id": "p-%d", "payload": {"text": ' % i
    event = echo_event(10_000 + i)
    if kind == "schema-invalid":
        event["payload"]["colour"] = "red"
        del event["tenant_id"]
    elif kind == "oversized":
        event["payload"]["text"] = "x" * 300_000
    elif kind == "handler-permanent":
        event["payload"]["fail"] = "permanent"
    return json.dumps(event).encode()


def same_keys_as_good_events(ev: dict[str, object] | bytes) -> bytes:
    # Poison shares keys (so lanes) with good events: nothing queued behind it may stall.
    if isinstance(ev, bytes):
        return f"user-{zlib.crc32(ev) % 17}".encode()
    return str(ev["user_id"]).encode()


EXPECTED_REASON = {
    "random-bytes": ("not UTF-8", "Invalid JSON"),
    "invalid-json": ("Invalid JSON",),
    "schema-invalid": ("tenant_id: Field required",),
    "oversized": ("over the 262144-byte limit",),
    "handler-permanent": ("echo told to fail permanently",),
}


async def test_poison_is_isolated_and_the_rest_flows(
    kafka_bootstrap: str, pg_url: str, topic: str, tmp_path: Path
) -> None:
    rng = random.Random(4)
    good = [echo_event(i, delay_ms=2) for i in range(GOOD)]
    bad = {
        poison(kind, rng, n * 100 + j): kind
        for n, kind in enumerate(EXPECTED_REASON)
        for j in range(PER_KIND)
    }
    assert len(bad) == PER_KIND * len(EXPECTED_REASON), "each poison record is distinct"
    stream: list[dict[str, object] | bytes] = [*good, *bad]
    rng.shuffle(stream)

    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PARTITIONS=4)
    handler = counting_echo()
    runtime = echo_runtime(kafka, topic, pg_url, tmp_path, handler=handler)
    await runtime.start()
    load = Load(kafka_bootstrap, topic)
    started = time.monotonic()
    try:
        await load.run(stream, rate_per_s=2000, key=same_keys_as_good_events)
        deadline = time.monotonic() + 120
        while runtime.processed < len(stream) and time.monotonic() < deadline:
            assert runtime.ready(), "the consumer loop died"
            await asyncio.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        await runtime.stop()

    tally = await Tally.collect(kafka_bootstrap, topic, pg_url, load.sent, Runs.of(handler))
    dead = await read_topic(kafka_bootstrap, f"{topic}.dlq")
    kinds = Counter(bad[r.value] for r in dead if r.value in bad)
    tally.report("poison", poison=len(bad), seconds=f"{elapsed:.1f}", by_kind=dict(kinds))

    # `sent` counts the good events only (poison goes out as raw bytes).
    tally.assert_nothing_lost(dlq=len(bad))
    assert tally.recomputed == 0, "no crash, no retry: each good event ran its handler once"
    assert kinds == dict.fromkeys(EXPECTED_REASON, PER_KIND)
    for r in dead:
        reason = dict(r.headers)[dlq.ERROR_MESSAGE].decode()
        assert any(s in reason for s in EXPECTED_REASON[bad[r.value]]), (bad[r.value], reason)
        assert dict(r.headers)[dlq.SOURCE_TOPIC].decode() == topic
