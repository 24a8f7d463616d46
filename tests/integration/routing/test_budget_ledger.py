"""Budgets as a ledger: reserve before each metered attempt, settle with what the provider
billed, release what it never billed, refuse unpriced models; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from shared.persistence.budget import SqlBudgetStore
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from shared.routing import DegradedReason, EscalationReason, InMemoryBudgetStore, Spend
from shared.routing.budget import utc_today
from tests.fakes.openai_server import FakeOpenAIServer, Fault
from tests.unit.routing.fake_task import FakeImageTask, FakeTask


def hard(**kw) -> FakeTask:
    return FakeTask(confidence=-9.0, **kw)


# -- the store: one conditional UPDATE per reservation ----------------------------------


async def test_sql_reservation_is_conditional(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    store = SqlBudgetStore(ResultRepository(engine))
    day = datetime.now(UTC).date()
    try:
        assert await store.reserve("t", day, 60, 0.6, cap_tokens=100, cap_usd=1.0)
        assert not await store.reserve("t", day, 41, 0.1, cap_tokens=100, cap_usd=1.0)
        assert not await store.reserve("t", day, 10, 0.41, cap_tokens=100, cap_usd=1.0)
        assert await store.reserve("t", day, 40, 0.4, cap_tokens=100, cap_usd=1.0), "exact fit"
        assert await store.spent("t", day) == Spend(100, pytest.approx(1.0))
        await store.add("t", day, -30, -0.3)  # settlement gives part back
        assert await store.reserve("t", day, 30, 0.3, cap_tokens=100, cap_usd=None)
        assert await store.reserve("u", day, 10**9, 10**6, cap_tokens=None, cap_usd=None)
        assert (await store.spent("t", day)).tokens == 100
    finally:
        await engine.dispose()


async def test_racing_reservations_never_pass_the_cap(any_database_url: str) -> None:
    """80 reservations of 1 token from two engines (two connection pools) against a cap of
    30: exactly 30 succeed."""
    engines = [create_engine(any_database_url) for _ in range(2)]
    stores = [SqlBudgetStore(ResultRepository(e)) for e in engines]
    day = datetime.now(UTC).date()
    try:
        results = await asyncio.gather(
            *(
                stores[i % 2].reserve("t", day, 1, 0.01, cap_tokens=30, cap_usd=None)
                for i in range(80)
            )
        )
        assert sum(results) == 30
        assert (await stores[0].spent("t", day)).tokens == 30
    finally:
        for engine in engines:
            await engine.dispose()


# -- what gets charged ------------------------------------------------------------------


async def test_bad_json_answer_is_charged_what_the_provider_reported(
    make_router, server: FakeOpenAIServer
) -> None:
    server.inject(Fault.malformed_content())
    store = InMemoryBudgetStore()
    router = await make_router(budget_store=store, CAIRN_TENANT_DAILY_USD=5.0)
    outcome = await router.route(hard())
    assert outcome.degraded_reason is DegradedReason.BAD_RESPONSE
    usage = server.requests[0]
    assert usage.path == "/v1/chat/completions"
    spent = await store.spent("tenant-a", utc_today())
    assert spent.tokens > 0, "billed although Cairn rejected it"
    assert outcome.cost_usd == pytest.approx(spent.usd) and spent.usd > 0
    assert spent.tokens < 200, "settled to the reported usage, not left at the estimate"


async def test_truncated_answer_is_charged(make_router, server: FakeOpenAIServer) -> None:
    server.inject(Fault.truncated())
    store = InMemoryBudgetStore()
    router = await make_router(budget_store=store)
    outcome = await router.route(hard())
    assert outcome.degraded_reason is DegradedReason.BAD_RESPONSE
    assert (await store.spent("tenant-a", utc_today())).tokens > 0


async def test_verifier_rejection_is_charged_with_usage(make_router, server) -> None:
    store = InMemoryBudgetStore()
    router = await make_router(budget_store=store, CAIRN_TENANT_DAILY_TOKENS=100_000)
    outcome = await router.route(hard(reject_remote="unfaithful"))
    assert outcome.degraded_reason is DegradedReason.REMOTE_REJECTED
    remote = outcome.attempts[-1]
    spent = await store.spent("tenant-a", utc_today())
    assert spent.tokens == remote.prompt_tokens + remote.completion_tokens > 0
    assert spent.usd == pytest.approx(remote.cost_usd) and remote.cost_usd > 0


async def test_error_statuses_are_released(make_router, server: FakeOpenAIServer) -> None:
    server.inject(Fault.error(500), Fault.error(503), Fault.error(400))
    store = InMemoryBudgetStore()
    router = await make_router(budget_store=store, CAIRN_TENANT_DAILY_TOKENS=100_000)
    outcome = await router.route(hard())
    assert outcome.degraded_reason is DegradedReason.PROVIDER_ERROR
    assert len(server.requests) == 3
    assert await store.spent("tenant-a", utc_today()) == Spend(0, 0.0), "nothing was billed"


async def test_retried_success_is_charged_once(make_router, server: FakeOpenAIServer) -> None:
    server.inject(Fault.error(502))
    store = InMemoryBudgetStore()
    router = await make_router(budget_store=store)
    outcome = await router.route(hard())
    assert outcome.tier == "openai" and outcome.attempts[-1].http_attempts == 2
    spent = await store.spent("tenant-a", utc_today())
    assert spent.tokens == outcome.prompt_tokens + outcome.completion_tokens


async def test_timeout_keeps_the_estimate(make_router, server: FakeOpenAIServer) -> None:
    """A timed-out request may have been billed: its reservation stays charged."""
    from shared.routing import RetryPolicy

    server.always(Fault.slow(2.0))
    store = InMemoryBudgetStore()
    router = await make_router(
        budget_store=store,
        retry=RetryPolicy(max_retries=0),
        OPENAI_TIMEOUT_S=0.2,
        CAIRN_FALLBACK_MAX_OUTPUT_TOKENS=100,
    )
    outcome = await router.route(hard())
    assert outcome.degraded_reason is DegradedReason.PROVIDER_ERROR
    spent = await store.spent("tenant-a", utc_today())
    assert spent.tokens > 100, "prompt bound plus the output allowance"
    assert spent.usd > 0 and outcome.attempts[-1].cost_usd == pytest.approx(spent.usd)


async def test_unpriced_model_is_not_called(make_router, server: FakeOpenAIServer) -> None:
    router = await make_router(OPENAI_MODEL="brand-new-model")
    outcome = await router.route(hard())
    assert outcome.tier == "local" and outcome.degraded
    assert outcome.degraded_reason is DegradedReason.UNPRICED_MODEL
    assert server.requests == []


async def test_unpriced_model_when_allowed_is_charged_tokens(make_router, server) -> None:
    store = InMemoryBudgetStore()
    router = await make_router(
        OPENAI_MODEL="brand-new-model", CAIRN_ALLOW_UNPRICED_MODELS=True, budget_store=store
    )
    outcome = await router.route(hard())
    assert outcome.tier == "openai" and outcome.cost_usd == 0.0
    spent = await store.spent("tenant-a", utc_today())
    assert spent.tokens == outcome.prompt_tokens + outcome.completion_tokens > 0


async def test_images_are_priced_and_charged(make_router, server: FakeOpenAIServer) -> None:
    store = InMemoryBudgetStore()
    router = await make_router(budget_store=store, OPENAI_IMAGE_QUALITY="low")
    task = FakeImageTask(escalate=EscalationReason.NO_LOCAL_MATCH)
    outcome = await router.route_image(task)
    assert outcome.tier == "openai"
    # Moderation comes first (free); the image call is the one that is priced.
    (image_call,) = server.requests_to("/v1/images/generations")
    body = image_call.json
    assert body["quality"] == "low" and body["size"] == "1024x1024"
    # gpt-image-1, low, 1024x1024: $0.011 an image plus $5/M text input tokens.
    expected = 0.011 + outcome.prompt_tokens * 5.0 / 1e6
    assert outcome.cost_usd == pytest.approx(expected)
    spent = await store.spent("tenant-a", utc_today())
    assert spent.usd == pytest.approx(expected)


async def test_image_estimate_is_held_against_the_usd_cap(make_router, server) -> None:
    # Unknown quality is priced as the dearest ($0.167 at 1024x1024): a $0.1 cap refuses it.
    router = await make_router(CAIRN_TENANT_DAILY_USD=0.1)
    outcome = await router.route_image(FakeImageTask(escalate=EscalationReason.NO_LOCAL_MATCH))
    assert outcome.degraded_reason is DegradedReason.BUDGET_EXHAUSTED
    # The (free) moderation check runs before the image is priced; no image is asked for.
    assert server.requests_to("/v1/images/generations") == []


async def test_ledger_is_shared_through_the_database(
    make_router, server: FakeOpenAIServer, database_url: str
) -> None:
    """Two routers (two replicas) on one SqlBudgetStore database see one spend."""
    engines = [create_engine(database_url) for _ in range(2)]
    stores = [SqlBudgetStore(ResultRepository(e)) for e in engines]
    try:
        a = await make_router(budget_store=stores[0], CAIRN_TENANT_DAILY_TOKENS=10**6)
        b = await make_router(budget_store=stores[1], CAIRN_TENANT_DAILY_TOKENS=10**6)
        one = await a.route(hard())
        two = await b.route(hard())
        spent = await stores[0].spent("tenant-a", utc_today())
        used = sum(o.prompt_tokens + o.completion_tokens for o in (one, two))
        assert spent.tokens == used > 0
        assert spent.usd == pytest.approx(one.cost_usd + two.cost_usd)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_batch_uses_the_database_ledger(database_url: str, tmp_path) -> None:
    from services.cli import ledger_context
    from shared.config import CoreSettings

    engine = create_engine(database_url)
    try:
        ctx = await ledger_context(CoreSettings(), ResultRepository(engine), with_state=False)
        assert isinstance(ctx.budget_store, SqlBudgetStore) and ctx.state is None
        await ctx.budget_store.add("t", utc_today(), 7, 0.5)
        other = SqlBudgetStore(ResultRepository(engine))
        assert (await other.spent("t", utc_today())).tokens == 7
    finally:
        await engine.dispose()
    bare = create_engine(f"sqlite+aiosqlite:///{tmp_path}/unmigrated.db")
    try:
        with pytest.raises(SystemExit, match="make migrate"):
            await ledger_context(CoreSettings(), ResultRepository(bare), with_state=True)
    finally:
        await bare.dispose()


def test_prices_override_from_environment() -> None:
    from tests.unit.routing.fake_task import make_settings

    prices = {"gpt-image-1": {"images": {"low:1024x1024": 0.5}}}
    settings = make_settings(CAIRN_PRICES=json.dumps(prices))
    price = settings.price("gpt-image-1")
    assert price is not None and price.image_price("1024x1024", "low") == 0.5
