"""/healthz and /readyz over real HTTP, against a running runtime on the real broker."""

from __future__ import annotations

import asyncio
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.structs import TopicPartition

from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.messaging.app import ServiceRuntime
from shared.messaging.topics import ensure_topics
from tests.integration.messaging.conftest import StartEcho, echo_spec, runtime_settings
from tests.support.echo import EchoHandler
from tests.support.events import echo_event, produce
from tests.support.probes import check, probe, wait_probe

pytestmark = pytest.mark.kafka


def port(runtime: ServiceRuntime) -> int:
    assert runtime.health is not None
    return runtime.health.port


async def create_topics(bootstrap: str, topic: str, partitions: int) -> None:
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap, KAFKA_TOPIC_PARTITIONS=partitions)
    await ensure_topics(kafka, [topic, f"{topic}.results", f"{topic}.dlq"])


class HoldRevocation(ConsumerRebalanceListener):  # type: ignore[misc]
    """A group member that does not let go of its partitions until told: a rebalance
    cannot complete, so a newcomer gets no assignment meanwhile."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.assigned = asyncio.Event()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            await self.release.wait()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if assigned:
            self.assigned.set()


async def poll(consumer: AIOKafkaConsumer) -> None:
    while True:
        await consumer.getmany(timeout_ms=200)


async def test_not_ready_before_assignment_ready_after(
    kafka_bootstrap: str, database_url: str, topic: str, tmp_path: Path
) -> None:
    await create_topics(kafka_bootstrap, topic, 4)
    holder_listener = HoldRevocation()
    holder = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=f"group-{topic}", enable_auto_commit=False
    )
    holder.subscribe([topic], listener=holder_listener)
    await asyncio.wait_for(holder.start(), 30)
    poller = asyncio.create_task(poll(holder))
    runtime = ServiceRuntime(
        echo_spec(topic),
        core=CoreSettings(CAIRN_STATE_DIR=str(tmp_path)),
        kafka=KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap),
        runtime=runtime_settings(topic),
        database=DatabaseSettings(DATABASE_URL=database_url),
        handler=EchoHandler(),
    )
    # Joining the group is part of start-up: it waits on the holder's rebalance.
    starter = asyncio.create_task(runtime.start())
    try:
        await asyncio.wait_for(holder_listener.assigned.wait(), 30)
        for _ in range(100):
            if runtime._consumer is not None:
                break
            await asyncio.sleep(0.05)
        assert runtime._consumer is not None, "the runtime got as far as joining the group"
        for _ in range(10):
            status, body = await probe(port(runtime), "/readyz")
            assert status == 503, body
            assert body["status"] == "fail"
            assert check(body, "lifespan")["ok"] and check(body, "broker")["ok"], body
            assert not check(body, "assignment")["ok"]
            await asyncio.sleep(0.2)
        status, body = await probe(port(runtime), "/healthz")
        assert status == 200, "waiting for an assignment is alive"
        assert not starter.done()

        holder_listener.release.set()
        await asyncio.wait_for(starter, 60)
        status, body = await wait_probe(port(runtime), "/readyz", lambda s, _: s == 200)
        assert status == 200, body
        assert body["status"] == "ok" and all(c["ok"] for c in body["checks"])
        assert check(body, "assignment")["detail"].endswith("partitions")
        assert runtime._loop is not None and runtime._loop.assigned
    finally:
        holder_listener.release.set()
        poller.cancel()
        await asyncio.wait_for(holder.stop(), 30)
        if not starter.done():
            starter.cancel()
        await asyncio.wait_for(runtime.stop(), 30)


async def test_a_replica_beyond_the_partition_count_is_ready_as_standby(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str
) -> None:
    await create_topics(kafka_bootstrap, topic, 1)
    first, second = await start_echo(), await start_echo()

    def settled(status: int, body: dict[str, Any]) -> bool:
        return status == 200

    answers = [await wait_probe(port(r), "/readyz", settled) for r in (first, second)]
    assert [s for s, _ in answers] == [200, 200], answers
    details = sorted(check(b, "assignment")["detail"] for _, b in answers)
    assert details == ["0 partitions: standby member of the group", "1 partitions"]
    for r in (first, second):
        assert (await probe(port(r), "/healthz"))[0] == 200


async def test_alive_when_idle_or_paused_not_alive_when_the_loop_is_wedged(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str
) -> None:
    runtime = await start_echo(CAIRN_LIVENESS_STALL_S=1.0, CAIRN_MAX_IN_FLIGHT=1)
    await wait_probe(port(runtime), "/readyz", lambda s, _: s == 200)
    await asyncio.sleep(2.5)  # idle on an empty topic for more than the window
    status, body = await probe(port(runtime), "/healthz")
    assert status == 200, body

    # Paused for backpressure (one slow event in flight, the bound is 1) for over the window.
    await produce(kafka_bootstrap, topic, [echo_event(i, key="u", delay_ms=1500) for i in range(3)])
    assert runtime._loop is not None
    for _ in range(100):
        if runtime._loop._paused:
            break
        await asyncio.sleep(0.05)
    assert runtime._loop._paused
    await asyncio.sleep(1.2)
    status, body = await probe(port(runtime), "/healthz")
    assert status == 200, body
    assert runtime._loop._paused, "still paused when probed"

    # Wedged: the next fetch never returns (a hung client).
    assert runtime._consumer is not None
    unwedge = asyncio.Event()
    real_getmany = runtime._consumer.getmany

    async def wedged(*args: Any, **kwargs: Any) -> dict[Any, Any]:
        await unwedge.wait()
        return {}

    runtime._consumer.getmany = wedged  # type: ignore[method-assign]
    try:
        status, body = await wait_probe(port(runtime), "/healthz", lambda s, _: s == 503)
        assert status == 503, body
        assert check(body, "consume_loop")["detail"].startswith("stalled: no iteration for")
        assert (await probe(port(runtime), "/readyz"))[0] == 503
    finally:
        runtime._consumer.getmany = real_getmany  # type: ignore[method-assign]
        unwedge.set()
    status, body = await wait_probe(port(runtime), "/healthz", lambda s, _: s == 200)
    assert status == 200, "alive again once the loop goes round"


async def test_a_dead_loop_is_not_alive(start_echo: StartEcho) -> None:
    runtime = await start_echo()
    await wait_probe(port(runtime), "/readyz", lambda s, _: s == 200)
    assert runtime._consumer is not None
    await runtime._consumer.stop()  # the Kafka client dies under the running loop
    status, body = await wait_probe(port(runtime), "/healthz", lambda s, _: s == 503)
    assert status == 503, body
    assert check(body, "consume_loop")["detail"] == "ended: ConsumerStoppedError"
    status, body = await probe(port(runtime), "/readyz")
    assert status == 503 and not check(body, "consume_loop")["ok"]


async def test_on_shutdown_readiness_drops_first_liveness_holds_then_the_port_closes(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str
) -> None:
    runtime = await start_echo(CAIRN_SHUTDOWN_GRACE_S=10)
    health = port(runtime)
    await wait_probe(health, "/readyz", lambda s, _: s == 200)
    await produce(kafka_bootstrap, topic, [echo_event(1, delay_ms=2500)])
    assert runtime._loop is not None
    for _ in range(200):
        if runtime._loop._in_flight:
            break
        await asyncio.sleep(0.05)
    assert runtime._loop._in_flight == 1
    stopping = asyncio.create_task(runtime.stop())
    await asyncio.sleep(0.3)
    status, body = await probe(health, "/readyz")
    assert status == 503 and check(body, "lifespan")["detail"] == "stopping", body
    status, body = await probe(health, "/healthz")
    assert status == 200 and check(body, "consume_loop")["detail"] == "draining", body
    await stopping
    assert runtime.processed == 1, "the event in hand was finished"
    with pytest.raises(urllib.error.URLError):
        await probe(health, "/healthz", timeout_s=2)
