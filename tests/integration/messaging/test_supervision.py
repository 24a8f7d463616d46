"""Supervised lanes on the real broker and database: failures outside the handler (a
dead-letter write that raises, a store that raises) never kill a lane, never pin a
partition's commits and never lose an event."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

from shared.messaging import dlq
from shared.messaging.app import ServiceRuntime
from shared.messaging.consumer import LaneTaskDied
from shared.observability.metrics import LANE_FAILURES
from shared.persistence.repository import ResultKey, ResultRepository
from tests.integration.messaging.conftest import StartEcho
from tests.support.echo import EchoHandler
from tests.support.events import committed_total, consume_until, echo_event, produce

pytestmark = pytest.mark.kafka


class FlakyDeadLetters:
    """The service's real producer, except that its first `failures` dead-letter writes
    raise an error the runtime does not know as retriable (the broker rejecting the topic,
    say), so they escape the processor."""

    def __init__(self, inner: Any, dlq_topic: str, failures: int) -> None:
        self._inner, self._dlq, self.left = inner, dlq_topic, failures
        self.refused = 0

    async def send_and_wait(self, topic: str, *args: Any, **kwargs: Any) -> Any:
        if topic == self._dlq and self.left > 0:
            self.left -= 1
            self.refused += 1
            raise RuntimeError("dead-letter topic refused the write")
        return await self._inner.send_and_wait(topic, *args, **kwargs)


class FlakyStore:
    """The real repository, except that saving one request raises `failures` times (a bug
    in a store: not retriable, so it escapes to the processor's catch-all)."""

    def __init__(self, inner: ResultRepository, request_id: str, failures: int) -> None:
        self._inner, self._id, self.left = inner, request_id, failures

    def __getattr__(self, name: str) -> Any:  # every other call goes to the real store
        return getattr(self._inner, name)

    async def save(self, new: Any) -> Any:
        if new.request_id == self._id and self.left > 0:
            self.left -= 1
            raise ValueError("store bug")
        return await self._inner.save(new)


def lane_failures(service: str = "echo") -> float:
    return LANE_FAILURES.labels(service)._value.get()


async def wait_committed(bootstrap: str, runtime: ServiceRuntime, topic: str, n: int) -> int:
    committed = 0
    for _ in range(150):
        committed = await committed_total(bootstrap, runtime.group_id, topic)
        if committed >= n:
            break
        await asyncio.sleep(0.2)
    return committed


async def test_failing_dead_letter_writes_are_retried_and_the_partition_keeps_committing(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str, repository: ResultRepository
) -> None:
    handler = EchoHandler()
    # Two invalid events on one key (one lane, in order). Each processing attempt makes two
    # dead-letter writes (the first, then the processor's catch-all), so 6 refusals cost the
    # first event 3 failed attempts: the third reaches CAIRN_LANE_MAX_FAILURES and the
    # last-resort write (the 7th) goes through. The second event's first write succeeds.
    runtime = await start_echo(handler, CAIRN_LANE_MAX_FAILURES=3, CAIRN_MAX_IN_FLIGHT=8)
    assert runtime.processor is not None
    flaky = FlakyDeadLetters(runtime.processor._publisher, f"{topic}.dlq", failures=6)
    runtime.processor._publisher = flaky
    before = lane_failures()

    good = [echo_event(i) for i in range(60)]
    bad: list[dict[str, Any] | bytes] = [b"{not json 1", b"{not json 2"]
    await produce(kafka_bootstrap, topic, [*good[:30], *bad, *good[30:]])
    total = len(good) + len(bad)

    dead = await consume_until(kafka_bootstrap, f"{topic}.dlq", count=2, distinct_by=None)
    results = await consume_until(kafka_bootstrap, f"{topic}.results", count=len(good))
    assert await wait_committed(kafka_bootstrap, runtime, topic, total) == total, (
        "every offset committed: the failing lane did not pin its partition"
    )
    assert runtime.ready(), "the consumer loop is alive"

    assert flaky.refused == 6 and flaky.left == 0
    assert lane_failures() - before == 3
    assert sorted(r.value for r in dead) == sorted(bad), "each dead-lettered exactly once"
    headers = [dict(r.headers) for r in dead]
    assert all(h[dlq.ERROR_TYPE] == b"InvalidEventError" for h in headers), "first cause kept"
    assert sorted(h[dlq.ATTEMPTS] for h in headers) == [b"1", b"3"]
    published = Counter(json.loads(r.value)["request_id"] for r in results if r.value)
    assert set(published) == {e["request_id"] for e in good}
    assert max(handler.attempts.values()) == 1, "no good event was handled twice"
    assert await repository.count() == len(good)


async def test_a_store_that_raises_is_retried_until_it_saves_nothing_lost(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str, repository: ResultRepository
) -> None:
    # A store error is not retriable, so the processor dead-letters the event. When that
    # dead-letter write fails too the lane retries the whole event: the save then succeeds
    # and the event is stored, not dead-lettered.
    runtime = await start_echo(CAIRN_LANE_MAX_FAILURES=10)
    assert runtime.processor is not None and runtime.repository is not None
    victim = echo_event(0)
    runtime.processor._store = FlakyStore(runtime.repository, victim["request_id"], failures=2)
    flaky = FlakyDeadLetters(runtime.processor._publisher, f"{topic}.dlq", failures=2)
    runtime.processor._publisher = flaky
    events = [victim, *(echo_event(i) for i in range(1, 20))]
    await produce(kafka_bootstrap, topic, events)

    await consume_until(kafka_bootstrap, f"{topic}.results", count=len(events))
    assert await wait_committed(kafka_bootstrap, runtime, topic, len(events)) == len(events)
    key = ResultKey(victim["tenant_id"], "echo", victim["request_id"])
    assert await repository.get_output(key) is not None
    assert flaky.refused == 2 and flaky.left == 0
    # Nothing reached the dead-letter topic: every write to it was refused, then the save
    # succeeded on the lane's third try.
    assert await consume_until(kafka_bootstrap, f"{topic}.dlq", count=1, timeout_s=2) == []


async def test_a_lane_task_that_dies_stops_the_loop_loudly(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str
) -> None:
    # A bug in the runtime's own bookkeeping (here: the offset tracker of every partition
    # raises) escapes the lane's supervision. The loop must end with an error (the process
    # then exits 70) rather than leave the offset unfinished forever.
    runtime = await start_echo()
    assert runtime._loop is not None
    for state in runtime._loop._partitions.values():

        def broken(offset: int) -> None:
            raise KeyError("offset bookkeeping bug")

        state.offsets.finished = broken  # type: ignore[method-assign]
    await produce(kafka_bootstrap, topic, [echo_event(1)])
    with pytest.raises(LaneTaskDied, match="KeyError"):
        await asyncio.wait_for(runtime.wait(), 30)
    assert not runtime.ready()
