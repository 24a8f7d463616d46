"""The handler end to end with a scripted generator and the real router (no model weights)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from schemas.envelope import QualityHint, ResultStatus
from schemas.summarize import NotificationCategory, NotificationSummary
from services.summarizer.handler import SummarizeHandler
from services.summarizer.settings import AI_LABEL, EXTRACTIVE_LABEL, SummarizerSettings
from services.summarizer.stack import sources_of
from shared.errors import Overloaded
from shared.routing import Router, RoutingSettings
from shared.verification.grounding import check
from tests.fakes.openai_server import FakeOpenAIServer

from .factories import FakeGenerator, FakeState, note, request

STACK = [
    note("m1", "Dinner moved to Friday 7:30 PM at Chez Nous.", sender="Alice", minutes=0),
    note("m2", "Can you bring the wine? Budget is $40.", sender="Alice", minutes=5),
    note("m3", "Bob is coming too.", sender="Alice", minutes=9),
]
GROUNDED = "Alice moved dinner to Friday 7:30pm at Chez Nous; bring wine ($40), Bob is coming."
INVENTED = "Carol moved dinner to Saturday at 8pm and wants $60 of wine."


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    async with Router(RoutingSettings(CAIRN_TIERS="local", _env_file=None)) as r:
        yield r


def settings(**values: Any) -> SummarizerSettings:
    # One draft per round unless a test asks for more: the fakes script replies in order.
    values.setdefault("CAIRN_SUMMARIZER_CANDIDATES", 1)
    return SummarizerSettings(_env_file=None, **values)


async def test_consensus_picks_the_majority_reading(router: Router) -> None:
    majority = "Alice moved dinner to Friday 7:30 PM at Chez Nous and asks you to bring wine."
    similar = "Alice moved dinner to Friday 7:30 PM at Chez Nous; she asks you to bring wine."
    outlier = "Bob is coming too, Alice says."
    gen = FakeGenerator([outlier, majority, similar])
    out = await SummarizeHandler(gen, router, settings(CAIRN_SUMMARIZER_CANDIDATES=3))(
        request(STACK)
    )
    # Three drafts in one round, all grounded: the one closest to the others is served.
    assert len(gen.calls) == 3
    assert out.result is not None and out.result.summary == majority


def grounded_in_stack(summary: NotificationSummary, stack: list[Any]) -> bool:
    return check(summary.summary, sources_of(stack)).ok


async def test_grounded_model_summary_is_published(router: Router) -> None:
    gen = FakeGenerator([GROUNDED])
    handler = SummarizeHandler(gen, router, settings())
    out = await handler(request(STACK))
    assert out.status is ResultStatus.OK
    assert out.result is not None
    assert out.result.summary == GROUNDED
    assert out.result.covered_ids == ["m1", "m2", "m3"]
    assert not out.result.extractive
    assert out.result.labels == [AI_LABEL]
    assert out.provenance.tier == "local"
    assert out.provenance.model == "fake-generator"
    assert out.provenance.verified
    assert out.subject_key == "stack-1"
    assert len(gen.calls) == 1


async def test_invented_summary_is_regenerated_once_with_a_stricter_prompt(router: Router) -> None:
    gen = FakeGenerator([INVENTED, GROUNDED])
    out = await SummarizeHandler(gen, router, settings())(request(STACK))
    assert len(gen.calls) == 2
    assert "rejected" in gen.calls[1][0].content and "Carol" in gen.calls[1][0].content
    assert out.result is not None
    assert out.result.summary == GROUNDED
    assert out.status is ResultStatus.OK


async def test_twice_invented_summary_falls_back_to_extractive(router: Router) -> None:
    gen = FakeGenerator([INVENTED])
    out = await SummarizeHandler(gen, router, settings())(request(STACK))
    assert len(gen.calls) == 2
    assert out.status is ResultStatus.DEGRADED
    assert out.result is not None
    assert out.result.extractive
    assert out.result.labels == [EXTRACTIVE_LABEL]
    assert "Carol" not in out.result.summary
    assert grounded_in_stack(out.result, STACK)
    assert out.provenance.verified
    assert "verifier_rejected" in out.provenance.reasons
    assert out.provenance.degraded_reason is not None
    assert out.provenance.degraded_reason.startswith("extractive fallback")
    # Local only: why the fallback tier could not improve on it is on record too.
    assert out.provenance.degraded_reason.endswith("escalation not possible: not_configured")


async def test_without_regeneration_the_first_rejection_falls_back(router: Router) -> None:
    gen = FakeGenerator([INVENTED, GROUNDED])
    out = await SummarizeHandler(gen, router, settings(CAIRN_SUMMARIZER_REGENERATE=False))(
        request(STACK)
    )
    assert len(gen.calls) == 1
    assert out.result is not None and out.result.extractive


async def test_overlong_model_output_is_fitted_to_the_cap(router: Router) -> None:
    long = "Alice moved dinner to Friday. " * 10
    out = await SummarizeHandler(FakeGenerator([long]), router, settings())(
        request(STACK, max_chars=60)
    )
    assert out.result is not None
    assert len(out.result.summary) <= 60
    assert out.result.summary.startswith("Alice moved dinner to Friday.")


@pytest.mark.parametrize("max_chars", [40, 80, 160, 400])
async def test_every_path_respects_the_cap(router: Router, max_chars: int) -> None:
    for replies in ([GROUNDED], [INVENTED]):
        out = await SummarizeHandler(FakeGenerator(replies), router, settings())(
            request(STACK, max_chars=max_chars)
        )
        assert out.result is not None
        assert 0 < len(out.result.summary) <= max_chars
        assert grounded_in_stack(out.result, STACK)


async def test_single_notification_needs_no_model(router: Router) -> None:
    gen = FakeGenerator([INVENTED])
    out = await SummarizeHandler(gen, router, settings())(request(STACK[:1]))
    assert gen.calls == []
    assert out.status is ResultStatus.OK
    assert out.result is not None
    assert out.result.extractive
    assert out.result.summary == "Alice: Dinner moved to Friday 7:30 PM at Chez Nous."


async def test_opted_out_app_is_refused_without_a_model_call(router: Router) -> None:
    gen = FakeGenerator([GROUNDED])
    out = await SummarizeHandler(gen, router, settings())(request(STACK, opted_out=["chat"]))
    assert gen.calls == []
    assert out.status is ResultStatus.REFUSED
    assert out.result is not None
    assert out.result.skipped_reason == "app_opted_out"
    assert out.result.summary == ""
    assert out.result.covered_ids == []


async def test_news_is_not_summarised_unless_the_tenant_allows_it(router: Router) -> None:
    news = [
        note("h1", "Markets fall 3% on rate fears", sender=None, title="Daily Wire", minutes=0,
             category=NotificationCategory.NEWS, app_id="news"),
        note("h2", "Storm warning for the coast tonight", sender=None, title="Daily Wire",
             minutes=1, category=NotificationCategory.NEWS, app_id="news"),
    ]  # fmt: skip
    gen = FakeGenerator(["Daily Wire: markets fall 3%; storm warning tonight."])
    handler = SummarizeHandler(gen, router, settings())
    refused = await handler(request(news))
    assert gen.calls == []
    assert refused.status is ResultStatus.REFUSED
    assert refused.result is not None
    assert refused.result.skipped_reason == "sensitive_category"

    allowed = await handler(request(news, allow_sensitive=True))
    assert len(gen.calls) == 1
    assert allowed.status is ResultStatus.OK
    assert allowed.result is not None and allowed.result.summary.startswith("Daily Wire")


async def test_disclaimer_label_when_configured(router: Router) -> None:
    handler = SummarizeHandler(
        FakeGenerator([GROUNDED]), router, settings(CAIRN_SUMMARIZER_DISCLAIMER="May be wrong")
    )
    out = await handler(request(STACK))
    assert out.result is not None
    assert out.result.labels == [AI_LABEL, "disclaimer:May be wrong"]


async def test_ranking_is_part_of_the_result(router: Router) -> None:
    stack = [*STACK, note("m4", "Urgent: call me when you can", sender="Alice", minutes=12)]
    out = await SummarizeHandler(FakeGenerator([GROUNDED]), router, settings())(request(stack))
    assert out.result is not None
    assert [r.notification_id for r in out.result.ranked] == ["m4", "m3", "m2", "m1"]
    assert out.result.ranked[0].reason == "marked urgent"


async def test_notifications_are_taken_in_time_order(router: Router) -> None:
    shuffled = [STACK[2], STACK[0], STACK[1]]
    gen = FakeGenerator([GROUNDED])
    out = await SummarizeHandler(gen, router, settings())(request(shuffled))
    assert out.result is not None
    assert out.result.covered_ids == ["m1", "m2", "m3"]
    prompt = gen.last_prompt()
    assert prompt.index("Chez Nous") < prompt.index("wine") < prompt.index("Bob")


async def test_too_long_for_the_local_model_runs_no_model(router: Router) -> None:
    gen = FakeGenerator([GROUNDED], max_prompt_tokens=20)
    out = await SummarizeHandler(gen, router, settings())(request(STACK))
    assert gen.calls == []
    assert out.status is ResultStatus.DEGRADED
    assert out.result is not None and out.result.extractive
    assert "too_long" in out.provenance.reasons


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"locale": "de-DE"}, "unsupported_language"),
        ({"quality": QualityHint.BEST}, "quality_hint"),
    ],
)
async def test_escalation_wanted_but_impossible_serves_the_verified_local_summary(
    router: Router, kwargs: dict[str, Any], reason: str
) -> None:
    out = await SummarizeHandler(FakeGenerator([GROUNDED]), router, settings())(
        request(STACK, **kwargs)
    )
    assert out.status is ResultStatus.DEGRADED
    assert reason in out.provenance.reasons
    assert out.provenance.degraded_reason == "not_configured"
    assert out.result is not None and out.result.summary == GROUNDED


async def test_local_overload_is_raised_for_a_retry_not_swallowed(router: Router) -> None:
    class Busy(FakeGenerator):
        async def generate(self, *args: Any, **kwargs: Any) -> Any:
            raise Overloaded("queue full")

    with pytest.raises(Overloaded):
        await SummarizeHandler(Busy([]), router, settings())(request(STACK))


# --- incremental updates -------------------------------------------------------------

# Where `request(...)`'s stored state lives: feature, tenant, user, stack id.
OWN_STACK = ("summarize", "tenant-1", "user-1", "stack-1")


def stored(summary: str, ids: list[str], **extra: Any) -> dict[str, Any]:
    return NotificationSummary(
        stack_id="stack-1", summary=summary, covered_ids=ids, ranked=[], labels=[AI_LABEL], **extra
    ).model_dump(mode="json")


async def test_new_notification_extends_the_stored_summary(router: Router) -> None:
    previous = "Alice moved dinner to Friday 7:30pm at Chez Nous."
    state = FakeState({OWN_STACK: stored(previous, ["m1", "m2"])})
    gen = FakeGenerator([previous + " Bob is coming too."])
    out = await SummarizeHandler(gen, router, settings(), state)(request(STACK))
    assert state.reads == [OWN_STACK]
    prompt = gen.last_prompt()
    assert prompt.startswith(f"Earlier summary: {previous}")
    assert "Bob is coming too." in prompt
    assert "wine" not in prompt  # m2 is covered by the stored summary
    assert out.result is not None
    assert out.result.covered_ids == ["m1", "m2", "m3"]
    assert out.result.summary.endswith("Bob is coming too.")


async def test_stored_summary_that_covers_everything_is_reused(router: Router) -> None:
    previous = "Alice moved dinner to Friday; Bob is coming."
    state = FakeState({OWN_STACK: stored(previous, ["m1", "m2", "m3"])})
    gen = FakeGenerator([INVENTED])
    out = await SummarizeHandler(gen, router, settings(), state)(request(STACK))
    assert gen.calls == []
    assert out.result is not None and out.result.summary == previous
    assert out.provenance.model == "stored-summary"


@pytest.mark.parametrize(
    "record",
    [
        stored("Alice moved dinner to Friday.", ["m2", "m1"]),  # not a prefix in time order
        stored("Alice moved dinner to Friday.", ["m1", "gone"]),  # a notification was removed
        stored("Carol moved dinner to Friday.", ["m1", "m2"]),  # no longer grounded
        stored("", [], skipped_reason="app_opted_out"),  # the last request was a skip
        {"summary": 42},  # unreadable
    ],
)
async def test_unusable_stored_summary_starts_over(router: Router, record: dict[str, Any]) -> None:
    state = FakeState({OWN_STACK: record})
    gen = FakeGenerator([GROUNDED])
    out = await SummarizeHandler(gen, router, settings(), state)(request(STACK))
    assert gen.last_prompt().startswith("Notifications:")
    assert all(n.body.split()[0] in gen.last_prompt() for n in STACK)
    assert out.result is not None and out.result.summary == GROUNDED


@pytest.mark.parametrize(
    ("tenant", "user"),
    [
        ("tenant-2", "user-1"),
        ("tenant-1", "user-2"),
        ("Tenant-1", "user-1"),
        ("tenant-1", "USER-1"),
    ],
)
async def test_another_users_stack_of_the_same_id_is_never_read(
    router: Router, tenant: str, user: str
) -> None:
    # The stored summary covers the whole stack: read by mistake, it would be reused as is.
    previous = "Alice moved dinner to Friday; Bob is coming."
    state = FakeState({OWN_STACK: stored(previous, ["m1", "m2", "m3"])})
    gen = FakeGenerator([GROUNDED])
    out = await SummarizeHandler(gen, router, settings(), state)(
        request(STACK, tenant=tenant, user=user)
    )
    assert state.reads == [("summarize", tenant, user, "stack-1")]
    assert gen.last_prompt().startswith("Notifications:")
    assert out.result is not None and out.result.summary == GROUNDED
    assert out.provenance.model != "stored-summary"


# --- the fallback tier -----------------------------------------------------------------


@pytest.mark.parametrize(("remote", "tier"), [(GROUNDED, "openai"), (INVENTED, "local")])
async def test_remote_answers_pass_the_same_guard(remote: str, tier: str) -> None:
    async with FakeOpenAIServer(responder=lambda body: {"summary": remote}) as server:
        routing = RoutingSettings(
            CAIRN_TIERS="local,openai",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=server.base_url,
            CAIRN_LATENCY_BUDGET_MS=0,
            _env_file=None,
        )
        async with Router(routing) as router:
            gen = FakeGenerator([INVENTED])  # local fails twice, then the router escalates
            out = await SummarizeHandler(gen, router, settings())(request(STACK, consent=True))
        assert len(server.requests) == 1
    assert out.result is not None
    assert out.provenance.tier == tier
    assert "verifier_rejected" in out.provenance.reasons
    assert out.result.extractive == (tier == "local")
    assert grounded_in_stack(out.result, STACK)


async def test_without_consent_nothing_leaves_the_deployment() -> None:
    async with FakeOpenAIServer(responder=lambda body: {"summary": GROUNDED}) as server:
        routing = RoutingSettings(
            CAIRN_TIERS="local,openai",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=server.base_url,
            _env_file=None,
        )
        async with Router(routing) as router:
            out = await SummarizeHandler(FakeGenerator([INVENTED]), router, settings())(
                request(STACK, consent=False)
            )
        assert len(server.requests) == 0
    assert out.result is not None and out.result.extractive
