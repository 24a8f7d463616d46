"""What the router returns: the answer plus the audit of how it was obtained."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Generic

from .reasons import DegradedReason, EscalationReason
from .task import R


class AttemptOutcome(StrEnum):
    SERVED = "served"  # this tier's answer was returned
    ESCALATED = "escalated"  # answered, but the policy wanted better
    REJECTED = "rejected"  # answered, but the verifier said no
    FAILED = "failed"  # raised, or the provider failed
    SKIPPED = "skipped"  # not tried (no consent, budget, breaker, not configured)
    ABANDONED = "abandoned"  # cut off at the latency budget
    CANCELLED = "cancelled"  # lost a hedged race


@dataclass
class TierAttempt:
    """One tier tried (or not) for one request."""

    tier: str
    outcome: AttemptOutcome
    model: str | None = None
    reasons: list[EscalationReason] = field(default_factory=list)
    degraded_reason: DegradedReason | None = None
    detail: str | None = None
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    http_attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: v for k, v in data.items() if v not in (None, [], 0, 0.0) or k == "tier"}


@dataclass
class RoutedOutcome(Generic[R]):
    """The routed answer. `result` is None only when `refused`.

    degraded: a fallback was wanted (see `reasons`) but did not happen or did not succeed,
    so a local answer was served; `degraded_reason` says why.
    """

    result: R | None
    tier: str | None
    model: str | None
    reasons: list[EscalationReason] = field(default_factory=list)
    degraded: bool = False
    degraded_reason: DegradedReason | None = None
    refused: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    confidence: float | None = None
    redactions: dict[str, int] = field(default_factory=dict)
    attempts: list[TierAttempt] = field(default_factory=list)

    @property
    def escalated(self) -> bool:
        return bool(self.reasons)

    def audit(self) -> dict[str, Any]:
        """A JSON-ready record of the routing decision, for the persistence layer."""
        return {
            "tier": self.tier,
            "model": self.model,
            "reasons": [str(r) for r in self.reasons],
            "degraded": self.degraded,
            "degraded_reason": str(self.degraded_reason) if self.degraded_reason else None,
            "refused": self.refused,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "latency_ms": round(self.latency_ms, 3),
            "confidence": self.confidence,
            "redactions": dict(self.redactions),
            "attempts": [a.as_dict() for a in self.attempts],
        }
