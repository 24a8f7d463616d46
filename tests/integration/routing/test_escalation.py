"""Hardness policy, consent, redaction and budgets, end to end through the real SDK."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.errors import Overloaded, PermanentError
from shared.routing import (
    AttemptOutcome,
    DegradedReason,
    EscalationReason,
    InMemoryBudgetStore,
    Spend,
)
from shared.routing.budget import utc_today
from tests.fakes.openai_server import FakeOpenAIServer
from tests.unit.routing.fake_task import FakeTask, Summary

E = EscalationReason


async def test_easy_request_stays_local(make_router, server: FakeOpenAIServer) -> None:
    router = await make_router()
    task = FakeTask()
    outcome = await router.route(task)
    assert outcome.tier == "local"
    assert outcome.result is task.local_result
    assert outcome.reasons == [] and not outcome.degraded and not outcome.refused
    assert outcome.model == "local-tiny" and outcome.prompt_tokens == 12
    assert server.requests == []


async def test_low_confidence_escalates_with_structured_output(
    make_router, server: FakeOpenAIServer
) -> None:
    router = await make_router()
    outcome = await router.route(FakeTask(confidence=-3.0))
    assert outcome.tier == "openai" and outcome.model == "gpt-4o-mini"
    assert outcome.reasons == [E.LOW_CONFIDENCE]
    assert isinstance(outcome.result, Summary)
    assert outcome.result.summary.startswith("Dinner moved")
    assert outcome.prompt_tokens > 0 and outcome.completion_tokens > 0
    expected = (outcome.prompt_tokens * 0.15 + outcome.completion_tokens * 0.60) / 1e6
    assert outcome.cost_usd == pytest.approx(expected)
    body = server.requests[0].json
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert server.requests[0].headers["authorization"] == "Bearer sk-test-key"
    tiers = [(a.tier, a.outcome) for a in outcome.attempts]
    assert tiers == [("local", AttemptOutcome.ESCALATED), ("openai", AttemptOutcome.SERVED)]


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        (FakeTask(reject_local="summary contradicts the source"), E.VERIFIER_REJECTED),
        (FakeTask(escalate=E.NO_LOCAL_MATCH), E.NO_LOCAL_MATCH),
        (FakeTask(local_error=Overloaded("queue full")), E.LOCAL_OVERLOAD),
        (FakeTask(local_error=RuntimeError("CUDA OOM")), E.LOCAL_ERROR),
    ],
    ids=["verifier", "no-match", "overload", "local-error"],
)
async def test_reasons_found_after_local(make_router, task: FakeTask, reason) -> None:
    router = await make_router()
    outcome = await router.route(task)
    assert outcome.tier == "openai"
    assert outcome.reasons == [reason]
    assert task.local_calls == 1


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        (FakeTask(reasons=[E.TOO_LONG]), E.TOO_LONG),
        (FakeTask(reasons=[E.FREEFORM_INSTRUCTION]), E.FREEFORM_INSTRUCTION),
        (FakeTask(locale="ja-JP"), E.UNSUPPORTED_LANGUAGE),
        (FakeTask(quality_hint="best"), E.QUALITY_HINT),
    ],
    ids=["too-long", "freeform", "language", "quality-hint"],
)
async def test_reasons_known_before_local_skip_it(make_router, task: FakeTask, reason) -> None:
    router = await make_router()
    outcome = await router.route(task)
    assert outcome.tier == "openai"
    assert outcome.reasons == [reason]
    assert task.local_calls == 0, "a request known to be hard goes straight to the fallback"


async def test_fast_quality_hint_and_supported_language_stay_local(make_router) -> None:
    router = await make_router(CAIRN_LOCAL_LANGUAGES="en,de")
    outcome = await router.route(FakeTask(quality_hint="fast", locale="de_CH"))
    assert outcome.tier == "local" and outcome.reasons == []


async def test_reasons_accumulate(make_router) -> None:
    router = await make_router()
    outcome = await router.route(FakeTask(reasons=[E.TOO_LONG], quality_hint="best"))
    assert outcome.reasons == [E.TOO_LONG, E.QUALITY_HINT]


# -- consent ---------------------------------------------------------------------------


async def test_no_consent_serves_local_degraded(make_router, server: FakeOpenAIServer) -> None:
    router = await make_router()
    outcome = await router.route(FakeTask(consent_external=False, confidence=-5.0))
    assert outcome.tier == "local" and outcome.result is not None
    assert outcome.degraded and outcome.degraded_reason is DegradedReason.NO_CONSENT
    assert outcome.reasons == [E.LOW_CONFIDENCE]
    assert server.requests == []


async def test_no_consent_and_nothing_acceptable_refuses(
    make_router, server: FakeOpenAIServer
) -> None:
    router = await make_router()
    outcome = await router.route(FakeTask(consent_external=False, reject_local="unfaithful"))
    assert outcome.refused and outcome.result is None and outcome.tier is None
    assert outcome.degraded_reason is DegradedReason.NO_CONSENT
    assert outcome.reasons == [E.VERIFIER_REJECTED]
    assert server.requests == []


async def test_no_consent_with_hard_request_runs_local_as_last_resort(
    make_router, server: FakeOpenAIServer
) -> None:
    router = await make_router()
    task = FakeTask(consent_external=False, reasons=[E.TOO_LONG])
    outcome = await router.route(task)
    assert outcome.tier == "local" and outcome.degraded and task.local_calls == 1
    assert server.requests == []


async def test_local_overload_without_fallback_raises_overloaded(make_router) -> None:
    router = await make_router()
    with pytest.raises(Overloaded):
        await router.route(FakeTask(consent_external=False, local_error=Overloaded("full")))


async def test_permanent_local_error_without_fallback_is_raised(make_router) -> None:
    router = await make_router()
    with pytest.raises(PermanentError):
        await router.route(FakeTask(consent_external=False, local_error=PermanentError("bad")))


# -- redaction -------------------------------------------------------------------------

PRIVATE = {
    "email": "alice.smith@example.com",
    "phone": "+1 (415) 555-2671",
    "url": "https://bank.example.org/reset?token=abc123",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "account": "12345678901",
    "address": "221B Baker Street",
}


async def test_redacted_before_leaving_and_rehydrated_in_answer(
    make_router, server: FakeOpenAIServer
) -> None:
    text = (
        f"Mail {PRIVATE['email']} or call {PRIVATE['phone']}. Reset at {PRIVATE['url']}. "
        f"Card {PRIVATE['card']}, IBAN {PRIVATE['iban']}, account {PRIVATE['account']}. "
        f"Parcel goes to {PRIVATE['address']}. Again: {PRIVATE['email']}."
    )
    router = await make_router()
    outcome = await router.route(FakeTask(text=text, confidence=-9.0))
    assert outcome.tier == "openai"

    sent = server.requests[0].text
    for kind, value in PRIVATE.items():
        assert value not in sent, f"{kind} leaked"
        assert json.dumps(value)[1:-1] not in sent, f"{kind} leaked (JSON-escaped)"
    assert "[EMAIL_1]" in sent and "[EMAIL_2]" not in sent, "same value, same placeholder"
    assert "placeholder" in server.requests[0].json["messages"][0]["content"]

    # The fake echoes the redacted prompt into every string field; the router restores it.
    assert outcome.result is not None
    for value in PRIVATE.values():
        assert value in outcome.result.summary
        assert value in outcome.result.key_points[0]
    assert "[EMAIL_1]" not in outcome.result.summary
    assert outcome.redactions == {
        "URL": 1,
        "EMAIL": 1,
        "IBAN": 1,
        "CARD": 1,
        "ACCOUNT": 1,
        "PHONE": 1,
        "ADDRESS": 1,
    }


async def test_responder_sees_only_placeholders(make_router, server: FakeOpenAIServer) -> None:
    seen: list[str] = []

    def responder(body: dict[str, Any]) -> dict[str, Any]:
        user = body["messages"][-1]["content"]
        seen.append(user)
        return {"summary": "Write to [email_1] soon.", "key_points": ["[ EMAIL_1 ]", "[PHONE_9]"]}

    server.responder = responder
    router = await make_router()
    outcome = await router.route(FakeTask(text="ping bob@corp.example.com", confidence=-9))
    assert seen == ["ping [EMAIL_1]"]
    assert outcome.result is not None
    assert outcome.result.summary == "Write to bob@corp.example.com soon."
    # Tolerant matching of placeholders the model reformatted; unknown ones stay.
    assert outcome.result.key_points == ["bob@corp.example.com", "[PHONE_9]"]


# -- budgets ---------------------------------------------------------------------------


async def test_token_budget_reserves_the_estimate_and_settles_to_the_usage(
    make_router, server: FakeOpenAIServer
) -> None:
    store = InMemoryBudgetStore()
    router = await make_router(
        CAIRN_TENANT_DAILY_TOKENS=5000, CAIRN_FALLBACK_MAX_OUTPUT_TOKENS=64, budget_store=store
    )
    first = await router.route(FakeTask(confidence=-9))
    assert first.tier == "openai"
    spent = await store.spent("tenant-a", utc_today())
    assert spent.tokens == first.prompt_tokens + first.completion_tokens, "settled to usage"
    assert spent.usd == pytest.approx(first.cost_usd) and first.cost_usd > 0

    # Leave less than one estimate: the next call is refused before anything is sent.
    await store.add("tenant-a", utc_today(), 5000 - spent.tokens - 100, 0.0)
    second = await router.route(FakeTask(confidence=-9))
    assert second.tier == "local" and second.degraded
    assert second.degraded_reason is DegradedReason.BUDGET_EXHAUSTED
    assert len(server.requests) == 1
    assert (await store.spent("tenant-a", utc_today())).tokens == 4900, "nothing reserved"

    other_tenant = await router.route(FakeTask(confidence=-9, tenant_id="tenant-b"))
    assert other_tenant.tier == "openai"


async def test_token_cap_below_one_estimate_never_calls(make_router, server) -> None:
    store = InMemoryBudgetStore()
    router = await make_router(CAIRN_TENANT_DAILY_TOKENS=10, budget_store=store)
    outcome = await router.route(FakeTask(confidence=-9))
    assert outcome.degraded_reason is DegradedReason.BUDGET_EXHAUSTED
    assert server.requests == [], "check-then-charge would have sent it and overshot"
    assert await store.spent("tenant-a", utc_today()) == Spend()


async def test_usd_budget_uses_price_table(make_router, server: FakeOpenAIServer) -> None:
    # $1 a prompt token: one call's estimate is far above the $0.5 cap, so none is sent.
    prices = {"gpt-4o-mini": {"input_per_mtok": 1_000_000, "output_per_mtok": 0}}
    router = await make_router(CAIRN_TENANT_DAILY_USD=0.5, CAIRN_PRICES=json.dumps(prices))
    first = await router.route(FakeTask(confidence=-9))
    assert first.degraded_reason is DegradedReason.BUDGET_EXHAUSTED
    assert server.requests == []

    roomy = await make_router(CAIRN_TENANT_DAILY_USD=10_000, CAIRN_PRICES=json.dumps(prices))
    served = await roomy.route(FakeTask(confidence=-9))
    assert served.tier == "openai"
    assert served.cost_usd == pytest.approx(served.prompt_tokens * 1.0)
    spent = await roomy.budget_store.spent("tenant-a", utc_today())
    assert spent.usd == pytest.approx(served.cost_usd)


async def test_remote_answer_failing_verifier_is_charged_and_local_served(
    make_router, server: FakeOpenAIServer
) -> None:
    router = await make_router()
    task = FakeTask(confidence=-9, reject_remote="wrong language")
    outcome = await router.route(task)
    assert outcome.tier == "local" and outcome.degraded
    assert outcome.degraded_reason is DegradedReason.REMOTE_REJECTED
    assert outcome.cost_usd > 0, "the rejected answer was paid for"
    spent = await router.budget_store.spent("tenant-a", utc_today())
    assert spent.tokens > 0


# -- audit and metrics -----------------------------------------------------------------


async def test_audit_is_json_and_metrics_count_reasons(make_router) -> None:
    router = await make_router()
    outcome = await router.route(FakeTask(confidence=-9, locale="fr-FR"))
    audit = json.loads(json.dumps(outcome.audit()))
    assert audit["tier"] == "openai"
    assert audit["reasons"] == ["unsupported_language"]
    assert [a["tier"] for a in audit["attempts"]] == ["openai"]

    registry = router.metrics.registry
    value = registry.get_sample_value(
        "cairn_routing_escalations_total",
        {"feature": "summarizer", "tier": "openai", "reason": "unsupported_language"},
    )
    assert value == 1.0
    assert (
        registry.get_sample_value(
            "cairn_routing_requests_total",
            {"feature": "summarizer", "tier": "openai", "status": "served"},
        )
        == 1.0
    )
    assert registry.get_sample_value(
        "cairn_routing_cost_usd_total", {"feature": "summarizer", "tier": "openai"}
    ) == pytest.approx(outcome.cost_usd)
