"""What gets published: a verified answer, or a flagged fallback. Never an unverified draft.

The router may serve a local answer it could not improve on (no consent, no key, budget):
that answer is re-verified here, and a rejected one is replaced by the safe fallback of its
operation (harper's unambiguous fixes for a proofread, the unchanged text for a rewrite,
nothing for the operations whose output has another shape) with the reason on record.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.envelope import Provenance, ResultStatus
from schemas.rewrite import WritingOperation, WritingRequest, WritingResult
from services.rewriter import proofread
from services.rewriter.lints import Hint
from services.rewriter.task import Draft
from shared.messaging.handler import HandlerResult
from shared.routing.outcome import RoutedOutcome
from shared.routing.reasons import EscalationReason

HARPER_MODEL = "harper-py"
# Outputs of these operations have another shape than the input, so the unchanged text is
# no stand-in for them.
_NO_FALLBACK_TEXT = frozenset(
    {
        WritingOperation.SUMMARY,
        WritingOperation.KEY_POINTS,
        WritingOperation.LIST,
        WritingOperation.TABLE,
        WritingOperation.INSTRUCTION,
    }
)


@dataclass(frozen=True)
class Checked:
    """The routed outcome and the handler's own verdict on its answer."""

    outcome: RoutedOutcome[Draft]
    problem: str | None  # None: the answer passed the verifier
    latency_ms: float


def verified(
    request: WritingRequest, checked: Checked, hints: list[Hint]
) -> HandlerResult[WritingResult]:
    """The answer passed the verifier: ok, or degraded when the router wanted better."""
    outcome = checked.outcome
    assert outcome.result is not None
    text = outcome.result.text
    edits = (
        proofread.to_edits(request.text, text, hints)
        if request.operation is WritingOperation.PROOFREAD
        else []
    )
    degraded = outcome.degraded
    return HandlerResult(
        status=ResultStatus.DEGRADED if degraded else ResultStatus.OK,
        provenance=_provenance(
            checked,
            verified=True,
            degraded_reason=str(outcome.degraded_reason) if degraded else None,
        ),
        result=WritingResult(operation=request.operation, text=text, edits=edits),
        input_text=request.text,
    )


def fallback(
    request: WritingRequest,
    checked: Checked,
    harper: WritingResult | None = None,
    harper_verified: bool = False,
    model: str = HARPER_MODEL,
) -> HandlerResult[WritingResult]:
    """No tier gave a verified answer: publish the safe fallback, flagged and explained.

    This includes the router's refusal (no acceptable answer from any tier it could use).

    `harper` is the rule checkers' proofread (proofread only: harper's and quire-grammar's
    corrections), `harper_verified` the verifier's verdict on it and `model` the checkers
    that made it.
    """
    why = _why(checked)
    if harper is not None:
        return HandlerResult(
            status=ResultStatus.DEGRADED,
            provenance=_provenance(
                checked,
                verified=harper_verified,
                degraded_reason=f"{why}; served rule-checker corrections ({model})",
                model=model,
            ),
            result=harper,
            input_text=request.text,
        )
    if request.operation in _NO_FALLBACK_TEXT:
        return HandlerResult(
            status=ResultStatus.FAILED,
            provenance=_provenance(checked, verified=False, degraded_reason=why),
            error=f"no verified {request.operation} could be produced: {why}",
            input_text=request.text,
        )
    return HandlerResult(
        status=ResultStatus.DEGRADED,
        provenance=_provenance(
            checked, verified=False, degraded_reason=f"{why}; served the unchanged text"
        ),
        result=WritingResult(operation=request.operation, text=request.text),
        input_text=request.text,
    )


def _why(checked: Checked) -> str:
    parts = [f"no verified answer: {checked.problem}"]
    if checked.outcome.degraded_reason is not None:
        parts.append(f"escalation not possible: {checked.outcome.degraded_reason}")
    return "; ".join(parts)


def _provenance(
    checked: Checked,
    *,
    verified: bool,
    degraded_reason: str | None,
    model: str | None = None,
) -> Provenance:
    outcome = checked.outcome
    reasons = [str(r) for r in outcome.reasons]
    if checked.problem is not None and EscalationReason.VERIFIER_REJECTED not in reasons:
        reasons.append(str(EscalationReason.VERIFIER_REJECTED))
    return Provenance(
        tier=outcome.tier or "local",
        model=model or outcome.model or "none",
        reasons=reasons,
        verified=verified,
        degraded_reason=degraded_reason,
        latency_ms=max(outcome.latency_ms, checked.latency_ms),
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        cost_usd=outcome.cost_usd,
    )
