"""The envelope every request event travels in, and the result envelope every service emits.

Version 1 of the wire contract. Fields are only ever added (with defaults) within a version;
a breaking change gets a new topic suffix (`.v2`) and both run side by side.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from schemas.limits import ID_MAX_CHARS, LOCALE_MAX_CHARS

SCHEMA_VERSION: Literal[1] = 1

Identifier = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=ID_MAX_CHARS, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$"
    ),
]
"""Opaque ids chosen by the producing app: printable, no spaces, bounded."""

_LOCALE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")


def _check_locale(value: str) -> str:
    if not _LOCALE.match(value):
        raise ValueError(f"locale {value!r} is not a BCP 47 tag such as 'en-US'")
    return value


Locale = Annotated[str, Field(max_length=LOCALE_MAX_CHARS), AfterValidator(_check_locale)]


class StrictModel(BaseModel):
    """Base of every contract: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class QualityHint(StrEnum):
    """What the app prefers when speed and quality pull apart."""

    FAST = "fast"
    BALANCED = "balanced"
    BEST = "best"


class TraceContext(StrictModel):
    """W3C trace context, also carried in the Kafka headers `traceparent` / `tracestate`."""

    traceparent: Annotated[
        str, StringConstraints(pattern=r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
    ]
    tracestate: Annotated[str, StringConstraints(max_length=512)] | None = None


P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


class RequestEnvelope(StrictModel, Generic[P]):
    """A request event. (`tenant_id`, feature, `request_id`) is the idempotency key.

    Resending the same request under its key never recomputes: the stored result comes back.
    Reusing the key for a different request gets a `failed` result, error
    `idempotency_conflict`.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    request_id: Identifier
    tenant_id: Identifier
    user_id: Identifier
    occurred_at: AwareDatetime
    locale: Locale = "en-US"
    consent_external: bool = Field(
        False,
        description="The user agreed that this request may be sent to an external model "
        "provider (redacted). Without it, the request never leaves the deployment.",
    )
    quality_hint: QualityHint = QualityHint.BALANCED
    trace: TraceContext | None = None
    payload: P


IDEMPOTENCY_CONFLICT = "idempotency_conflict"
"""`error` of a `failed` result whose request reused a stored (tenant, feature, request_id)
key with different content. The stored result is kept and not sent; send a new request_id."""


class ResultStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # best acceptable local answer; the preferred path was not possible
    REFUSED = "refused"  # policy forbids an answer (consent, safety, opt-out); reason given
    FAILED = "failed"


class Provenance(StrictModel):
    """Audit record of how a result was produced: which tier, why, and what it cost."""

    tier: str = Field(description="Tier that produced the result: local, selfhosted, openai...")
    model: str
    reasons: list[str] = Field(
        default_factory=list, description="Escalation reasons that moved it off the local tier."
    )
    verified: bool = Field(description="Passed the feature's verifier (faithfulness, meaning).")
    degraded_reason: str | None = None
    latency_ms: float = Field(ge=0)
    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0)


class ResultEnvelope(StrictModel, Generic[R]):
    """A result event, keyed like its request. Re-delivery may repeat it: dedupe on
    (tenant_id, feature, request_id)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    request_id: Identifier
    tenant_id: Identifier
    user_id: Identifier
    feature: str
    status: ResultStatus
    produced_at: datetime
    provenance: Provenance
    result: R | None = None
    error: str | None = Field(
        None,
        description="Why a failed result has none; `idempotency_conflict`: the request_id was "
        "already used by this tenant for this feature with different content.",
    )
    trace: TraceContext | None = None
