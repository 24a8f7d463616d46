"""Fixtures for routing against the fake OpenAI server through the real SDK."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shared.routing import BudgetStore, RetryPolicy, Router, RoutingMetrics
from tests.fakes.openai_server import FakeOpenAIServer
from tests.unit.routing.fake_task import make_settings, routing_env_names


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Routing settings come only from what each test passes, never the developer's shell."""
    for name in routing_env_names():
        monkeypatch.delenv(name, raising=False)


FAST_RETRY = RetryPolicy(max_retries=2, initial_delay_s=0.01, max_delay_s=0.05)


class FakeClock:
    """A monotonic clock the test moves by hand (breaker cooldowns)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SleepRecorder:
    """Real (short) sleeps, remembered so a test can check the delays asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(seconds)


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


RouterFactory = Callable[..., Awaitable[Router]]


@pytest.fixture
async def make_router(
    server: FakeOpenAIServer, clock: FakeClock, sleeps: SleepRecorder
) -> AsyncIterator[RouterFactory]:
    """Build routers against the fake server; closes them after the test."""
    routers: list[Router] = []

    async def build(
        *, retry: RetryPolicy = FAST_RETRY, budget_store: BudgetStore | None = None, **values: Any
    ) -> Router:
        env: dict[str, Any] = {
            "OPENAI_API_KEY": "sk-test-key",
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_TIMEOUT_S": 2.0,
            **values,
        }
        router = Router(
            make_settings(**{k: v for k, v in env.items() if v is not None}),
            retry=retry,
            budget_store=budget_store,
            metrics=RoutingMetrics(CollectorRegistry()),
            clock=clock,
            sleep=sleeps,
        )
        routers.append(router)
        return router

    yield build
    for router in routers:
        await router.aclose()
