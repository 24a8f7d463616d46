"""Helpers to produce request events and read back results and dead letters."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition


def echo_event(i: int, *, key: str | None = None, **payload: Any) -> dict[str, Any]:
    return {
        "request_id": f"req-{uuid.uuid4().hex[:12]}-{i}",
        "tenant_id": "tenant-a",
        "user_id": key or f"user-{i % 17}",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"text": f"hello {i}", **payload},
    }


async def produce(
    bootstrap: str,
    topic: str,
    events: Iterable[dict[str, Any] | bytes],
    *,
    key_field: str = "user_id",
) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    n = 0
    try:
        futures = []
        for ev in events:
            if isinstance(ev, bytes):
                futures.append(await producer.send(topic, ev, key=b"raw"))
            else:
                key = str(ev.get(key_field, "")).encode() or None
                futures.append(await producer.send(topic, json.dumps(ev).encode(), key=key))
            n += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return n


async def consume_until(
    bootstrap: str,
    topic: str,
    *,
    count: int,
    timeout_s: float = 60.0,
    distinct_by: str | None = "request_id",
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read `topic` from the start until `count` (distinct) records or the timeout."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    seen: set[str] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                for r in recs:
                    records.append(r)
                    if distinct_by and r.value:
                        seen.add(json.loads(r.value).get(distinct_by))
            if (len(seen) if distinct_by else len(records)) >= count:
                break
    finally:
        await consumer.stop()
    return records


async def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """Sum over partitions of the group's committed offsets (= events acknowledged)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        total = 0
        for p in parts:
            off = await consumer.committed(TopicPartition(topic, p))
            total += off or 0
        return total
    finally:
        await consumer.stop()
