"""Hypothesis-generated invalid events on a real broker: the consumer keeps going, each one is
dead-lettered with the reason `decode` gives, and the valid events around them are stored."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shared.errors import InvalidEventError
from shared.messaging import dlq
from shared.messaging.codec import decode
from shared.observability.logging import describe_error
from shared.persistence.repository import ResultRepository
from tests.integration.messaging.conftest import StartEcho
from tests.support.echo import EchoRequest
from tests.support.events import echo_event
from tests.unit.messaging.test_fuzz_decode import json_values, mutation, valid_event

pytestmark = pytest.mark.kafka

N_GENERATED = 200


def mutated(mutations: list[tuple[str, str, Any]]) -> bytes:
    event = valid_event()
    for kind, name, value in mutations:
        if kind in ("set", "extra"):
            event[name] = value
        elif kind == "drop":
            event.pop(name, None)
        elif isinstance(event.get("payload"), dict):
            event["payload"][name] = value
    return json.dumps(event).encode()


raw_events = st.one_of(
    st.none(),  # tombstone
    st.binary(max_size=512),
    json_values.map(lambda doc: json.dumps(doc).encode()),
    st.lists(mutation, min_size=1, max_size=3).map(mutated),
)


def generate_invalid_events() -> list[bytes | None]:
    """~200 examples drawn by Hypothesis (generation only: nothing to shrink here), keeping
    those `decode` rejects; a mutation may leave an event valid, and that one is dropped."""
    drawn: list[bytes | None] = []

    @settings(
        max_examples=N_GENERATED,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(raw_events)
    def collect(value: bytes | None) -> None:
        drawn.append(value)

    collect()
    return [v for v in drawn if reason_for(v) is not None]


def reason_for(value: bytes | None) -> str | None:
    try:
        decode(value, EchoRequest)
    except InvalidEventError as exc:
        return describe_error(exc)[: dlq.MAX_MESSAGE_BYTES]
    return None


async def produce_mixed(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes | None]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[ConsumerRecord[bytes, bytes]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    try:
        while len(out) < count and loop.time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(records)
    finally:
        await consumer.stop()
    return out


async def test_generated_invalid_events_all_dead_lettered_valid_ones_stored(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str, repository: ResultRepository
) -> None:
    invalid = generate_invalid_events()
    assert len(invalid) >= 150, "the generator should mostly produce invalid events"
    assert None in invalid or any(v and not v.startswith(b"{") for v in invalid)
    valid = [echo_event(i) for i in range(50)]
    # Interleaved, spread over keys, so bad events sit between good ones in every partition.
    records: list[tuple[bytes, bytes | None]] = []
    pending = list(valid)
    for i, value in enumerate(invalid):
        records.append((f"k{i % 7}".encode(), value))
        if i % 4 == 0 and pending:
            records.append((f"k{i % 7}".encode(), json.dumps(pending.pop()).encode()))
    records.extend((b"k0", json.dumps(ev).encode()) for ev in pending)

    runtime = await start_echo()
    await produce_mixed(kafka_bootstrap, topic, records)
    dead = await read_topic(kafka_bootstrap, f"{topic}.dlq", len(invalid))

    assert runtime.ready(), "the consumer loop is still running"
    assert len(dead) == len(invalid)
    got = Counter((r.value, dict(r.headers)[dlq.ERROR_MESSAGE].decode()) for r in dead)
    assert got == Counter((v, reason_for(v)) for v in invalid), "each with its own reason"
    for r in dead:
        headers = dict(r.headers)
        assert headers[dlq.ERROR_TYPE] == b"InvalidEventError"
        assert headers[dlq.SOURCE_TOPIC].decode() == topic
        assert headers[dlq.ERROR_RETRIABLE] == b"false"
    for _ in range(150):
        if await repository.count() >= len(valid):
            break
        await asyncio.sleep(0.2)
    assert sorted(await repository.request_ids()) == sorted(e["request_id"] for e in valid)
