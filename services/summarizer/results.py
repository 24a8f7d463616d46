"""Turning a decision into the `HandlerResult` the runtime publishes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.envelope import Provenance, ResultStatus
from schemas.summarize import Notification, NotificationSummary, RankedNotification
from services.summarizer.draft import SummaryDraft
from services.summarizer.policy import SkipReason
from services.summarizer.settings import SummarizerSettings
from services.summarizer.stack import line
from shared.messaging.handler import HandlerResult
from shared.routing.constants import LOCAL_TIER
from shared.routing.outcome import RoutedOutcome

# Provenance.model of results that no model wrote.
EXTRACTIVE_MODEL = "extractive"
STORED_MODEL = "stored-summary"
POLICY_TIER = "policy"

Result = HandlerResult[NotificationSummary]


@dataclass(frozen=True)
class Stack:
    """The parts of a request every result needs."""

    stack_id: str
    notifications: Sequence[Notification]
    ranked: Sequence[RankedNotification]

    @property
    def ids(self) -> list[str]:
        return [n.id for n in self.notifications]

    def input_text(self) -> str:
        return "\n".join(line(n) for n in self.notifications)


def skipped(stack_id: str, reason: SkipReason, latency_ms: float) -> Result:
    """REFUSED, with an empty summary that says why: no model ran, nothing was summarised."""
    summary = NotificationSummary(
        stack_id=stack_id, summary="", covered_ids=[], ranked=[], labels=[], skipped_reason=reason
    )
    # An empty summary states nothing, so there is nothing unverified in it.
    provenance = Provenance(tier=POLICY_TIER, model="none", verified=True, latency_ms=latency_ms)
    return HandlerResult(
        status=ResultStatus.REFUSED,
        provenance=provenance,
        result=summary,
        error=f"not summarised: {reason}",
        subject_key=stack_id,
    )


def extractive(
    stack: Stack,
    text: str,
    settings: SummarizerSettings,
    latency_ms: float,
    *,
    fallback_reason: str | None = None,
    outcome: RoutedOutcome[SummaryDraft] | None = None,
) -> Result:
    """A summary quoted from the notifications. OK for a one-notification stack (quoting is
    the right answer there); DEGRADED when it stands in for a generated summary."""
    provenance = Provenance(
        tier=LOCAL_TIER,
        model=EXTRACTIVE_MODEL,
        reasons=[str(r) for r in outcome.reasons] if outcome else [],
        verified=True,
        degraded_reason=fallback_reason,
        latency_ms=latency_ms,
        prompt_tokens=outcome.prompt_tokens if outcome else 0,
        completion_tokens=outcome.completion_tokens if outcome else 0,
        cost_usd=outcome.cost_usd if outcome else 0.0,
    )
    return _result(
        stack,
        text,
        settings,
        provenance,
        extractive=True,
        status=ResultStatus.DEGRADED if fallback_reason else ResultStatus.OK,
    )


def generated(
    stack: Stack,
    text: str,
    settings: SummarizerSettings,
    outcome: RoutedOutcome[SummaryDraft],
    latency_ms: float,
) -> Result:
    """A verified model summary; DEGRADED when the router wanted a better tier and could not."""
    provenance = Provenance(
        tier=outcome.tier or LOCAL_TIER,
        model=outcome.model or "unknown",
        reasons=[str(r) for r in outcome.reasons],
        verified=True,
        degraded_reason=str(outcome.degraded_reason) if outcome.degraded_reason else None,
        latency_ms=latency_ms,
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        cost_usd=outcome.cost_usd,
    )
    status = ResultStatus.DEGRADED if outcome.degraded else ResultStatus.OK
    return _result(stack, text, settings, provenance, extractive=False, status=status)


def reused(
    stack: Stack, text: str, extractive: bool, settings: SummarizerSettings, latency_ms: float
) -> Result:
    """The stored summary already covers every notification: publish it again, re-checked."""
    provenance = Provenance(
        tier=LOCAL_TIER, model=STORED_MODEL, verified=True, latency_ms=latency_ms
    )
    return _result(stack, text, settings, provenance, extractive=extractive, status=ResultStatus.OK)


def _result(
    stack: Stack,
    text: str,
    settings: SummarizerSettings,
    provenance: Provenance,
    *,
    extractive: bool,
    status: ResultStatus,
) -> Result:
    summary = NotificationSummary(
        stack_id=stack.stack_id,
        summary=text,
        covered_ids=stack.ids,
        ranked=list(stack.ranked),
        labels=settings.labels(extractive=extractive),
        extractive=extractive,
    )
    return HandlerResult(
        status=status,
        provenance=provenance,
        result=summary,
        subject_key=stack.stack_id,
        input_text=stack.input_text(),
    )
