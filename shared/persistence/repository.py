"""The results repository: idempotent save per request key, lookups, retention purge.

A request's key is (tenant_id, feature, request_id), never request_id alone: ids are chosen
by the producing apps, so two tenants (or two features of one app) may send the same one.
Ids are compared byte for byte: 'A-1', 'a-1' and 'a-1 ' are three keys.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from shared.persistence.errors import translate_db_errors
from shared.persistence.models import ResultRecord, TenantSpend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResultKey:
    """The idempotency key of a request: who asked, for which feature, under which id."""

    tenant_id: str
    feature: str
    request_id: str


@dataclass(frozen=True)
class NewResult:
    """A result to store. `output` is the result envelope exactly as published.

    `request_fingerprint` identifies the request's content (see
    `shared.messaging.idempotency`); None means unknown: only the user is compared then.
    """

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
    request_fingerprint: str | None
    subject_key: str | None = None
    input_text: str | None = None

    @property
    def key(self) -> ResultKey:
        return ResultKey(self.tenant_id, self.feature, self.request_id)


@dataclass(frozen=True)
class StoredResult:
    """What is stored under a key: the published envelope and who and what it answered."""

    output: dict[str, Any]
    user_id: str
    request_fingerprint: str | None

    def answers(self, user_id: str, fingerprint: str | None) -> bool:
        """True when this row is the answer to a request from `user_id` with `fingerprint`.

        A row without a fingerprint (stored before they existed) answers any request of its
        user under its key: a redelivery after an upgrade must get its result, not a conflict.
        The user check still holds, so it can never hand one user's answer to another.
        """
        if user_id != self.user_id:
            return False
        if self.request_fingerprint is None or fingerprint is None:
            return True
        return self.request_fingerprint == fingerprint


@dataclass(frozen=True)
class SaveOutcome:
    """The result of an insert-once save.

    `inserted` is False when the key was stored before; `output` is then what is stored.
    `conflict` is True when what is stored answers a different request under the same key;
    `output` is then empty: the stored answer belongs to that other request.
    """

    inserted: bool
    output: dict[str, Any]
    conflict: bool = False


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
        """Insert once per key. A second save under a stored key changes nothing and says so.

        The insert uses ON CONFLICT (tenant_id, feature, request_id) DO NOTHING so that two
        workers racing on a redelivered event cannot both store it: whichever commits first
        wins. A loser whose request differs from the stored one (another fingerprint or user)
        gets `conflict=True`; the stored row is never overwritten.
        """
        values = {k: getattr(new, k) for k in NewResult.__dataclass_fields__}
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(ResultRecord)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(KEY_COLUMNS))
        )
        async with translate_db_errors(), self._sessions() as session, session.begin():
            result = await session.execute(stmt)
            inserted = bool(getattr(result, "rowcount", 0))
            if inserted:
                return SaveOutcome(True, new.output)
            row = (await session.execute(_select_stored(new.key))).one_or_none()
        if row is None:  # purged between the insert and the read: what was computed stands
            return SaveOutcome(False, new.output)
        stored = StoredResult(row.output, row.user_id, row.request_fingerprint)
        if not stored.answers(new.user_id, new.request_fingerprint):
            # Logged once, by the runtime that answers the conflict; the stored answer is not
            # handed back, so no caller can publish it by mistake.
            log.debug("request %s conflicts with the result stored under its key", new.request_id)
            return SaveOutcome(False, {}, conflict=True)
        log.info("request %s was already stored; keeping the first result", new.request_id)
        return SaveOutcome(False, stored.output)

    async def find(self, key: ResultKey) -> StoredResult | None:
        """The result stored under `key`, with what it answered, or None."""
        async with translate_db_errors(), self._sessions() as session:
            row = (await session.execute(_select_stored(key))).one_or_none()
        return (
            None if row is None else StoredResult(row.output, row.user_id, row.request_fingerprint)
        )

    async def get_output(self, key: ResultKey) -> dict[str, Any] | None:
        """The envelope stored under `key`, as published, or None."""
        stored = await self.find(key)
        return None if stored is None else stored.output

    async def latest_output(
        self, feature: str, *, tenant_id: str, user_id: str, subject_key: str
    ) -> dict[str, Any] | None:
        """The result payload most recently stored for one user's subject (a stack...).

        Scoped by tenant and user as well as subject: subject ids (stack ids) come from apps
        too, and one user's stored summary must never seed another user's.
        """
        stmt = (
            select(ResultRecord.output)
            .where(
                ResultRecord.tenant_id == tenant_id,
                ResultRecord.user_id == user_id,
                ResultRecord.feature == feature,
                ResultRecord.subject_key == subject_key,
            )
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


KEY_COLUMNS = ("tenant_id", "feature", "request_id")


def _select_stored(key: ResultKey) -> Select[tuple[dict[str, Any], str, str | None]]:
    return select(
        ResultRecord.output, ResultRecord.user_id, ResultRecord.request_fingerprint
    ).where(
        ResultRecord.tenant_id == key.tenant_id,
        ResultRecord.feature == key.feature,
        ResultRecord.request_id == key.request_id,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)
