"""Migration 0002 on SQLite and PostgreSQL: a database holding rows written at 0001 upgrades
with every row kept, the scoped key in force, and back again where that is possible."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.persistence.engine import create_engine
from shared.persistence.migrate import downgrade, upgrade
from shared.persistence.repository import ResultKey, ResultRepository

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

# Rows as a 0001 deployment wrote them: request_id unique on its own.
LEGACY = [
    # (request_id, feature, tenant_id, user_id, subject_key, text)
    ("req-1", "rewrite", "tenant-a", "user-a", None, "Bitte prüfen Sie den Vertrag."),
    ("REQ-1", "emoji", "tenant-b", "user-b", None, "猫がサングラスをかけている"),
    ("stack-req", "summarize", "tenant-a", "user-a", "stack-1", "Dinner at 7pm."),
]

INSERT_0001 = sa.text(
    "INSERT INTO results (request_id, feature, tenant_id, user_id, subject_key, status, tier,"
    " model, reasons, verified, degraded_reason, latency_ms, prompt_tokens, completion_tokens,"
    " cost_usd, input_sha256, input_text, output, occurred_at)"
    " VALUES (:request_id, :feature, :tenant_id, :user_id, :subject_key, 'ok', 'local',"
    " 'smollm2', :reasons, :verified, NULL, 12.5, 7, 9, 0.0, :sha, NULL, :output, :occurred_at)"
)


def _output(request_id: str, feature: str, tenant: str, user: str, text: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "tenant_id": tenant,
        "user_id": user,
        "feature": feature,
        "status": "ok",
        "result": {"text": text},
    }


async def _insert_legacy(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for request_id, feature, tenant, user, subject, text in LEGACY:
            await conn.execute(
                INSERT_0001,
                {
                    "request_id": request_id,
                    "feature": feature,
                    "tenant_id": tenant,
                    "user_id": user,
                    "subject_key": subject,
                    "reasons": json.dumps([]),
                    "verified": True,
                    "sha": "0" * 64,
                    "output": json.dumps(_output(request_id, feature, tenant, user, text)),
                    "occurred_at": T0,
                },
            )


async def _migrate(engine: AsyncEngine, url: str, revision: str, *, down: bool = False) -> None:
    """Run a migration; pooled connections are dropped first, as their cached statement
    plans (asyncpg) describe the old table."""
    await engine.dispose()
    (downgrade if down else upgrade)(url, revision)


async def _revision(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return str(
            (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
        )


async def _unique_keys(engine: AsyncEngine) -> dict[str, list[str]]:
    async with engine.connect() as conn:
        found = await conn.run_sync(lambda c: sa.inspect(c).get_unique_constraints("results"))
    return {str(u["name"]): list(u["column_names"]) for u in found}


async def _indexes(engine: AsyncEngine) -> dict[str, list[str]]:
    async with engine.connect() as conn:
        found = await conn.run_sync(lambda c: sa.inspect(c).get_indexes("results"))
    return {str(i["name"]): [str(c) for c in i["column_names"]] for i in found}


async def _rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(
            sa.text("SELECT * FROM results ORDER BY id")  # every column, whatever the revision
        )
        return [dict(r._mapping) for r in result]


def _insert_row(request_id: str, feature: str, tenant: str, user: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "feature": feature,
        "tenant_id": tenant,
        "user_id": user,
        "subject_key": None,
        "reasons": json.dumps([]),
        "verified": True,
        "sha": "1" * 64,
        "output": json.dumps(_output(request_id, feature, tenant, user, "x")),
        "occurred_at": T0,
    }


async def test_upgrade_keeps_0001_rows_and_scopes_the_key(any_empty_database_url: str) -> None:
    url = any_empty_database_url
    upgrade(url, "0001")
    engine = create_engine(url)
    try:
        await _insert_legacy(engine)
        before = await _rows(engine)
        assert await _unique_keys(engine) == {"uq_results_request_id": ["request_id"]}

        await _migrate(engine, url, "0002")
        assert await _revision(engine) == "0002"
        after = await _rows(engine)
        # Every row kept, column for column, with an unknown (NULL) fingerprint.
        assert len(after) == len(before) == len(LEGACY)
        for old, new in zip(before, after, strict=True):
            assert new.pop("request_fingerprint") is None
            assert new == old
        assert await _unique_keys(engine) == {
            "uq_results_request_key": ["tenant_id", "feature", "request_id"]
        }
        indexes = await _indexes(engine)
        assert indexes["ix_results_subject"] == [
            "tenant_id",
            "user_id",
            "feature",
            "subject_key",
            "id",
        ]
        assert "ix_results_feature_subject" not in indexes

        # The same request_id is now free for another tenant, and for another feature...
        async with engine.begin() as conn:
            await conn.execute(INSERT_0001, _insert_row("req-1", "rewrite", "tenant-b", "user-b"))
            await conn.execute(INSERT_0001, _insert_row("req-1", "emoji", "tenant-a", "user-a"))
        # ...but never twice under one (tenant, feature, request_id).
        with pytest.raises(sa_exc.IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    INSERT_0001, _insert_row("req-1", "rewrite", "tenant-a", "user-z")
                )
        assert len(await _rows(engine)) == len(LEGACY) + 2

        # The repository reads the legacy rows under their scoped key: the owner's replay is
        # answered (unknown fingerprint), another user under that key is not.
        repo = ResultRepository(engine)
        legacy = await repo.find(ResultKey("tenant-a", "rewrite", "req-1"))
        assert legacy is not None and legacy.request_fingerprint is None
        assert legacy.output["result"]["text"] == "Bitte prüfen Sie den Vertrag."
        assert legacy.answers("user-a", "f" * 64)
        assert not legacy.answers("user-z", "f" * 64)
        assert await repo.find(ResultKey("tenant-a", "rewrite", "REQ-1")) is None
        assert await repo.latest_output(
            "summarize", tenant_id="tenant-a", user_id="user-a", subject_key="stack-1"
        ) == {"text": "Dinner at 7pm."}
        assert (
            await repo.latest_output(
                "summarize", tenant_id="tenant-b", user_id="user-a", subject_key="stack-1"
            )
            is None
        )
    finally:
        await engine.dispose()


async def test_downgrade_restores_0001_when_ids_are_unique(any_empty_database_url: str) -> None:
    url = any_empty_database_url
    upgrade(url, "0001")
    engine = create_engine(url)
    try:
        await _insert_legacy(engine)
        before = await _rows(engine)
        await _migrate(engine, url, "0002")
        await _migrate(engine, url, "0001", down=True)
        assert await _revision(engine) == "0001"
        assert await _rows(engine) == before
        assert await _unique_keys(engine) == {"uq_results_request_id": ["request_id"]}
        assert "ix_results_feature_subject" in await _indexes(engine)
    finally:
        await engine.dispose()


async def test_downgrade_refuses_to_merge_two_tenants_rows(any_empty_database_url: str) -> None:
    url = any_empty_database_url
    upgrade(url, "0002")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(INSERT_0001, _insert_row("req-1", "rewrite", "tenant-a", "user-a"))
            await conn.execute(INSERT_0001, _insert_row("req-1", "rewrite", "tenant-b", "user-b"))
        before = await _rows(engine)
        with pytest.raises(sa_exc.IntegrityError):
            await _migrate(engine, url, "0001", down=True)
        # Nothing changed: still at 0002, both rows there, the scoped key in force.
        assert await _revision(engine) == "0002"
        assert await _rows(engine) == before
        assert "uq_results_request_key" in await _unique_keys(engine)
    finally:
        await engine.dispose()


async def test_head_schema_matches_the_models(any_empty_database_url: str) -> None:
    """What the repository's statements assume (keys, indexes, columns) is what migrations
    build: Alembic's autogenerate finds nothing to change."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from shared.persistence.models import Base

    upgrade(any_empty_database_url)
    engine = create_engine(any_empty_database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        assert diff == []
    finally:
        await engine.dispose()
