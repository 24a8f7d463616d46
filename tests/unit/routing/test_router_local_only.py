"""Router decisions that need no fallback endpoint at all."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from shared.errors import Overloaded, TransientError
from shared.routing import DegradedReason, EscalationReason, Router, RoutingMetrics
from tests.unit.routing.fake_task import FakeTask, make_settings

E = EscalationReason


def router(**values) -> Router:
    return Router(make_settings(**values), metrics=RoutingMetrics(CollectorRegistry()))


async def test_local_only_chain_serves_hard_requests_degraded() -> None:
    r = router(CAIRN_TIERS="local")
    outcome = await r.route(FakeTask(confidence=-9, reasons=[E.FREEFORM_INSTRUCTION]))
    assert outcome.tier == "local" and outcome.degraded
    assert outcome.degraded_reason is DegradedReason.NOT_CONFIGURED
    assert outcome.reasons == [E.FREEFORM_INSTRUCTION, E.LOW_CONFIDENCE]
    assert outcome.confidence == -9
    await r.aclose()


async def test_refusal_is_explicit_and_auditable() -> None:
    r = router()
    outcome = await r.route(FakeTask(local_none=True, escalate=E.NO_LOCAL_MATCH))
    assert outcome.refused and outcome.result is None and outcome.tier is None
    audit = json.loads(json.dumps(outcome.audit()))
    assert audit["refused"] is True
    assert audit["degraded_reason"] == "not_configured"
    assert audit["reasons"] == ["no_local_match"]
    assert [a["outcome"] for a in audit["attempts"]] == ["rejected", "skipped"]


async def test_transient_local_failure_without_fallback_raises_retriable() -> None:
    r = router()
    with pytest.raises(Overloaded) as overloaded:
        await r.route(FakeTask(local_error=Overloaded("queue full")))
    assert overloaded.value.retriable
    with pytest.raises(TransientError):
        await r.route(FakeTask(local_error=ConnectionResetError("model server gone")))
    raised = r.metrics.registry.get_sample_value(
        "cairn_routing_requests_total",
        {"feature": "summarizer", "tier": "none", "status": "raised"},
    )
    assert raised == 2.0


async def test_verifier_crash_counts_as_rejection() -> None:
    class Crashy(FakeTask):
        async def verify(self, result):
            raise RuntimeError("nli model missing")

    outcome = await router().route(Crashy())
    assert outcome.refused
    assert outcome.reasons == [E.VERIFIER_REJECTED]
    assert "verifier error" in (outcome.attempts[0].detail or "")


async def test_no_local_tier_and_no_fallback_refuses() -> None:
    r = router(CAIRN_TIERS="openai")
    outcome = await r.route(FakeTask())
    assert outcome.refused and outcome.degraded_reason is DegradedReason.NOT_CONFIGURED
