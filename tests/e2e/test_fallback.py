"""Escalation to the OpenAI tier, end to end through Kafka and the database.

The provider is the fake OpenAI server (tests/fakes/openai_server.py) driven through the
unmodified `openai` SDK; everything else is real: broker, database, local models, the
services' own lifespans and the router configured as a deployment would configure it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from shared.routing import Router
from shared.routing.breaker import BreakerState
from tests.e2e.checks import check_emoji, check_proofread, check_summary
from tests.e2e.conftest import RouterFactory, StartCairn
from tests.e2e.support import (
    EMAIL_2,
    INSTRUCTION_TEXT,
    NO_MATCH,
    NO_MATCH_WITH_CONTACTS,
    PHONE_2,
    PII,
    PROOFREAD_FIXES,
    PROOFREAD_TEXT,
    SMOL,
    Delivered,
    assert_sticker_stored,
    envelope,
    family_stack_with_contacts,
    german_stack,
)
from tests.fakes.openai_server import FakeOpenAIServer, Fault

pytestmark = [pytest.mark.kafka, pytest.mark.model, pytest.mark.timeout(600)]

CHAT = "/v1/chat/completions"
IMAGES = "/v1/images/generations"
MODERATIONS = "/v1/moderations"


def openai_router(make_router: RouterFactory, fake: FakeOpenAIServer, **values: Any) -> Router:
    return make_router(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_TIMEOUT_S=10,
        OPENAI_IMAGE_TIMEOUT_S=10,
        **values,
    )


def summarize_best(*, consent: bool) -> dict[str, Any]:
    return envelope(
        family_stack_with_contacts(), user="user-family", consent=consent, quality="best"
    )


def proofread_best(*, consent: bool) -> dict[str, Any]:
    return envelope(
        {"operation": "proofread", "text": PROOFREAD_TEXT},
        user="writer-best",
        consent=consent,
        quality="best",
    )


def no_match(description: str, *, consent: bool) -> dict[str, Any]:
    return envelope(
        {"description": description, "count": 3, "variations": 2},
        user=f"emoji-{uuid.uuid4().hex[:6]}",
        consent=consent,
    )


def assert_redacted(fake: FakeOpenAIServer) -> None:
    """No contact detail of any input reached the provider: only placeholders did."""
    assert fake.requests, "the provider was called"
    for request in fake.requests:
        assert request.headers["authorization"] == "Bearer test-key"
        for secret in PII:
            assert secret not in request.text, f"{secret!r} sent to the provider"


def assert_served_by_openai(d: Delivered, reason: str) -> None:
    assert d.status == "ok", d.published
    assert d.row.tier == "openai" and reason in d.row.reasons, (d.row.tier, d.row.reasons)
    assert d.row.degraded_reason is None and d.row.verified
    assert d.row.prompt_tokens > 0 and d.row.completion_tokens > 0 and d.row.cost_usd > 0


def assert_local_degraded(d: Delivered, reason: str, why: str) -> None:
    """Answered locally, flagged: the escalation `reason` on record and why it failed."""
    assert d.status == "degraded", d.published
    assert d.row.tier == "local" and reason in d.row.reasons, (d.row.tier, d.row.reasons)
    assert d.row.degraded_reason and why in d.row.degraded_reason, d.row.degraded_reason


def assert_local_summary_degraded(d: Delivered, why: str) -> None:
    """A local summary (generated, or quoted when the draft failed), flagged degraded."""
    check_summary(d, model=SMOL)
    assert_local_degraded(d, "quality_hint", why)


async def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_hard_requests_are_answered_by_openai_with_redacted_prompts(
    cairn: StartCairn, make_router: RouterFactory, fake_openai: FakeOpenAIServer
) -> None:
    services = await cairn(openai_router(make_router, fake_openai))
    summary = summarize_best(consent=True)
    german = envelope(german_stack(), user="user-de", locale="de-DE", consent=True)
    instruction = envelope(
        {
            "operation": "instruction",
            "instruction": "Turn this into a polite reminder.",
            "text": INSTRUCTION_TEXT,
        },
        user="writer-instruction",
        consent=True,
    )
    proofread = proofread_best(consent=True)
    sticker = no_match(NO_MATCH_WITH_CONTACTS, consent=True)

    summaries, rewrites, emoji = await asyncio.gather(
        services.request("summarize", [summary, german]),
        services.request("rewrite", [instruction, proofread]),
        services.request("emoji", [sticker]),
    )
    await services.assert_one_row_per_request()

    # Summaries: quality hint and language each escalate; the answer is checked and labelled
    # like a local one.
    for event, reason in ((summary, "quality_hint"), (german, "unsupported_language")):
        delivered = summaries[event["request_id"]]
        assert_served_by_openai(delivered, reason)
        check_summary(delivered, model="gpt-4o-mini")
        assert delivered.result is not None and not delivered.result["extractive"]

    # Writing: the provider saw placeholders; the published text has the real details back.
    done = rewrites[instruction["request_id"]]
    assert_served_by_openai(done, "freeform_instruction")
    assert done.result is not None and done.result["text"] == INSTRUCTION_TEXT
    assert EMAIL_2 in done.result["text"] and PHONE_2 in done.result["text"]
    fixed = rewrites[proofread["request_id"]]
    assert_served_by_openai(fixed, "quality_hint")
    edits = check_proofread(fixed)
    assert {(e["original"], e["replacement"]) for e in edits} == set(PROOFREAD_FIXES.items())
    assert fixed.result is not None and EMAIL_2 in fixed.result["text"]

    # Emoji: nothing similar enough, so the images API drew it; stored like a composed one.
    drawn = emoji[sticker["request_id"]]
    assert_served_by_openai(drawn, "no_local_match")
    assert drawn.row.model == "gpt-image-1"
    assert drawn.result is not None and drawn.result["matched"] is False
    assert len(drawn.result["candidates"]) == 3
    [generated] = drawn.result["stickers"]
    assert generated["generated"] is True and generated["components"] == []
    assert_sticker_stored(services.blobs, generated, 192)

    assert Counter(r.path for r in fake_openai.requests) == {CHAT: 4, MODERATIONS: 1, IMAGES: 1}
    assert_redacted(fake_openai)
    # The moderation call saw exactly the (redacted) prompt the images API then got.
    [moderation] = fake_openai.requests_to(MODERATIONS)
    assert moderation.json["input"] == fake_openai.requests_to(IMAGES)[0].json["prompt"]
    bodies = [r.text for r in fake_openai.requests if r.path != MODERATIONS]
    assert sum("[EMAIL_1]" in b for b in bodies) == 4  # family chat, lease, proofread, invoice
    assert sum("[PHONE_1]" in b for b in bodies) == 3  # family chat, lease, invoice


async def test_failing_provider_degrades_locally_opens_the_breaker_and_recovers(
    cairn: StartCairn, make_router: RouterFactory, fake_openai: FakeOpenAIServer
) -> None:
    # The cooldown must outlast a local emoji request on a loaded 2-core machine: the
    # request sent while the breaker is open has to finish before it half-opens.
    failures, cooldown_s = 3, 30.0
    router = openai_router(
        make_router,
        fake_openai,
        CAIRN_FALLBACK_MAX_RETRIES=0,
        CAIRN_BREAKER_FAILURES=failures,
        CAIRN_BREAKER_COOLDOWN_S=cooldown_s,
    )
    breaker = router.breaker("openai")
    assert breaker is not None

    def state() -> BreakerState:
        assert breaker is not None
        return breaker.state

    def gauge() -> float | None:  # 0 closed, 1 half-open, 2 open
        sample = {"endpoint": "openai"}
        return router.metrics.registry.get_sample_value("cairn_routing_breaker_state", sample)

    services = await cairn(router)

    # The provider is down: a reset connection, then 500s.
    fake_openai.inject(Fault.reset())
    fake_openai.always(Fault.error(500))
    summary = summarize_best(consent=True)
    proofread = proofread_best(consent=True)
    sticker = no_match(NO_MATCH, consent=True)
    first = asyncio.gather(
        services.request("summarize", [summary]),
        services.request("rewrite", [proofread]),
        services.request("emoji", [sticker]),
    )
    try:
        # One call each (no retries): the third failure opens the breaker.
        await wait_for(lambda: state() is not BreakerState.CLOSED, 120, "the breaker to open")
        assert state() is BreakerState.OPEN and gauge() == 2
        assert len(fake_openai.requests) == failures
        # While it is open, a hard request does not even try the provider.
        during = no_match(NO_MATCH, consent=True)
        blocked = (await services.request("emoji", [during]))[during["request_id"]]
        assert state() is BreakerState.OPEN, "the cooldown passed too early to tell"
    except BaseException:
        first.cancel()
        raise
    assert len(fake_openai.requests) == failures
    assert_local_degraded(blocked, "no_local_match", "breaker_open")
    check_emoji(blocked, services.blobs)

    summaries, rewrites, emoji = await first
    assert_local_summary_degraded(summaries[summary["request_id"]], "provider_error")
    answered = rewrites[proofread["request_id"]]
    assert_local_degraded(answered, "quality_hint", "provider_error")
    check_proofread(answered)
    local_sticker = emoji[sticker["request_id"]]
    # Its moderation call failed: fail closed, no images call, the local sticker degraded.
    assert_local_degraded(local_sticker, "no_local_match", "moderation_unavailable")
    check_emoji(local_sticker, services.blobs)
    assert_redacted(fake_openai)

    # The provider is back; after the cooldown one probe goes through and closes the breaker.
    fake_openai.always(None)
    await wait_for(lambda: state() is BreakerState.HALF_OPEN, cooldown_s + 5, "cooldown")
    probe = summarize_best(consent=True)
    recovered = await services.request("summarize", [probe])
    assert_served_by_openai(recovered[probe["request_id"]], "quality_hint")
    assert state() is BreakerState.CLOSED and gauge() == 0
    after = no_match(NO_MATCH, consent=True)
    again = await services.request("emoji", [after])
    assert_served_by_openai(again[after["request_id"]], "no_local_match")
    assert len(fake_openai.requests) == failures + 3  # the probe, moderation, the image
    await services.assert_one_row_per_request()


async def test_without_consent_nothing_reaches_the_provider(
    cairn: StartCairn, make_router: RouterFactory, fake_openai: FakeOpenAIServer
) -> None:
    services = await cairn(openai_router(make_router, fake_openai))
    summary = summarize_best(consent=False)
    proofread = proofread_best(consent=False)
    sticker = no_match(NO_MATCH_WITH_CONTACTS, consent=False)

    summaries, rewrites, emoji = await asyncio.gather(
        services.request("summarize", [summary]),
        services.request("rewrite", [proofread]),
        services.request("emoji", [sticker]),
    )
    await services.assert_one_row_per_request()

    assert fake_openai.requests == [], "a request without consent left the deployment"
    assert_local_summary_degraded(summaries[summary["request_id"]], "no_consent")
    answered = rewrites[proofread["request_id"]]
    assert_local_degraded(answered, "quality_hint", "no_consent")
    check_proofread(answered)
    local_sticker = emoji[sticker["request_id"]]
    assert_local_degraded(local_sticker, "no_local_match", "no_consent")
    check_emoji(local_sticker, services.blobs)
    for delivered in (*summaries.values(), *rewrites.values(), *emoji.values()):
        assert delivered.row.cost_usd == 0
