"""Scenario 6: what a real PostgreSQL throws during restarts, failovers and exhaustion.

A private server (tests/support/pg_cluster.py; the shared one is never touched) is put
through each fault for a few seconds while a stream of good events flows through the real
Kafka runtime (the echo service, in-process):
- restart: `pg_ctl stop -m fast` (sessions end with 57P01, then connections are refused),
  then start;
- recovery: restarted as a standby with hot_standby off, so every connection is refused with
  57P03 (cannot_connect_now, "the database system is not accepting connections"), then
  `pg_ctl promote`, the failover;
- standby: restarted as a hot standby, reads work and every write fails with 25006
  (read_only_sql_transaction), then promoted;
- read-only: `ALTER SYSTEM SET default_transaction_read_only = on` and a reload, a fenced
  primary: 25006 on every write from the open pooled connections;
- connections: the application role's connection limit set to 0 and its sessions ended:
  every reconnect fails with 53300 (too_many_connections).
Each must end with every event stored once and published, nothing dead-lettered, nothing
recomputed, and the runtime's retries must have met the fault's own SQLSTATE.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from shared.config import KafkaSettings
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.reliability.conftest import (
    Load,
    Tally,
    counting_echo,
    echo_event,
    echo_runtime,
    wait_stored,
)
from tests.support.pg_cluster import PgCluster, private_cluster
from tests.support.runs import Runs

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.postgres]

EVENTS = 400
RATE_PER_S = 40.0  # arrivals over 10 s
FAULT_AT_S = 3.0
FAULT_S = 5.0
MAX_IN_FLIGHT = 32

Fault = Callable[[PgCluster], Awaitable[None]]


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PgCluster]:
    yield from private_cluster()


async def restart_begin(pg: PgCluster) -> None:
    await asyncio.to_thread(pg.stop, "fast")


async def restart_end(pg: PgCluster) -> None:
    await asyncio.to_thread(pg.start)


async def recovery_begin(pg: PgCluster) -> None:
    await asyncio.to_thread(pg.restart_as_standby, hot_standby=False)


async def standby_begin(pg: PgCluster) -> None:
    await asyncio.to_thread(pg.restart_as_standby, hot_standby=True)


async def promote(pg: PgCluster) -> None:
    await asyncio.to_thread(pg.promote)


async def read_only_begin(pg: PgCluster) -> None:
    await pg.set_read_only(True)


async def read_only_end(pg: PgCluster) -> None:
    await pg.set_read_only(False)


async def connections_begin(pg: PgCluster) -> None:
    await pg.limit_role_connections(0)
    await pg.terminate_app_sessions()


async def connections_end(pg: PgCluster) -> None:
    await pg.limit_role_connections(-1)


# scenario: (begin, end, what the retries must have met: any of these in their messages)
SCENARIOS: dict[str, tuple[Fault, Fault, tuple[str, ...]]] = {
    "restart": (restart_begin, restart_end, ("57P01", "Connect call failed", "refused")),
    "recovery": (recovery_begin, promote, ("SQLSTATE 57P03",)),
    "standby": (standby_begin, promote, ("SQLSTATE 25006",)),
    "read-only": (read_only_begin, read_only_end, ("SQLSTATE 25006",)),
    "connections": (connections_begin, connections_end, ("SQLSTATE 53300",)),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_database_fault_loses_and_dead_letters_nothing(
    scenario: str,
    private_pg: PgCluster,
    kafka_bootstrap: str,
    topic: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    begin, end, expected = SCENARIOS[scenario]
    caplog.set_level(logging.WARNING, logger="shared.messaging.retry")
    url = await private_pg.create_database()
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PARTITIONS=4)
    handler = counting_echo()
    runtime = echo_runtime(
        kafka,
        topic,
        url,
        tmp_path,
        handler=handler,
        CAIRN_MAX_IN_FLIGHT=MAX_IN_FLIGHT,
        CAIRN_FETCH_MAX_RECORDS=16,
        CAIRN_RETRY_MAX_S=1.0,
    )
    load = Load(kafka_bootstrap, topic)
    events = [echo_event(i, delay_ms=5) for i in range(EVENTS)]
    await runtime.start()
    direct = create_engine(url)  # the test's view, read only when the server is back
    started = time.monotonic()
    try:
        producing = asyncio.create_task(load.run(events, rate_per_s=RATE_PER_S))
        await asyncio.sleep(FAULT_AT_S)
        await begin(private_pg)
        fault_started = time.monotonic()
        while time.monotonic() - fault_started < FAULT_S:
            assert runtime.ready(), "the consumer loop died during the fault"
            await asyncio.sleep(0.1)
        await end(private_pg)
        healed_at = time.monotonic()
        await producing
        await wait_stored(ResultRepository(direct), load.sent, timeout_s=120, what=scenario)
        recovered_s = time.monotonic() - healed_at
        await asyncio.sleep(0.5)  # a commit interval
    finally:
        await runtime.stop()
        await direct.dispose()

    retries = [r.getMessage() for r in caplog.records if r.name == "shared.messaging.retry"]
    met = sorted({code for code in expected for m in retries if code in m})
    tally = await Tally.collect(kafka_bootstrap, topic, url, load.sent, Runs.of(handler))
    tally.report(
        f"database-{scenario}",
        fault_s=FAULT_S,
        db_retries=len(retries),
        met=met,
        all_stored_s_after_fault=f"{recovered_s:.1f}",
        total_s=f"{time.monotonic() - started:.1f}",
    )
    tally.assert_nothing_lost(dlq=0)
    assert tally.recomputed == 0, "results wait for the database; the handler never reruns"
    assert retries, "database calls were retried during the fault"
    assert met, f"the retries met {expected}: {retries[:3]}"
