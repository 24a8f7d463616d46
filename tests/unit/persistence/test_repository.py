"""The idempotent save per (tenant, feature, request_id), scoped lookups and retention purge,
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.persistence.engine import create_engine
from shared.persistence.repository import (
    NewResult,
    ResultKey,
    ResultRepository,
    sha256_text,
)


def _result(
    request_id: str,
    text: str = "first",
    subject: str | None = None,
    *,
    tenant: str = "t",
    user: str = "u",
    feature: str = "echo",
    fingerprint: str | None = "default",
) -> NewResult:
    return NewResult(
        request_id=request_id,
        feature=feature,
        tenant_id=tenant,
        user_id=user,
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
        output={"request_id": request_id, "tenant_id": tenant, "result": {"text": text}},
        occurred_at=datetime.now(UTC),
        request_fingerprint=sha256_text(text) if fingerprint == "default" else fingerprint,
        subject_key=subject,
    )


KEY = ResultKey("t", "echo", "r-1")


async def test_second_save_changes_nothing_and_reports_it(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    try:
        first = await repo.save(_result("r-1", "first"))
        again = await repo.save(_result("r-1", "first"))
        assert first.inserted is True and first.conflict is False
        assert again.inserted is False and again.conflict is False
        assert again.output == first.output
        assert await repo.get_output(KEY) == first.output
        assert await repo.count() == 1
    finally:
        await engine.dispose()


async def test_same_key_other_content_is_a_conflict_and_keeps_the_original(
    any_database_url: str,
) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    try:
        first = await repo.save(_result("r-1", "Guten Morgen, Frau Müller."))
        other_text = await repo.save(_result("r-1", "おはようございます"))
        other_user = await repo.save(_result("r-1", "Guten Morgen, Frau Müller.", user="u2"))
        for outcome in (other_text, other_user):
            assert outcome.inserted is False and outcome.conflict is True
            assert outcome.output == {}, "the stored answer is not handed back"
        stored = await repo.find(KEY)
        assert stored is not None
        assert stored.output == first.output
        assert stored.output["result"]["text"] == "Guten Morgen, Frau Müller."
        assert stored.request_fingerprint == sha256_text("Guten Morgen, Frau Müller.")
        assert await repo.count() == 1
    finally:
        await engine.dispose()


async def test_unknown_fingerprint_answers_its_own_user_only(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    try:
        await repo.save(_result("r-1", "first", fingerprint=None))
        stored = await repo.find(KEY)
        assert stored is not None and stored.request_fingerprint is None
        assert stored.answers("u", sha256_text("anything"))
        assert not stored.answers("u2", sha256_text("first"))
        replay = await repo.save(_result("r-1", "second"))
        assert replay.conflict is False and replay.output["result"]["text"] == "first"
        assert (await repo.save(_result("r-1", "first", user="u2"))).conflict is True
    finally:
        await engine.dispose()


# Near-duplicates: case, a trailing space, a look-alike digit. None may merge with another.
NEAR_IDS = ["req-1", "REQ-1", "Req-1", "req-1 ", "req-l", "req-1."]


async def test_keys_are_scoped_by_tenant_and_feature_and_never_normalised(
    any_database_url: str,
) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    texts = {
        ("tenant-a", "rewrite"): "Die Besprechung ist am Montag.",
        ("tenant-b", "rewrite"): "会議は月曜日です。",
        ("tenant-a", "emoji"): "eine Katze mit Sonnenbrille",
        ("TENANT-A", "rewrite"): "La réunion est lundi.",
    }
    try:
        for (tenant, feature), text in texts.items():
            for request_id in NEAR_IDS:
                saved = await repo.save(
                    _result(request_id, f"{text} {request_id}", tenant=tenant, feature=feature)
                )
                assert saved.inserted, (tenant, feature, request_id)
        assert await repo.count() == len(texts) * len(NEAR_IDS)
        for (tenant, feature), text in texts.items():
            for request_id in NEAR_IDS:
                got = await repo.get_output(ResultKey(tenant, feature, request_id))
                assert got is not None
                assert got["result"]["text"] == f"{text} {request_id}"
                assert got["tenant_id"] == tenant
        assert await repo.get_output(ResultKey("tenant-c", "rewrite", "req-1")) is None
        assert await repo.get_output(ResultKey("tenant-a", "summarize", "req-1")) is None
    finally:
        await engine.dispose()


@pytest.mark.parametrize("same_content", [True, False])
async def test_racing_saves_under_one_key_store_one_row(
    any_database_url: str, same_content: bool
) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    try:
        texts = ["same"] * 6 if same_content else [f"v{i}" for i in range(6)]
        outcomes = await asyncio.gather(*(repo.save(_result("r-1", t)) for t in texts))
        assert sum(o.inserted for o in outcomes) == 1
        winner = next(o for o in outcomes if o.inserted)
        losers = [o for o in outcomes if not o.inserted]
        assert all(o.conflict is (not same_content) for o in losers)
        assert all(o.output == winner.output for o in losers if not o.conflict)
        assert await repo.get_output(KEY) == winner.output
        assert await repo.count() == 1
    finally:
        await engine.dispose()


async def test_concurrent_saves_of_one_request_store_it_once(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    try:
        outcomes = await asyncio.gather(*(repo.save(_result("r-race", "v")) for i in range(8)))
        assert sum(o.inserted for o in outcomes) == 1
        assert not any(o.conflict for o in outcomes)
        assert len({o.output["result"]["text"] for o in outcomes}) == 1
        assert await repo.count() == 1
    finally:
        await engine.dispose()


async def test_latest_output_by_tenant_user_subject_and_purge(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)

    async def latest(subject: str, tenant: str = "t", user: str = "u") -> object:
        return await repo.latest_output("echo", tenant_id=tenant, user_id=user, subject_key=subject)

    try:
        await repo.save(_result("a", "old", subject="stack-1"))
        await repo.save(_result("b", "new", subject="stack-1"))
        await repo.save(_result("c", "other", subject="stack-2"))
        # Same stack id, newer, from another tenant and from another user of the tenant.
        await repo.save(_result("d", "Nachbar", subject="stack-1", tenant="t2"))
        await repo.save(_result("e", "隣人", subject="stack-1", user="u2"))
        assert await latest("stack-1") == {"text": "new"}
        assert await latest("stack-1", tenant="t2") == {"text": "Nachbar"}
        assert await latest("stack-1", user="u2") == {"text": "隣人"}
        assert await latest("stack-1", tenant="T") is None
        assert await latest("missing") is None
        assert await repo.purge_older_than(datetime.now(UTC) - timedelta(days=1)) == 0
        assert await repo.purge_older_than(datetime.now(UTC) + timedelta(minutes=5)) == 5
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
