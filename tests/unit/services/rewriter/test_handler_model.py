"""The production lifespan and handler with a real (the smallest) local model.

SmolLM2-135M writes poor answers, so these tests prove the publishing rule, not quality:
every published result is verified, or it is flagged (degraded / failed) with a reason and
is the operation's safe fallback, never the rejected draft.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from schemas.envelope import RequestEnvelope, ResultStatus
from schemas.rewrite import Tone, WritingOperation, WritingRequest, WritingResult
from services.rewriter.edits import Change, apply_changes
from services.rewriter.guards import verify
from services.rewriter.handler import lifespan
from shared.config import CoreSettings
from shared.inference.runtime import LocalGenerator
from shared.messaging.handler import HandlerResult, ServiceContext
from shared.routing.router import Router
from shared.routing.settings import RoutingSettings
from tests.e2e.checks import RULE_CHECKER_MODELS

pytestmark = pytest.mark.model

# Short, so each draft's token budget (proportional to the text) stays small on 2 cores.
EMAIL = "Hi Ben, i cant come to your meeting on Friday at 3pm. I will send you 12 slides. Anna"
FAMILIES: list[tuple[WritingOperation, Tone | None]] = [
    (WritingOperation.PROOFREAD, None),
    (WritingOperation.REWRITE, Tone.PROFESSIONAL),
    (WritingOperation.SUMMARY, None),
    (WritingOperation.TABLE, None),  # the markdown-shape family: list, key points, table
]
CASES = [pytest.param(operation, tone, id=str(operation)) for operation, tone in FAMILIES]


@pytest.fixture(scope="module")
async def published(
    small_generator: LocalGenerator,
) -> dict[WritingOperation, HandlerResult[WritingResult]]:
    """One request per operation family through the production lifespan, concurrently
    (the generator micro-batches them), with the session's model.

    No fallback key and no latency budget: what is published is decided by the local model
    and the verifier alone.
    """
    router = Router(RoutingSettings(OPENAI_API_KEY=None, CAIRN_LATENCY_BUDGET_MS=0))
    ctx = ServiceContext(
        core=CoreSettings(), extras={"generator": small_generator, "router": router}
    )
    async with lifespan(ctx) as handle:
        requests = [_request(operation, tone) for operation, tone in FAMILIES]
        results = await asyncio.gather(*(handle(r) for r in requests))
    return {r.payload.operation: result for r, result in zip(requests, results, strict=True)}


def _request(operation: WritingOperation, tone: Tone | None) -> RequestEnvelope[WritingRequest]:
    return RequestEnvelope[WritingRequest](
        request_id=f"model-{operation}",
        tenant_id="tests",
        user_id="tests",
        occurred_at=datetime.now(UTC),
        payload=WritingRequest(operation=operation, text=EMAIL, tone=tone),
    )


def _assert_never_unverified(
    operation: WritingOperation, tone: Tone | None, published: HandlerResult[WritingResult]
) -> None:
    provenance = published.provenance
    if published.status is ResultStatus.OK:
        # Served as is: it passed the verifier, and passes it again here.
        assert provenance.verified and provenance.degraded_reason is None
        assert published.result is not None
        assert verify(operation, tone, EMAIL, published.result.text) is None
        return
    assert published.status in (ResultStatus.DEGRADED, ResultStatus.FAILED)
    assert provenance.degraded_reason
    if provenance.verified:
        return  # a verified answer from a tier the router flagged
    assert "verifier_rejected" in provenance.reasons
    if operation is WritingOperation.PROOFREAD:
        assert provenance.model in RULE_CHECKER_MODELS
    elif operation is WritingOperation.REWRITE:
        assert published.result is not None and published.result.text == EMAIL
    else:
        assert published.status is ResultStatus.FAILED and published.result is None


@pytest.mark.parametrize(("operation", "tone"), CASES)
async def test_published_result_is_verified_or_flagged(
    published: dict[WritingOperation, HandlerResult[WritingResult]],
    operation: WritingOperation,
    tone: Tone | None,
) -> None:
    result = published[operation]
    assert result.provenance.tier == "local"
    # the model, the rule checkers, or the model's draft polished by them
    assert set(result.provenance.model.split("+")) <= {
        "smollm2-135m-instruct",
        "quire-grammar",
        "harper-py",
    }
    assert result.provenance.latency_ms > 0
    _assert_never_unverified(operation, tone, result)
    if operation is WritingOperation.PROOFREAD and result.result is not None:
        edits = result.result.edits
        changes = [Change(e.start, e.end, e.original, e.replacement) for e in edits]
        assert apply_changes(EMAIL, changes) == result.result.text
