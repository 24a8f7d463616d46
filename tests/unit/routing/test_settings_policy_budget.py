from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from shared.routing import (
    BudgetLimits,
    EscalationReason,
    InMemoryBudgetStore,
    LocalAttempt,
    RoutingSettings,
    Spend,
)
from shared.routing.budget import chat_cost_usd, image_cost_usd
from shared.routing.policy import HardnessPolicy, language_of
from tests.unit.routing.fake_task import FakeTask, Summary, make_settings

E = EscalationReason


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_TIERS", "Local, selfhosted ,openai")
    monkeypatch.setenv("SELFHOSTED_BASE_URL", "http://vllm.internal:8000/v1")
    monkeypatch.setenv("SELFHOSTED_MODEL", "qwen2.5-7b")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abc")
    monkeypatch.setenv("CAIRN_LOCAL_LANGUAGES", "en,de,fr")
    monkeypatch.setenv("CAIRN_HEDGING", "true")
    monkeypatch.setenv("CAIRN_TENANT_DAILY_USD", "2.5")
    monkeypatch.setenv("CAIRN_PRICES", '{"qwen2.5-7b": {"input_per_mtok": 0.01}}')
    settings = RoutingSettings(_env_file=None)
    assert settings.tiers == ("local", "selfhosted", "openai")
    assert settings.local_languages == ("en", "de", "fr")
    assert settings.hedging and settings.tenant_daily_usd == 2.5
    selfhosted, openai_ = settings.endpoints()
    assert selfhosted.base_url == "http://vllm.internal:8000/v1" and selfhosted.external
    assert selfhosted.api_key == "unused", "never the OpenAI key"
    assert openai_.api_key == "sk-live-abc" and openai_.base_url is None
    assert "sk-live-abc" not in repr(settings)
    price = settings.price("qwen2.5-7b")
    assert price is not None and price.input_per_mtok == 0.01
    assert settings.price("gpt-4o-mini") is not None, "defaults are kept"


def test_defaults_are_local_then_openai_without_key() -> None:
    settings = make_settings()
    assert settings.tiers == ("local", "openai")
    [openai_] = settings.endpoints()
    assert not openai_.configured
    assert settings.openai_model == "gpt-4o-mini"


def test_dated_model_snapshot_uses_family_price() -> None:
    settings = make_settings()
    assert settings.price("gpt-4o-mini-2024-07-18") == settings.price("gpt-4o-mini")
    assert settings.price("gpt-4o-2024-08-06") == settings.price("gpt-4o")
    assert settings.price("unknown-model") is None


@pytest.mark.parametrize(
    "values",
    [
        {"CAIRN_TIERS": "local,gemini"},
        {"CAIRN_TIERS": "openai,local"},
        {"CAIRN_TIERS": "local,openai,openai"},
        {"CAIRN_TIERS": "local,selfhosted"},
        {"OPENAI_API_KEY": "changeme"},
        {"CAIRN_FALLBACK_MAX_RETRIES": -1},
        {"CAIRN_BREAKER_FAILURES": 0},
        {"OPENAI_BASE_URL": "not a url"},
    ],
)
def test_invalid_settings_are_refused(values) -> None:
    with pytest.raises(ValidationError):
        make_settings(**values)


def test_language_of() -> None:
    assert language_of("en-US") == "en"
    assert language_of("pt_BR") == "pt"
    assert language_of("ZH") == "zh"


def test_policy_reasons() -> None:
    policy = HardnessPolicy(make_settings(CAIRN_MIN_MEAN_LOGPROB=-1.0))
    assert policy.before_local(FakeTask()) == []
    assert policy.before_local(FakeTask(locale="es-MX", quality_hint="BEST")) == [
        E.UNSUPPORTED_LANGUAGE,
        E.QUALITY_HINT,
    ]
    assert policy.before_local(FakeTask(reasons=[E.TOO_LONG, E.TOO_LONG])) == [E.TOO_LONG]

    result = Summary(summary="s", key_points=[])
    ok = LocalAttempt(result=result, model="m", confidence=-0.5)
    assert policy.after_local(ok, None) == []
    low = LocalAttempt(result=result, model="m", confidence=-1.5)
    assert policy.after_local(low, "unfaithful") == [E.VERIFIER_REJECTED, E.LOW_CONFIDENCE]
    unknown = LocalAttempt(result=result, model="m", confidence=None)
    assert policy.after_local(unknown, None) == []
    nothing = LocalAttempt[Summary](result=None, model="m")
    assert policy.after_local(nothing, None) == [E.LOCAL_ERROR]
    no_match = LocalAttempt[Summary](result=None, model="m", escalate=E.NO_LOCAL_MATCH)
    assert policy.after_local(no_match, None) == [E.NO_LOCAL_MATCH]


def test_empty_language_list_supports_every_language() -> None:
    policy = HardnessPolicy(make_settings(CAIRN_LOCAL_LANGUAGES=""))
    assert policy.before_local(FakeTask(locale="ja")) == []


def test_a_feature_declares_its_own_languages() -> None:
    policy = HardnessPolicy(make_settings(CAIRN_LOCAL_LANGUAGES="en"))
    emoji = frozenset({"en", "de", "ja"})
    assert policy.before_local(FakeTask(locale="de-DE", local_languages=emoji)) == []
    assert policy.before_local(FakeTask(locale="ja_JP", local_languages=emoji)) == []
    # Outside the feature's own list it escalates, whatever CAIRN_LOCAL_LANGUAGES says.
    assert policy.before_local(FakeTask(locale="ko", local_languages=emoji)) == [
        E.UNSUPPORTED_LANGUAGE
    ]
    assert policy.before_local(FakeTask(locale="en", local_languages=frozenset({"de"}))) == [
        E.UNSUPPORTED_LANGUAGE
    ]
    # A feature that declares nothing keeps the deployment's list.
    assert policy.before_local(FakeTask(locale="de-DE")) == [E.UNSUPPORTED_LANGUAGE]
    assert policy.before_local(FakeTask(locale="ko", local_languages=frozenset())) == []


async def test_in_memory_budget_store() -> None:
    store = InMemoryBudgetStore(keep_days=1)
    today = dt.date(2025, 3, 2)
    assert await store.spent("t", today) == Spend()
    await store.add("t", today, 100, 0.01)
    await store.add("t", today, 50, 0.02)
    spent = await store.spent("t", today)
    assert spent.tokens == 150 and spent.usd == pytest.approx(0.03)
    assert await store.spent("other", today) == Spend()
    await store.add("t", today + dt.timedelta(days=2), 1, 0.0)
    assert await store.spent("t", today) == Spend(), "old days are dropped"


async def test_in_memory_reservation_is_conditional() -> None:
    import asyncio

    store = InMemoryBudgetStore()
    day = dt.date(2025, 3, 2)
    results = await asyncio.gather(
        *(store.reserve("t", day, 10, 0.1, cap_tokens=95, cap_usd=None) for _ in range(20))
    )
    assert sum(results) == 9
    assert not await store.reserve("t", day, 1, 2.0, cap_tokens=None, cap_usd=1.0)
    assert await store.spent("t", day) == Spend(90, pytest.approx(0.9))


def test_prompt_bound_is_at_least_the_bytes() -> None:
    from shared.routing.budget import prompt_tokens_upper_bound

    messages = [{"role": "user", "content": "Grüße, 東京 🙂"}]
    bound = prompt_tokens_upper_bound(messages, "{}")
    assert bound >= len("Grüße, 東京 🙂".encode()) + len("user") + 2


def test_budget_limits() -> None:
    assert BudgetLimits().allows(Spend(10**9, 10**6))
    limits = BudgetLimits(tokens=1000, usd=1.0)
    assert limits.allows(Spend(999, 0.99))
    assert not limits.allows(Spend(1000, 0))
    assert not limits.allows(Spend(0, 1.0))


def test_costs() -> None:
    settings = make_settings()
    price = settings.price("gpt-4o-mini")
    assert chat_cost_usd(price, 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert chat_cost_usd(None, 10, 10) == 0.0
    dalle = settings.price("dall-e-3")
    assert image_cost_usd(dalle, 2, 0, 0, size="1024x1024", quality="standard") == pytest.approx(
        0.08
    )
    assert image_cost_usd(dalle, 1, 0, 0, size="1024x1024", quality="hd") == pytest.approx(0.08)
    # Unknown quality: the dearest of that size.
    assert image_cost_usd(dalle, 1, 0, 0, size="1792x1024") == pytest.approx(0.12)
    gpt_image = settings.price("gpt-image-1")
    cost = image_cost_usd(gpt_image, 1, 1000, 272, size="1024x1024", quality="low")
    assert cost == pytest.approx(0.011 + 1000 * 5.0 / 1e6), "per image plus text input"
    assert image_cost_usd(gpt_image, 1, 0, 0, size="1024x1024") == pytest.approx(0.167)
