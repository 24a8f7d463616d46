"""Tables. Alembic migrations (shared/persistence/migrations) are the only way they are created."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Explicit constraint names keep migrations identical on PostgreSQL and SQLite.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite autoincrements only INTEGER PRIMARY KEY, PostgreSQL wants BIGINT for growth.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ResultRecord(Base):
    """One row per request: the idempotency ledger and the audit trail of every result.

    A request is identified by (tenant_id, feature, request_id): `request_id` is chosen by
    the producing app, so the same id from two tenants, or for two features, names two
    different requests.
    """

    __tablename__ = "results"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(128))
    feature: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    subject_key: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(256))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    verified: Mapped[bool] = mapped_column(Boolean)
    degraded_reason: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)
    # Data minimisation: the input is kept as a hash unless the deployment opts in.
    input_sha256: Mapped[str] = mapped_column(String(64))
    input_text: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of what defines the request (shared.messaging.idempotency); NULL for rows
    # stored before fingerprints existed, where a replay is trusted as a replay.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # The full result envelope as published, so a redelivery re-publishes identical bytes.
    output: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "feature", "request_id", name="uq_results_request_key"),
        # Incremental state (a stack's latest summary) is read per tenant, user and subject.
        Index("ix_results_subject", "tenant_id", "user_id", "feature", "subject_key", "id"),
        Index("ix_results_created_at", "created_at"),
        Index("ix_results_tenant_created", "tenant_id", "created_at"),
    )


class TenantSpend(Base):
    """External-model spend per tenant and UTC day, for routing budgets."""

    __tablename__ = "tenant_spend"

    tenant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
