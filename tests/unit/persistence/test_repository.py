"""The idempotent save and retention purge, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from shared.persistence.engine import create_engine
from shared.persistence.repository import NewResult, ResultRepository, sha256_text


def _result(request_id: str, text: str = "first", subject: str | None = None) -> NewResult:
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
        prompt_tokens=3,
        completion_tokens=4,
        cost_usd=0.0,
        input_sha256=sha256_text(text),
        output={"request_id": request_id, "result": {"text": text}},
        occurred_at=datetime.now(UTC),
        subject_key=subject,
    )


async def test_second_save_changes_nothing_and_reports_it(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    try:
        first = await repo.save(_result("r-1", "first"))
        second = await repo.save(_result("r-1", "second"))
        assert first.inserted is True
        assert second.inserted is False
        assert second.output["result"]["text"] == "first"
        assert await repo.get_output("r-1") == first.output
        assert await repo.count() == 1
    finally:
        await engine.dispose()


async def test_concurrent_saves_of_one_request_store_it_once(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    try:
        outcomes = await asyncio.gather(*(repo.save(_result("r-race", f"v{i}")) for i in range(8)))
        assert sum(o.inserted for o in outcomes) == 1
        assert len({o.output["result"]["text"] for o in outcomes}) == 1
        assert await repo.count() == 1
    finally:
        await engine.dispose()


async def test_latest_output_by_subject_and_purge(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    try:
        await repo.save(_result("a", "old", subject="stack-1"))
        await repo.save(_result("b", "new", subject="stack-1"))
        await repo.save(_result("c", "other", subject="stack-2"))
        assert await repo.latest_output("echo", "stack-1") == {"text": "new"}
        assert await repo.latest_output("echo", "missing") is None
        assert await repo.purge_older_than(datetime.now(UTC) - timedelta(days=1)) == 0
        assert await repo.purge_older_than(datetime.now(UTC) + timedelta(minutes=5)) == 3
        assert await repo.count() == 0
    finally:
        await engine.dispose()


async def test_spend_ledger_accumulates(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    day = datetime.now(UTC).date()
    try:
        await repo.add_spend("t", day, 100, 0.5)
        await repo.add_spend("t", day, 50, 0.25)
        assert await repo.spent("t", day) == (150, 0.75)
        assert await repo.spent("other", day) == (0, 0.0)
    finally:
        await engine.dispose()


async def test_sql_budget_store_serves_the_router_protocol(any_database_url: str) -> None:
    from shared.persistence.budget import SqlBudgetStore
    from shared.routing.budget import BudgetStore, Spend

    engine = create_engine(any_database_url)
    store: BudgetStore = SqlBudgetStore(ResultRepository(engine))
    day = datetime.now(UTC).date()
    try:
        await store.add("tenant", day, 10, 0.01)
        await store.add("tenant", day, 5, 0.02)
        assert await store.spent("tenant", day) == Spend(tokens=15, usd=0.03)
    finally:
        await engine.dispose()
