"""The results repository: idempotent save keyed by request_id, lookups, retention purge."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from shared.persistence.errors import translate_db_errors
from shared.persistence.models import ResultRecord, TenantSpend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewResult:
    """A result to store. `output` is the result envelope exactly as published."""

    request_id: str
    feature: str
    tenant_id: str
    user_id: str
    status: str
    tier: str
    model: str
    reasons: list[str]
    verified: bool
    degraded_reason: str | None
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    input_sha256: str
    output: dict[str, Any]
    occurred_at: datetime
    subject_key: str | None = None
    input_text: str | None = None


@dataclass(frozen=True)
class SaveOutcome:
    """`inserted` is False when the request_id was stored before; `output` is what is stored."""

    inserted: bool
    output: dict[str, Any]


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResultRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._dialect = engine.dialect.name

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def save(self, new: NewResult) -> SaveOutcome:
        """Insert once. A second save of the same request_id changes nothing and says so.

        The insert uses ON CONFLICT DO NOTHING so that two workers racing on a redelivered
        event cannot both store it, whichever commits first wins.
        """
        values = {k: getattr(new, k) for k in NewResult.__dataclass_fields__}
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(ResultRecord)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["request_id"])
        )
        async with translate_db_errors(), self._sessions() as session, session.begin():
            result = await session.execute(stmt)
            inserted = bool(getattr(result, "rowcount", 0))
            if inserted:
                return SaveOutcome(True, new.output)
            stored = await session.scalar(
                select(ResultRecord.output).where(ResultRecord.request_id == new.request_id)
            )
        log.info("request %s was already stored; keeping the first result", new.request_id)
        return SaveOutcome(False, stored if stored is not None else new.output)

    async def get_output(self, request_id: str) -> dict[str, Any] | None:
        async with translate_db_errors(), self._sessions() as session:
            return await session.scalar(
                select(ResultRecord.output).where(ResultRecord.request_id == request_id)
            )

    async def latest_output(self, feature: str, subject_key: str) -> dict[str, Any] | None:
        """The result payload most recently stored for a subject (a notification stack...)."""
        stmt = (
            select(ResultRecord.output)
            .where(ResultRecord.feature == feature, ResultRecord.subject_key == subject_key)
            .order_by(ResultRecord.id.desc())
            .limit(1)
        )
        async with translate_db_errors(), self._sessions() as session:
            envelope = await session.scalar(stmt)
        if not envelope:
            return None
        result = envelope.get("result")
        return result if isinstance(result, dict) else None

    async def count(self, feature: str | None = None) -> int:
        stmt = select(func.count()).select_from(ResultRecord)
        if feature:
            stmt = stmt.where(ResultRecord.feature == feature)
        async with translate_db_errors(), self._sessions() as session:
            return int(await session.scalar(stmt) or 0)

    async def request_ids(self, feature: str | None = None) -> list[str]:
        stmt = select(ResultRecord.request_id)
        if feature:
            stmt = stmt.where(ResultRecord.feature == feature)
        async with translate_db_errors(), self._sessions() as session:
            return list((await session.scalars(stmt)).all())

    async def purge_older_than(self, cutoff: datetime) -> int:
        """Retention: delete results created before `cutoff`; returns how many."""
        async with translate_db_errors(), self._sessions() as session, session.begin():
            result = await session.execute(
                delete(ResultRecord).where(ResultRecord.created_at < cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    # -- spend ledger for routing budgets ---------------------------------------------

    async def spent(self, tenant_id: str, day: date) -> tuple[int, float]:
        async with translate_db_errors(), self._sessions() as session:
            row = await session.get(TenantSpend, (tenant_id, day))
        return (row.tokens, row.cost_usd) if row else (0, 0.0)

    async def reserve_spend(
        self,
        tenant_id: str,
        day: date,
        tokens: int,
        cost_usd: float,
        *,
        cap_tokens: int | None,
        cap_usd: float | None,
    ) -> bool:
        """Add to the day's spend only if it stays within the caps; whether it was added.

        One conditional UPDATE: PostgreSQL re-checks the WHERE clause on the latest row
        version after waiting for a concurrent writer's lock, and SQLite runs one writer at a
        time, so racing reservations from any number of processes never pass the caps.
        """
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        ensure_row = (
            insert(TenantSpend)
            .values(tenant_id=tenant_id, day=day, tokens=0, cost_usd=0.0)
            .on_conflict_do_nothing(index_elements=["tenant_id", "day"])
        )
        where = [TenantSpend.tenant_id == tenant_id, TenantSpend.day == day]
        if cap_tokens is not None:
            where.append(TenantSpend.tokens + tokens <= cap_tokens)
        if cap_usd is not None:
            where.append(TenantSpend.cost_usd + cost_usd <= cap_usd)
        reserve = (
            update(TenantSpend)
            .where(*where)
            .values(tokens=TenantSpend.tokens + tokens, cost_usd=TenantSpend.cost_usd + cost_usd)
            .returning(TenantSpend.tokens)
            .execution_options(synchronize_session=False)
        )
        async with translate_db_errors(), self._sessions() as session, session.begin():
            await session.execute(ensure_row)
            row = (await session.execute(reserve)).first()
        return row is not None

    async def add_spend(self, tenant_id: str, day: date, tokens: int, cost_usd: float) -> None:
        """Add a delta to the day's spend (negative to give back part of a reservation)."""
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        stmt = insert(TenantSpend).values(
            tenant_id=tenant_id, day=day, tokens=tokens, cost_usd=cost_usd
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant_id", "day"],
            set_={
                "tokens": TenantSpend.tokens + stmt.excluded.tokens,
                "cost_usd": TenantSpend.cost_usd + stmt.excluded.cost_usd,
            },
        )
        async with translate_db_errors(), self._sessions() as session, session.begin():
            await session.execute(stmt)


def utcnow() -> datetime:
    return datetime.now(UTC)
