"""Latency budget (hedging and cut-over), the self-hosted tier, and the images fallback."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from PIL import Image

from shared.errors import Overloaded
from shared.routing import AttemptOutcome, DegradedReason, EscalationReason
from tests.fakes.openai_server import FakeOpenAIServer, Fault
from tests.unit.routing.fake_task import FakeImageTask, FakeTask

E = EscalationReason


async def test_hedging_remote_wins_when_local_is_late(make_router, server: FakeOpenAIServer):
    router = await make_router(CAIRN_LATENCY_BUDGET_MS=50, CAIRN_HEDGING=True)
    task = FakeTask(local_delay_s=1.0)
    outcome = await router.route(task)
    assert outcome.tier == "openai"
    assert outcome.reasons == [E.LOCAL_OVERLOAD]
    assert outcome.latency_ms < 900
    await asyncio.sleep(0)
    assert task.local_cancelled, "the losing local attempt is cancelled"
    local = outcome.attempts[0]
    assert local.tier == "local" and local.outcome is AttemptOutcome.CANCELLED
    hedges = router.metrics.registry.get_sample_value(
        "cairn_routing_hedges_total", {"feature": "summarizer", "winner": "remote"}
    )
    assert hedges == 1.0


async def test_hedging_local_wins_when_remote_is_slower(make_router, server: FakeOpenAIServer):
    server.always(Fault.slow(1.0))
    router = await make_router(CAIRN_LATENCY_BUDGET_MS=30, CAIRN_HEDGING=True)
    task = FakeTask(local_delay_s=0.15)
    outcome = await router.route(task)
    assert outcome.tier == "local" and outcome.result is task.local_result
    assert not outcome.degraded
    assert outcome.reasons == [E.LOCAL_OVERLOAD]
    assert outcome.latency_ms < 900
    remote = [a for a in outcome.attempts if a.tier == "openai"]
    assert remote and remote[0].outcome is AttemptOutcome.CANCELLED
    assert len(server.requests) == 1


async def test_hedging_keeps_waiting_when_first_answer_is_unacceptable(
    make_router, server: FakeOpenAIServer
):
    server.always(Fault.slow(0.3))
    router = await make_router(CAIRN_LATENCY_BUDGET_MS=20, CAIRN_HEDGING=True)
    task = FakeTask(local_delay_s=0.05, reject_local="unfaithful")
    outcome = await router.route(task)
    assert outcome.tier == "openai"
    assert outcome.reasons == [E.LOCAL_OVERLOAD, E.VERIFIER_REJECTED]
    assert len(server.requests) == 1, "the race's fallback call is not repeated"


async def test_hedging_falls_back_to_local_when_remote_fails(make_router, server: FakeOpenAIServer):
    server.always(Fault.error(500))
    router = await make_router(CAIRN_LATENCY_BUDGET_MS=20, CAIRN_HEDGING=True)
    task = FakeTask(local_delay_s=0.2)
    outcome = await router.route(task)
    assert outcome.tier == "local" and outcome.result is task.local_result
    assert not outcome.degraded, "late but complete: lateness alone is not degradation"
    assert outcome.reasons == [E.LOCAL_OVERLOAD]
    assert outcome.attempts[-1].degraded_reason is DegradedReason.PROVIDER_ERROR

    slow_and_unsure = await router.route(FakeTask(local_delay_s=0.2, confidence=-9))
    assert slow_and_unsure.tier == "local" and slow_and_unsure.degraded
    assert slow_and_unsure.degraded_reason is DegradedReason.PROVIDER_ERROR


async def test_without_hedging_the_budget_cuts_over_to_the_fallback(
    make_router, server: FakeOpenAIServer
):
    router = await make_router(CAIRN_LATENCY_BUDGET_MS=50, CAIRN_HEDGING=False)
    task = FakeTask(local_delay_s=1.0)
    outcome = await router.route(task)
    assert outcome.tier == "openai" and outcome.reasons == [E.LOCAL_OVERLOAD]
    assert task.local_cancelled
    assert outcome.attempts[0].outcome is AttemptOutcome.ABANDONED


async def test_cut_over_with_failing_fallback_raises_overloaded(make_router, server):
    server.always(Fault.error(503))
    router = await make_router(CAIRN_LATENCY_BUDGET_MS=30, CAIRN_HEDGING=False)
    with pytest.raises(Overloaded):
        await router.route(FakeTask(local_delay_s=1.0))


async def test_no_timer_when_no_fallback_is_usable(make_router, server: FakeOpenAIServer):
    router = await make_router(CAIRN_LATENCY_BUDGET_MS=10, CAIRN_HEDGING=True)
    task = FakeTask(local_delay_s=0.1, consent_external=False)
    outcome = await router.route(task)
    assert outcome.tier == "local" and outcome.reasons == [] and not outcome.degraded


# -- self-hosted tier ------------------------------------------------------------------


async def test_selfhosted_tier_comes_before_openai(make_router, server: FakeOpenAIServer):
    async with FakeOpenAIServer() as selfhosted:
        router = await make_router(
            CAIRN_TIERS="local,selfhosted,openai",
            SELFHOSTED_BASE_URL=selfhosted.base_url,
            SELFHOSTED_MODEL="qwen2.5-7b-instruct",
            CAIRN_PRICES='{"qwen2.5-7b-instruct": {}}',
        )
        outcome = await router.route(FakeTask(confidence=-9))
        assert outcome.tier == "selfhosted" and outcome.model == "qwen2.5-7b-instruct"
        assert outcome.cost_usd == 0.0, "priced as free"
        assert len(selfhosted.requests) == 1 and server.requests == []
        auth = selfhosted.requests[0].headers["authorization"]
        assert auth == "Bearer unused", "the OpenAI key never goes to another endpoint"

        selfhosted.always(Fault.error(502))
        outcome = await router.route(FakeTask(confidence=-9))
        assert outcome.tier == "openai"
        assert [a.tier for a in outcome.attempts] == ["local", "selfhosted", "openai"]


async def test_internal_selfhosted_tier_needs_no_consent(make_router, server: FakeOpenAIServer):
    async with FakeOpenAIServer() as selfhosted:
        router = await make_router(
            CAIRN_TIERS="local,selfhosted,openai",
            SELFHOSTED_BASE_URL=selfhosted.base_url,
            SELFHOSTED_MODEL="llama-3.1-8b",
            SELFHOSTED_API_KEY="internal-key",
            SELFHOSTED_INTERNAL=True,
        )
        outcome = await router.route(FakeTask(confidence=-9, consent_external=False))
        assert outcome.tier == "selfhosted"
        assert selfhosted.requests[0].headers["authorization"] == "Bearer internal-key"
        assert server.requests == []


async def test_fallback_only_chain_without_local(make_router, server: FakeOpenAIServer):
    router = await make_router(CAIRN_TIERS="openai")
    task = FakeTask()
    outcome = await router.route(task)
    assert outcome.tier == "openai" and task.local_calls == 0
    refused = await router.route(FakeTask(consent_external=False))
    assert refused.refused and refused.degraded_reason is DegradedReason.NO_CONSENT


# -- images (Genmoji) ------------------------------------------------------------------


async def test_image_fallback_when_no_local_match(make_router, server: FakeOpenAIServer):
    router = await make_router()
    task = FakeImageTask(escalate=E.NO_LOCAL_MATCH, text="cat at alice@example.com")
    outcome = await router.route_image(task)
    assert outcome.tier == "openai" and outcome.model == "gpt-image-1"
    assert outcome.reasons == [E.NO_LOCAL_MATCH]
    assert outcome.result is not None
    png = base64.b64decode(outcome.result.png_b64)
    assert Image.open(io.BytesIO(png)).format == "PNG"
    # Moderation first, on exactly the (redacted) prompt the images API then gets.
    moderation, request = server.requests
    assert moderation.path == "/v1/moderations" and request.path == "/v1/images/generations"
    assert moderation.json["model"] == "omni-moderation-latest"
    assert moderation.json["input"] == request.json["prompt"]
    assert "alice@example.com" not in request.text and "[EMAIL_1]" in request.text
    assert outcome.cost_usd > 0


async def test_image_match_stays_local(make_router, server: FakeOpenAIServer):
    router = await make_router()
    outcome = await router.route_image(FakeImageTask())
    assert outcome.tier == "local" and server.requests == []


async def test_image_fallback_without_image_model_is_unsupported(make_router, server):
    async with FakeOpenAIServer() as selfhosted:
        router = await make_router(
            CAIRN_TIERS="local,selfhosted",
            SELFHOSTED_BASE_URL=selfhosted.base_url,
            SELFHOSTED_MODEL="llama",
        )
        outcome = await router.route_image(FakeImageTask(escalate=E.NO_LOCAL_MATCH))
        assert outcome.tier == "local" and outcome.degraded
        assert outcome.degraded_reason is DegradedReason.UNSUPPORTED
        assert selfhosted.requests == []


async def test_broken_image_payload_is_degraded(make_router, server: FakeOpenAIServer):
    # The moderation call answers normally (a no-op fault), the image is broken.
    server.inject(Fault.slow(0), Fault.malformed_content())
    router = await make_router()
    outcome = await router.route_image(FakeImageTask(escalate=E.NO_LOCAL_MATCH))
    assert outcome.tier == "local"
    assert outcome.degraded_reason is DegradedReason.BAD_RESPONSE
