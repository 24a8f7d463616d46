"""Scenario 2: the database unreachable for 10 s in the middle of a run.

Two variants: the echo service in-process (its loop state and metrics inspected) and the
real rewriter on SmolLM2 as a worker process, with its handler runs counted: a result that
waits for the database is written when it is back, never recomputed.

PostgreSQL is reached through a TCP proxy on 127.0.0.1 that the test cuts: open connections are
aborted and new ones refused (the listening socket is closed), as when a database fails over.
Meanwhile events keep arriving. The runtime must retry its reads and writes with backoff
(`DatabaseUnavailable` is transient), fill its in-flight budget and pause fetching, then resume
and catch up when the database is back, without dead-lettering or losing any event.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.engine import make_url

from shared.config import KafkaSettings
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.reliability.conftest import (
    Load,
    Tally,
    counting_echo,
    echo_event,
    echo_runtime,
    log_tail,
    rewrite_event,
    stop_worker,
    wait_stored,
    with_port,
)
from tests.support.runs import Runs
from tests.support.workers import REWRITER_WORKER, SMOLLM2_REWRITER_ENV, spawn_worker

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.postgres]

EVENTS = 1200
RATE_PER_S = 40.0
CUT_AT_S = 6.0
OUTAGE_S = 10.0
MAX_IN_FLIGHT = 32


class CuttableProxy:
    """A TCP relay to one upstream that can be cut (abort all, refuse new) and restored."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.accepted = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()  # the port now refuses connections
        for client, upstream in list(self._pairs):
            client.transport.abort()  # RST, not a polite FIN: like a dead host or network
            upstream.transport.abort()
        self._pairs.clear()
        self._server = None

    async def restore(self) -> None:
        await self.start()  # same port (asyncio sets SO_REUSEADDR)

    async def close(self) -> None:
        if self._server is not None:
            await self.cut()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
                self._tasks.discard(task)
            self._pairs.discard(pair)
            writer.transport.abort()
            up_writer.transport.abort()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_database_outage_pauses_retries_and_resumes(
    kafka_bootstrap: str, pg_url: str, topic: str, tmp_path: Path
) -> None:
    target = make_url(pg_url)
    proxy = CuttableProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PARTITIONS=4)
    handler = counting_echo()
    runtime = echo_runtime(
        kafka,
        topic,
        with_port(pg_url, proxy.port),
        tmp_path,
        handler=handler,
        CAIRN_MAX_IN_FLIGHT=MAX_IN_FLIGHT,
        CAIRN_FETCH_MAX_RECORDS=16,
        CAIRN_RETRY_MAX_S=1.0,
    )
    direct = create_engine(pg_url)  # the test's own view of the database, around the proxy
    repo = ResultRepository(direct)
    retries_before = {
        stage: metric("cairn_retries_total", service="echo", stage=stage)
        for stage in ("db-read", "db-write")
    }
    events = [echo_event(i, delay_ms=5) for i in range(EVENTS)]
    load = Load(kafka_bootstrap, topic)
    paused_seen = False
    max_in_flight = 0
    await runtime.start()
    try:
        producing = asyncio.create_task(load.run(events, rate_per_s=RATE_PER_S))
        await asyncio.sleep(CUT_AT_S)
        await proxy.cut()
        cut_at = time.monotonic()
        await asyncio.sleep(1.0)  # writes that were committed just before the cut land
        stored_at_cut = await repo.count()
        while time.monotonic() - cut_at < OUTAGE_S:
            assert runtime.ready(), "the consumer loop died while the database was away"
            paused_seen |= metric("cairn_partitions_paused", service="echo") == 1.0
            max_in_flight = max(max_in_flight, int(metric("cairn_in_flight", service="echo")))
            await asyncio.sleep(0.1)
        stored_before_restore = await repo.count()
        await proxy.restore()
        restored_at = time.monotonic()
        await producing
        catch_up_s = await wait_stored(repo, load.sent, timeout_s=150, what="after the outage")
        recovered_s = time.monotonic() - restored_at
        resumed = metric("cairn_partitions_paused", service="echo") == 0.0
    finally:
        await runtime.stop()
        await proxy.close()
        await direct.dispose()

    retries = {
        stage: int(metric("cairn_retries_total", service="echo", stage=stage) - before)
        for stage, before in retries_before.items()
    }
    tally = await Tally.collect(kafka_bootstrap, topic, pg_url, load.sent, Runs.of(handler))
    tally.report(
        "database-outage",
        outage_s=OUTAGE_S,
        stored_during_outage=stored_before_restore - stored_at_cut,
        db_retries=retries,
        paused=paused_seen,
        max_in_flight=max_in_flight,
        all_stored_s_after_restore=f"{recovered_s:.1f}",
        wait_s=f"{catch_up_s:.1f}",
    )
    tally.assert_nothing_lost()
    # The handler's result waits in memory while its write is retried: never recomputed.
    assert tally.recomputed == 0
    assert stored_before_restore == stored_at_cut, "the cut really stopped every write"
    assert sum(retries.values()) > 0, "database calls were retried, not given up"
    assert paused_seen, "fetching paused once the in-flight budget filled"
    assert resumed, "and resumed after the backlog drained"


# -- the real rewriter on SmolLM2, as a worker process --------------------------------------

REWRITER_EVENTS = 24  # a SmolLM2 batch takes seconds on 2 cores: a small, honest load
REWRITER_RATE_PER_S = 0.5
REWRITER_CUT_AT_S = 8.0
REWRITER_IN_FLIGHT = 4  # one micro-batch of four


async def test_database_outage_under_the_rewriter(
    kafka_bootstrap: str, pg_url: str, topic: str, tmp_path: Path
) -> None:
    target = make_url(pg_url)
    proxy = CuttableProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    log, runs = tmp_path / "worker.log", tmp_path / "runs.txt"
    worker = spawn_worker(
        topic,
        kafka_bootstrap,
        with_port(pg_url, proxy.port),
        log,
        runs=runs,
        module=REWRITER_WORKER,
        **{
            **SMOLLM2_REWRITER_ENV,
            "INFERENCE_MAX_BATCH_SIZE": str(REWRITER_IN_FLIGHT),
            "CAIRN_MAX_IN_FLIGHT": str(REWRITER_IN_FLIGHT),
            "CAIRN_FETCH_MAX_RECORDS": str(REWRITER_IN_FLIGHT),
            "CAIRN_RETRY_MAX_S": "1.0",
        },
    )
    direct = create_engine(pg_url)
    repo = ResultRepository(direct)
    load = Load(kafka_bootstrap, topic)
    events = [rewrite_event(i) for i in range(REWRITER_EVENTS)]
    started = time.monotonic()
    try:
        deadline = time.monotonic() + 180
        while "rewriter ready" not in log_tail(log, 100_000):
            assert worker.poll() is None and time.monotonic() < deadline, log_tail(log)
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)  # partitions assigned
        producing = asyncio.create_task(
            load.run(events, rate_per_s=REWRITER_RATE_PER_S, deadline_s=300)
        )
        await asyncio.sleep(REWRITER_CUT_AT_S)
        await proxy.cut()
        await asyncio.sleep(1.0)
        stored_at_cut = await repo.count()
        await asyncio.sleep(OUTAGE_S - 1.0)
        stored_before_restore = await repo.count()
        await proxy.restore()
        restored_at = time.monotonic()
        await producing
        try:
            await wait_stored(repo, load.sent, timeout_s=300, what="rewriter after the outage")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log_tail(log)}") from exc
        recovered_s = time.monotonic() - restored_at
        await asyncio.sleep(0.5)
    finally:
        code = await asyncio.to_thread(stop_worker, worker)
        await proxy.close()
        await direct.dispose()

    retried = [
        line
        for line in log_tail(log, 10_000_000).splitlines()
        if "db-write failed" in line or "db-read failed" in line
    ]
    tally = await Tally.collect(kafka_bootstrap, topic, pg_url, load.sent, Runs.read([runs]))
    tally.report(
        "database-outage-rewriter",
        outage_s=OUTAGE_S,
        stored_during_outage=stored_before_restore - stored_at_cut,
        db_retries=len(retried),
        all_stored_s_after_restore=f"{recovered_s:.1f}",
        total_s=f"{time.monotonic() - started:.1f}",
    )
    tally.assert_nothing_lost()
    assert code == 0, log_tail(log)
    assert stored_before_restore == stored_at_cut, "the cut really stopped every write"
    assert retried, "the worker retried its database calls"
    assert tally.recomputed == 0, "results waited for the database; none was recomputed"
    assert set(tally.stored) <= set(tally.runs.done)
