"""The moderation gate in front of the images API, through the real SDK and the fake server:
flagged refuses (no image, no other tier), a moderation failure fails closed."""

from __future__ import annotations

import pytest
from openai import AsyncOpenAI

from shared.errors import TransientError
from shared.routing import AttemptOutcome, DegradedReason, EscalationReason
from tests.fakes.openai_server import FakeOpenAIServer, Fault
from tests.unit.routing.fake_task import FakeImageTask, FakeTask

MODERATIONS = "/v1/moderations"
IMAGES = "/v1/images/generations"


async def test_flagged_prompt_is_refused_before_any_image(make_router, server: FakeOpenAIServer):
    server.flag("abdrücken", categories=("violence", "illicit/violent"))
    router = await make_router()
    task = FakeImageTask(
        escalate=EscalationReason.NO_LOCAL_MATCH,
        text="eine Pistole auf einen Menschen richten und abdrücken",
    )
    outcome = await router.route_image(task)
    assert outcome.refused and outcome.result is None and outcome.tier is None
    assert outcome.degraded_reason is DegradedReason.CONTENT_FLAGGED
    flagged = outcome.attempts[-1]
    assert flagged.tier == "openai" and flagged.outcome is AttemptOutcome.REJECTED
    assert flagged.detail == "illicit/violent, violence"
    assert server.requests_to(IMAGES) == []
    (moderation,) = server.requests_to(MODERATIONS)
    assert "abdrücken" in moderation.json["input"]


async def test_cleared_prompt_is_drawn(make_router, server: FakeOpenAIServer):
    server.flag("abdrücken")
    router = await make_router()
    outcome = await router.route_image(FakeImageTask(escalate=EscalationReason.NO_LOCAL_MATCH))
    assert outcome.tier == "openai" and outcome.result is not None
    assert [r.path for r in server.requests] == [MODERATIONS, IMAGES]


@pytest.mark.parametrize(
    "fault", [Fault.error(500), Fault.malformed_content(), Fault.reset(), Fault.error(404)]
)
async def test_moderation_failure_fails_closed(make_router, server: FakeOpenAIServer, fault):
    server.always(fault)
    router = await make_router()
    outcome = await router.route_image(FakeImageTask(escalate=EscalationReason.NO_LOCAL_MATCH))
    # No image is generated: the local answer is served, flagged degraded.
    assert outcome.tier == "local" and outcome.degraded and not outcome.refused
    assert outcome.degraded_reason is DegradedReason.MODERATION_UNAVAILABLE
    assert server.requests_to(IMAGES) == []
    assert server.requests and all(r.path == MODERATIONS for r in server.requests)


async def test_moderation_failure_without_local_tier_is_retried(
    make_router, server: FakeOpenAIServer
):
    server.always(Fault.error(503))
    router = await make_router(CAIRN_TIERS="openai")
    with pytest.raises(TransientError):
        await router.route_image(FakeImageTask(escalate=EscalationReason.NO_LOCAL_MATCH))
    assert server.requests_to(IMAGES) == []


async def test_text_answers_are_not_moderated(make_router, server: FakeOpenAIServer):
    server.flag("wine")
    router = await make_router()
    outcome = await router.route(FakeTask(confidence=-9))
    assert outcome.tier == "openai"
    assert server.requests_to(MODERATIONS) == []


async def test_fake_moderation_endpoint_speaks_the_wire_shape(server: FakeOpenAIServer):

    server.flag("noose", categories=("self-harm", "self-harm/intent"))
    async with AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        response = await client.moderations.create(
            model="omni-moderation-latest", input=["a noose", "a cat"]
        )
    flagged, clean = response.results
    assert flagged.flagged and flagged.categories.self_harm and flagged.categories.self_harm_intent
    assert not flagged.categories.violence and flagged.category_scores.self_harm > 0.9
    assert not clean.flagged and not any(clean.categories.model_dump().values())
    assert response.model == "omni-moderation-latest"
    assert server.requests_to(MODERATIONS)[0].json["input"] == ["a noose", "a cat"]
