"""Scenario 1: a broker of a three-node KRaft cluster lost and restarted under load.

Topics have replication 3 and min.insync.replicas 2, producers use acks=all: with one broker
gone every write still reaches two replicas. Under a steady load, first the broker that
coordinates the service's consumer group is killed with SIGKILL (no controlled shutdown: its
partitions wait for the controller to notice) and restarted; once it is back in sync, another
broker is stopped with SIGTERM (controlled shutdown) and restarted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from infra.stack.kafka import BrokerNode, KafkaCluster, _port_open
from shared.config import KafkaSettings
from shared.messaging.app import ServiceRuntime
from tests.reliability.conftest import (
    Load,
    Tally,
    counting_echo,
    echo_event,
    echo_runtime,
    wait_stored,
)
from tests.support.runs import Runs

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.postgres]

EVENTS = 1800
RATE_PER_S = 40.0  # arrivals over 45 s, spanning both outages
# Long enough for the controller to fence a silent broker (6 s) and for clients to find the
# new leaders and coordinator: the service must make progress before the broker returns.
DOWN_S = 12.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(
        tmp_path_factory.mktemp("kafka3"),
        nodes=3,
        heap_mb=384,
        # Declare a silent broker dead after 6 s instead of 9: leaders move sooner.
        extra_config={"broker.session.timeout.ms": "6000"},
    )
    cluster.start()
    try:
        yield cluster
    finally:
        for node in cluster.nodes:  # throw-away data: no need for controlled shutdowns
            cluster.stop_node(node, kill=True)


def coordinator_node(cluster: KafkaCluster, runtime: ServiceRuntime) -> BrokerNode:
    """The broker coordinating the group: losing it also interrupts commits and heartbeats."""
    consumer = runtime._consumer
    node_id = getattr(getattr(consumer, "_coordinator", None), "coordinator_id", None)
    return next((n for n in cluster.nodes if n.node_id == node_id), cluster.nodes[0])


async def wait_fully_replicated(bootstrap: str, topics: list[str], timeout_s: float) -> float:
    """Until every partition of `topics` has all 3 replicas in sync again; returns seconds."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout_s:
            described = await admin.describe_topics(topics)
            isr = [len(p["isr"]) for t in described for p in t["partitions"]]
            if isr and min(isr) == 3:
                return time.monotonic() - started
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    raise AssertionError(f"replicas of {topics} not back in sync after {timeout_s}s")


async def restart(cluster: KafkaCluster, node: BrokerNode) -> None:
    cluster.start_node(node)
    for _ in range(300):
        if _port_open(node.port):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"broker {node.node_id} did not come back")


async def test_broker_killed_and_restarted_under_load(
    cluster: KafkaCluster, pg_url: str, topic: str, tmp_path: Path
) -> None:
    kafka = KafkaSettings(
        KAFKA_BOOTSTRAP_SERVERS=cluster.bootstrap,
        KAFKA_TOPIC_REPLICATION=3,
        KAFKA_TOPIC_PARTITIONS=6,
    )
    handler = counting_echo()
    runtime = echo_runtime(kafka, topic, pg_url, tmp_path, handler=handler)
    load = Load(cluster.bootstrap, topic)
    events = [echo_event(i, delay_ms=5) for i in range(EVENTS)]
    topics = [topic, f"{topic}.results", f"{topic}.dlq"]
    timeline: list[str] = []
    stored_while_down: list[int] = []
    started = time.monotonic()

    def mark(what: str) -> None:
        timeline.append(f"{time.monotonic() - started:.1f}s {what}")

    await runtime.start()
    repo = runtime.repository
    assert repo is not None
    try:
        producing = asyncio.create_task(load.run(events, rate_per_s=RATE_PER_S))
        await asyncio.sleep(5)

        victim = coordinator_node(cluster, runtime)
        cluster.stop_node(victim, kill=True)
        mark(f"SIGKILL broker {victim.node_id} (group coordinator)")
        before = await repo.count()
        await asyncio.sleep(DOWN_S)
        stored_while_down.append(await repo.count() - before)
        await restart(cluster, victim)
        mark(f"broker {victim.node_id} restarted")
        resync_s = await wait_fully_replicated(cluster.bootstrap, topics, timeout_s=90)
        mark(f"all replicas in sync ({resync_s:.1f}s)")

        second = next(n for n in cluster.nodes if n is not victim)
        await asyncio.to_thread(cluster.stop_node, second, kill=False)
        mark(f"SIGTERM broker {second.node_id}")
        before = await repo.count()
        await asyncio.sleep(DOWN_S)
        stored_while_down.append(await repo.count() - before)
        await restart(cluster, second)
        mark(f"broker {second.node_id} restarted")

        await producing
        mark("all events acknowledged")
        await wait_stored(repo, load.sent, timeout_s=120, what="broker loss")
        mark("all events stored")
        await asyncio.sleep(1)  # a commit interval, so the last results are flushed
    finally:
        await runtime.stop()

    tally = await Tally.collect(cluster.bootstrap, topic, pg_url, load.sent, Runs.of(handler))
    tally.report(
        "broker-loss",
        producer_retries=load.failures,
        stored_while_a_broker_was_down=stored_while_down,
        total_s=f"{time.monotonic() - started:.1f}",
        timeline=timeline,
    )
    tally.assert_nothing_lost()
    # Replication 3 / min ISR 2: the service kept working through each outage, not just after.
    assert len(stored_while_down) == 2 and min(stored_while_down) > 0
