"""Real PostgreSQL faults reach the repository as `DatabaseUnavailable` with their SQLSTATE.

A private server (tests/support/pg_cluster.py) is put through what production throws: a
restart, recovery (a standby before promotion), read-only transactions (a fenced primary),
a full connection budget, a serialization failure and a deadlock. Each is met through the
real repository and engine (asyncpg, SQLAlchemy's pool with pre-ping) and must come out as a
transient error carrying the server's own code, then work again once the fault is lifted.
The end-to-end versions, with events flowing through Kafka, are in
tests/reliability/test_database_faults.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from shared.persistence.engine import create_engine
from shared.persistence.errors import DatabaseUnavailable, translate_db_errors
from shared.persistence.repository import NewResult, ResultKey, ResultRepository, sha256_text
from tests.support.pg_cluster import PgCluster, private_cluster

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PgCluster]:
    yield from private_cluster()


@pytest.fixture
async def repo(private_pg: PgCluster) -> AsyncIterator[ResultRepository]:
    url = await private_pg.create_database()
    engine = create_engine(url)
    try:
        yield ResultRepository(engine)
    finally:
        await engine.dispose()


def key(request_id: str) -> ResultKey:
    return ResultKey("t", "echo", request_id)


def result(request_id: str) -> NewResult:
    return NewResult(
        request_id=request_id,
        feature="echo",
        tenant_id="t",
        user_id="u",
        status="ok",
        tier="local",
        model="echo",
        reasons=[],
        verified=True,
        degraded_reason=None,
        latency_ms=1.0,
        prompt_tokens=1,
        completion_tokens=1,
        cost_usd=0.0,
        input_sha256=sha256_text(request_id),
        request_fingerprint=sha256_text(f"t/echo/{request_id}"),
        output={"request_id": request_id},
        occurred_at=datetime.now(UTC),
    )


async def test_read_only_writes_are_transient_25006(
    private_pg: PgCluster, repo: ResultRepository
) -> None:
    await repo.save(result("ro-0"))  # a pooled connection, open before the fault
    await private_pg.set_read_only(True)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await repo.save(result("ro-1"))
        assert caught.value.sqlstate == "25006"
        assert await repo.get_output(key("ro-0")) is not None, "reads still work"
    finally:
        await private_pg.set_read_only(False)
    assert (await repo.save(result("ro-1"))).inserted


async def test_restart_is_transient_then_heals(
    private_pg: PgCluster, repo: ResultRepository
) -> None:
    await repo.save(result("rs-0"))
    await asyncio.to_thread(private_pg.stop, "fast")
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await repo.save(result("rs-1"))
        assert "unavailable" in str(caught.value)
    finally:
        await asyncio.to_thread(private_pg.start)
    assert (await repo.save(result("rs-1"))).inserted, "the pool reconnects by itself"


async def test_recovery_refuses_with_57p03_until_promoted(
    private_pg: PgCluster, repo: ResultRepository
) -> None:
    await asyncio.to_thread(private_pg.restart_as_standby, hot_standby=False)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await repo.get_output(key("any"))
        assert caught.value.sqlstate == "57P03"
    finally:
        await asyncio.to_thread(private_pg.promote)
        await private_pg.wait_accepting()
    assert (await repo.save(result("rc-1"))).inserted


async def test_hot_standby_writes_fail_with_25006_until_promoted(
    private_pg: PgCluster, repo: ResultRepository
) -> None:
    await asyncio.to_thread(private_pg.restart_as_standby, hot_standby=True)
    try:
        assert await repo.get_output(key("any")) is None, "a hot standby serves reads"
        with pytest.raises(DatabaseUnavailable) as caught:
            await repo.save(result("hs-1"))
        assert caught.value.sqlstate == "25006"
    finally:
        await asyncio.to_thread(private_pg.promote)
        await private_pg.wait_accepting()
    assert (await repo.save(result("hs-1"))).inserted


async def test_no_connection_slot_is_transient_53300(
    private_pg: PgCluster, repo: ResultRepository
) -> None:
    await repo.save(result("cx-0"))
    await private_pg.limit_role_connections(0)
    try:
        assert await private_pg.terminate_app_sessions() > 0
        with pytest.raises(DatabaseUnavailable) as caught:
            await repo.save(result("cx-1"))
        assert caught.value.sqlstate == "53300"
    finally:
        await private_pg.limit_role_connections(-1)
    assert (await repo.save(result("cx-1"))).inserted


async def test_serialization_failure_and_deadlock_are_transient(
    repo: ResultRepository,
) -> None:
    engine = repo.engine
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE rows (id int PRIMARY KEY, v int)"))
        await conn.execute(text("INSERT INTO rows VALUES (1, 0), (2, 0)"))

    # 40001: a repeatable-read transaction updates a row another one changed meanwhile.
    async with engine.connect() as a, engine.connect() as b:
        await a.execute(text("BEGIN ISOLATION LEVEL REPEATABLE READ"))
        await a.execute(text("SELECT v FROM rows WHERE id = 1"))
        await b.execute(text("UPDATE rows SET v = v + 1 WHERE id = 1"))
        await b.commit()
        with pytest.raises(DatabaseUnavailable) as caught:
            async with translate_db_errors():
                await a.execute(text("UPDATE rows SET v = v + 1 WHERE id = 1"))
        assert caught.value.sqlstate == "40001"

    # 40P01: two transactions lock the same two rows in opposite orders.
    async with engine.connect() as a, engine.connect() as b:
        await a.execute(text("UPDATE rows SET v = 10 WHERE id = 1"))
        await b.execute(text("UPDATE rows SET v = 20 WHERE id = 2"))

        async def cross(conn: object, row: int) -> None:
            async with translate_db_errors():
                await conn.execute(text(f"UPDATE rows SET v = 30 WHERE id = {row}"))  # type: ignore[attr-defined]

        outcomes = await asyncio.gather(cross(a, 2), cross(b, 1), return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(failed) == 1, outcomes
        assert isinstance(failed[0], DatabaseUnavailable) and failed[0].sqlstate == "40P01"
