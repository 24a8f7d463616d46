"""The runtime's promises, against a real Kafka broker and a real database."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from shared.messaging import dlq
from shared.persistence.repository import ResultKey, ResultRepository
from tests.integration.messaging.conftest import StartEcho
from tests.support.echo import EchoHandler
from tests.support.events import committed_total, consume_until, echo_event, produce

pytestmark = pytest.mark.kafka


async def wait_for_rows(repo: ResultRepository, n: int, timeout_s: float = 90) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    count = 0
    while loop.time() < deadline:
        count = await repo.count()
        if count >= n:
            return count
        await asyncio.sleep(0.2)
    return count


async def test_thousand_events_stored_and_published_once(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str, repository: ResultRepository
) -> None:
    runtime = await start_echo()
    events = [echo_event(i) for i in range(1000)]
    await produce(kafka_bootstrap, topic, events)

    assert await wait_for_rows(repository, 1000) == 1000
    results = await consume_until(kafka_bootstrap, f"{topic}.results", count=1000)
    ids = [json.loads(r.value)["request_id"] for r in results if r.value]
    assert set(ids) == {e["request_id"] for e in events}
    assert len(ids) == 1000, "each result published exactly once in a clean run"
    # Keys are kept, so a consumer of results sees one user's results in order.
    assert all(r.key == json.loads(r.value)["user_id"].encode() for r in results if r.value)

    await asyncio.sleep(0.5)  # one commit interval
    await runtime.stop()
    assert await committed_total(kafka_bootstrap, runtime.group_id, topic) == 1000


async def test_redelivered_request_is_republished_not_recomputed(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str, repository: ResultRepository
) -> None:
    handler = EchoHandler()
    await start_echo(handler)
    event = echo_event(1)
    await produce(kafka_bootstrap, topic, [event, event, event])
    results = await consume_until(kafka_bootstrap, f"{topic}.results", count=3, distinct_by=None)
    assert len(results) == 3
    assert handler.attempts[event["request_id"]] == 1
    assert await repository.count() == 1
    assert len({r.value for r in results}) == 1, "the stored result is re-published verbatim"


async def test_bad_events_go_to_dlq_with_reasons_and_the_rest_flows(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str, repository: ResultRepository
) -> None:
    await start_echo()
    good = [echo_event(i) for i in range(5)]
    invalid_schema = echo_event(99)
    invalid_schema["payload"]["unexpected"] = 1
    missing_field = echo_event(98)
    del missing_field["tenant_id"]
    oversized = echo_event(97)
    oversized["payload"]["text"] = "x" * 300_000
    bad: list[dict[str, object] | bytes] = [
        b"\xff\xfe not utf8",
        b"{not json",
        invalid_schema,
        missing_field,
        oversized,
    ]
    await produce(kafka_bootstrap, topic, [*bad, *good])

    dead = await consume_until(kafka_bootstrap, f"{topic}.dlq", count=5, distinct_by=None)
    assert len(dead) == 5
    reasons = [dict(r.headers)[dlq.ERROR_MESSAGE].decode() for r in dead]
    assert any("not UTF-8" in r for r in reasons)
    assert any("Invalid JSON" in r for r in reasons)
    assert any("payload.unexpected" in r and "Extra inputs" in r for r in reasons)
    assert any("tenant_id: Field required" in r for r in reasons)
    assert any("over the 262144-byte limit" in r for r in reasons)
    for r in dead:
        headers = dict(r.headers)
        assert headers[dlq.SOURCE_TOPIC].decode() == topic
        assert headers[dlq.ERROR_TYPE] == b"InvalidEventError"
        assert headers[dlq.SERVICE] == b"echo"
    # The original bytes are kept for replay.
    assert {r.value for r in dead} >= {b"\xff\xfe not utf8", b"{not json"}
    assert await wait_for_rows(repository, 5) == 5


async def test_transient_failures_retry_then_succeed_permanent_go_to_dlq(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str, repository: ResultRepository
) -> None:
    handler = EchoHandler()
    await start_echo(handler, CAIRN_MAX_ATTEMPTS=4)
    flaky = echo_event(1, fail="transient", fail_times=2)
    hopeless = echo_event(2, fail="transient", fail_times=100)
    broken = echo_event(3, fail="permanent")
    await produce(kafka_bootstrap, topic, [flaky, hopeless, broken])

    dead = await consume_until(kafka_bootstrap, f"{topic}.dlq", count=2, distinct_by=None)
    by_attempts = {int(dict(r.headers)[dlq.ATTEMPTS]): dict(r.headers) for r in dead}
    assert set(by_attempts) == {4, 1}
    assert by_attempts[4][dlq.ERROR_TYPE] == b"TransientError"
    assert by_attempts[4][dlq.ERROR_RETRIABLE] == b"true"
    assert by_attempts[1][dlq.ERROR_TYPE] == b"PermanentError"
    assert await wait_for_rows(repository, 1) == 1
    stored = await repository.get_output(ResultKey("tenant-a", "echo", flaky["request_id"]))
    assert stored is not None and stored["result"]["attempts"] == 3
    assert handler.attempts[hopeless["request_id"]] == 4


async def test_two_consumers_share_partitions_and_rebalance_loses_nothing(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str, repository: ResultRepository
) -> None:
    first = await start_echo()
    events = [echo_event(i, delay_ms=5) for i in range(600)]
    await produce(kafka_bootstrap, topic, events[:300])
    await wait_for_rows(repository, 50)
    second = await start_echo()  # joins mid-stream: the group rebalances
    await produce(kafka_bootstrap, topic, events[300:])

    assert await wait_for_rows(repository, 600) == 600
    stored = await repository.request_ids("echo")
    assert Counter(stored) == Counter(e["request_id"] for e in events)
    assert first.processed > 0 and second.processed > 0, "both members did work"
