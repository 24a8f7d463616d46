"""Scenario 5: overload at several times capacity, for a bounded time.

One echo worker process. First its capacity is measured (a burst it drains at full speed);
then events are offered at 4x that rate for 8 s. The consumer-group lag must grow, then drain
to zero; fetching must pause (the in-flight budget is a ceiling, not a queue that grows with
the backlog), and the worker's memory must stay bounded: the backlog waits in Kafka, not in RAM.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from infra.stack.kafka import free_port
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.reliability.conftest import (
    Load,
    Tally,
    echo_event,
    log_tail,
    stop_worker,
    wait_stored,
)
from tests.support.runs import Runs
from tests.support.workers import spawn_worker

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.postgres]

PARTITIONS = 4
KEYS = 8  # at most 8 lanes busy at once: a known, small capacity
MAX_IN_FLIGHT = 32
FETCH_MAX_RECORDS = 16
DELAY_MS = 20
CALIBRATION_EVENTS = 300
OVERLOAD_FACTOR = 4.0
OVERLOAD_S = 8.0
MAX_OVERLOAD_EVENTS = 4000
# An idle echo worker is ~75 MB resident. Bounded means the overload adds little to that:
# fetch buffers and allocator slack; the backlog itself stays in Kafka (the pause shows it).
RSS_BOUND_MB = 200
RSS_GROWTH_BOUND_MB = 60


@dataclass
class Samples:
    rss_mb: list[float] = field(default_factory=list)
    lag: list[int] = field(default_factory=list)
    paused: list[float] = field(default_factory=list)
    in_flight: list[float] = field(default_factory=list)


async def scrape(port: int) -> dict[str, float]:
    """cairn_* gauges from the worker's /metrics endpoint."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        body = (await asyncio.wait_for(reader.read(), 5)).decode()
    finally:
        writer.close()
    found: dict[str, float] = {}
    for name in ("cairn_partitions_paused", "cairn_in_flight"):
        m = re.search(rf'^{name}\{{service="echo"\}} (\S+)$', body, re.M)
        if m:
            found[name] = float(m.group(1))
    return found


class LagProbe:
    """Group lag = end offsets - committed offsets, summed over the input partitions."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self._tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self._group = group
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)

    async def start(self) -> None:
        await self._consumer.start()
        await self._admin.start()

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def lag(self) -> int:
        end = await self._consumer.end_offsets(self._tps)
        committed = await self._admin.list_consumer_group_offsets(self._group)
        return sum(end[tp] - (committed[tp].offset if tp in committed else 0) for tp in self._tps)


async def sample_until(
    stop: asyncio.Event, proc: psutil.Process, port: int, probe: LagProbe, out: Samples
) -> None:
    while not stop.is_set():
        out.rss_mb.append(proc.memory_info().rss / 2**20)
        out.lag.append(await probe.lag())
        gauges = await scrape(port)
        out.paused.append(gauges.get("cairn_partitions_paused", 0.0))
        out.in_flight.append(gauges.get("cairn_in_flight", 0.0))
        await asyncio.sleep(0.25)


async def test_overload_lag_grows_then_drains_memory_bounded(
    kafka_bootstrap: str, pg_url: str, topic: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "worker.log"
    runs = tmp_path / "runs.txt"
    worker = spawn_worker(
        topic,
        kafka_bootstrap,
        pg_url,
        log,
        runs=runs,
        KAFKA_TOPIC_PARTITIONS=str(PARTITIONS),
        CAIRN_HEALTH_PORT=str(port),
        CAIRN_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT),
        CAIRN_FETCH_MAX_RECORDS=str(FETCH_MAX_RECORDS),
    )
    proc = psutil.Process(worker.pid)
    engine = create_engine(pg_url)
    repo = ResultRepository(engine)
    load = Load(kafka_bootstrap, topic)
    probe = LagProbe(kafka_bootstrap, topic, f"group-{topic}")
    samples = Samples()
    stop_sampling = asyncio.Event()
    sampler: asyncio.Task[None] | None = None
    try:
        for _ in range(100):  # up, topics created, partitions assigned
            try:
                await scrape(port)
                break
            except OSError:
                await asyncio.sleep(0.2)
        # Capacity: a burst well beyond the in-flight budget, drained at full speed.
        calibration = [echo_event(i, keys=KEYS, delay_ms=DELAY_MS) for i in range(30)]
        await load.run(calibration, rate_per_s=1000)  # warm-up: connections, JIT-free paths
        await wait_stored(repo, load.sent, timeout_s=60, what="warm-up")
        idle_rss_mb = proc.memory_info().rss / 2**20
        calibration = [
            echo_event(i, keys=KEYS, delay_ms=DELAY_MS) for i in range(CALIBRATION_EVENTS)
        ]
        started = time.monotonic()
        await load.run(calibration, rate_per_s=5000)
        await wait_stored(repo, load.sent, timeout_s=120, what="calibration")
        capacity = CALIBRATION_EVENTS / (time.monotonic() - started)

        await probe.start()
        sampler = asyncio.create_task(sample_until(stop_sampling, proc, port, probe, samples))
        offered_rate = OVERLOAD_FACTOR * capacity
        count = min(MAX_OVERLOAD_EVENTS, int(offered_rate * OVERLOAD_S))
        overload = [echo_event(i, keys=KEYS, delay_ms=DELAY_MS) for i in range(count)]
        started = time.monotonic()
        await load.run(overload, rate_per_s=offered_rate)
        offered_s = time.monotonic() - started
        lag_at_end_of_overload = await probe.lag()
        try:
            await wait_stored(repo, load.sent, timeout_s=180, what="drain")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log_tail(log)}") from exc
        drained_s = time.monotonic() - started
        for _ in range(40):  # the last commit follows the last write within an interval
            if await probe.lag() == 0:
                break
            await asyncio.sleep(0.25)
        final_lag = await probe.lag()
        stop_sampling.set()
        await sampler
    finally:
        stop_sampling.set()
        if sampler is not None and not sampler.done():
            sampler.cancel()
        code = await asyncio.to_thread(stop_worker, worker)
        await probe.stop()
        await engine.dispose()

    tally = await Tally.collect(kafka_bootstrap, topic, pg_url, load.sent, Runs.read([runs]))
    peak_rss = max(samples.rss_mb)
    tally.report(
        "overload",
        capacity_per_s=f"{capacity:.0f}",
        offered_per_s=f"{count / offered_s:.0f}",
        offered_events=count,
        offered_s=f"{offered_s:.1f}",
        peak_lag=max(samples.lag),
        lag_at_end_of_overload=lag_at_end_of_overload,
        final_lag=final_lag,
        drained_s=f"{drained_s:.1f}",
        idle_rss_mb=f"{idle_rss_mb:.0f}",
        peak_rss_mb=f"{peak_rss:.0f}",
        rss_bound_mb=RSS_BOUND_MB,
        paused_samples=f"{samples.paused.count(1.0)}/{len(samples.paused)}",
        max_in_flight=int(max(samples.in_flight)),
        in_flight_budget=MAX_IN_FLIGHT,
    )
    tally.assert_nothing_lost()
    assert code == 0, log_tail(log)
    assert count / offered_s > 2.5 * capacity, "offered well above capacity"
    assert max(samples.lag) > count / 3, "the backlog built up in Kafka"
    assert final_lag == 0, "and drained completely"
    assert samples.paused.count(1.0) >= 4, "backpressure paused fetching"
    # Each fetch asks only for the room left under the budget, so it is never exceeded.
    assert max(samples.in_flight) <= MAX_IN_FLIGHT
    assert peak_rss < RSS_BOUND_MB
    assert peak_rss - idle_rss_mb < RSS_GROWTH_BOUND_MB
