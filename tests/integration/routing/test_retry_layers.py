"""Provider calls retry in exactly one layer.

The runtime re-runs a handler on retriable errors (`handle_with_retries`, used by the Kafka
processor and `cairn batch`), and the router raises a retriable error when no tier could
answer. Before, each re-run started a fresh set of adapter retries: 4 handler attempts x 3
HTTP attempts = 12 provider calls for one event. The fake server counts what arrives."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.envelope import Provenance, ResultStatus
from shared.errors import Overloaded
from shared.messaging.handler import HandlerResult
from shared.messaging.handling import HandlerGaveUp, handle_with_retries
from shared.messaging.settings import RuntimeSettings
from shared.routing import RetryPolicy, Router
from tests.fakes.openai_server import FakeOpenAIServer, Fault
from tests.support.echo import EchoRequest
from tests.support.events import echo_event
from tests.unit.routing.fake_task import FakeTask

RUNTIME = RuntimeSettings(
    _env_file=None, CAIRN_MAX_ATTEMPTS=4, CAIRN_RETRY_INITIAL_S=0.01, CAIRN_RETRY_MAX_S=0.02
)


class RoutingHandler:
    """A feature handler reduced to its routing call."""

    def __init__(self, router: Router, **task: Any) -> None:
        self.router = router
        self.task = task
        self.runs = 0

    async def __call__(self, request: Any) -> HandlerResult[Any]:
        self.runs += 1
        task = FakeTask(request_id=request.request_id, tenant_id=request.tenant_id, **self.task)
        outcome = await self.router.route(task)
        return HandlerResult(
            status=ResultStatus.OK,
            result=outcome.result,
            provenance=Provenance(
                tier=outcome.tier or "none",
                model=outcome.model or "-",
                verified=True,
                latency_ms=outcome.latency_ms,
            ),
        )


def event() -> EchoRequest:
    return EchoRequest.model_validate(echo_event(1))


def chat_calls(server: FakeOpenAIServer) -> int:
    return sum(r.path == "/v1/chat/completions" for r in server.requests)


@pytest.mark.parametrize("max_retries", [0, 2, 4])
async def test_fallback_only_event_makes_at_most_the_configured_calls(
    make_router, server: FakeOpenAIServer, max_retries: int
) -> None:
    server.always(Fault.error(503))
    router = await make_router(
        CAIRN_TIERS="openai",
        CAIRN_BREAKER_FAILURES=100,
        retry=RetryPolicy(max_retries=max_retries, initial_delay_s=0.001, max_delay_s=0.002),
    )
    handler = RoutingHandler(router)
    with pytest.raises(HandlerGaveUp) as gave_up:
        await handle_with_retries(handler, event(), RUNTIME, service="test")
    assert gave_up.value.attempts == 4 and handler.runs == 4, "the runtime still re-runs"
    assert chat_calls(server) == max_retries + 1, "but never re-calls the provider"


async def test_rate_limited_event_honours_retry_after_within_the_bound(
    make_router, server: FakeOpenAIServer, sleeps
) -> None:
    server.always(Fault.rate_limit(retry_after=0.05))
    router = await make_router(CAIRN_TIERS="openai", CAIRN_BREAKER_FAILURES=100)
    with pytest.raises(HandlerGaveUp):
        await handle_with_retries(RoutingHandler(router), event(), RUNTIME, service="test")
    assert chat_calls(server) == 3
    assert sleeps.delays == [0.05, 0.05], "Retry-After wins over the backoff"


async def test_local_overload_rerun_does_not_multiply_provider_calls(
    make_router, server: FakeOpenAIServer
) -> None:
    """local,openai with the local queue full and the provider down: the router raises
    Overloaded (retriable) and the runtime re-runs; the provider still sees 3 calls."""
    server.always(Fault.error(500))
    router = await make_router(CAIRN_BREAKER_FAILURES=100)
    handler = RoutingHandler(router, local_error=Overloaded("queue full"))
    with pytest.raises(HandlerGaveUp) as gave_up:
        await handle_with_retries(handler, event(), RUNTIME, service="test")
    assert isinstance(gave_up.value.cause, Overloaded)
    assert handler.runs == 4 and chat_calls(server) == 3


async def test_each_event_has_its_own_attempts(make_router, server: FakeOpenAIServer) -> None:
    server.always(Fault.error(500))
    router = await make_router(CAIRN_TIERS="openai", CAIRN_BREAKER_FAILURES=100)
    for _ in range(3):
        with pytest.raises(HandlerGaveUp):
            await handle_with_retries(RoutingHandler(router), event(), RUNTIME, service="test")
    assert chat_calls(server) == 9


async def test_same_request_id_of_another_tenant_is_not_charged_attempts(
    make_router, server: FakeOpenAIServer
) -> None:
    server.always(Fault.error(500))
    router = await make_router(CAIRN_TIERS="openai", CAIRN_BREAKER_FAILURES=100)
    first = event()
    twin = EchoRequest.model_validate({**first.model_dump(mode="json"), "tenant_id": "tenant-b"})
    for request in (first, twin):
        with pytest.raises(HandlerGaveUp):
            await handle_with_retries(RoutingHandler(router), request, RUNTIME, service="test")
    assert chat_calls(server) == 6


async def test_recovery_within_the_budget_is_served(make_router, server: FakeOpenAIServer):
    server.inject(Fault.error(500), Fault.reset())
    router = await make_router(CAIRN_TIERS="openai")
    result = await handle_with_retries(RoutingHandler(router), event(), RUNTIME, service="test")
    assert result.provenance.tier == "openai" and chat_calls(server) == 3


async def test_total_retry_time_is_bounded(make_router, server: FakeOpenAIServer, sleeps):
    """No sleep starts that would end past `max_total_s` after the request's first attempt,
    however often the runtime re-runs it."""
    server.always(Fault.rate_limit(retry_after=0.3))
    policy = RetryPolicy(max_retries=10, max_total_s=0.5)
    router = await make_router(CAIRN_TIERS="openai", CAIRN_BREAKER_FAILURES=100, retry=policy)
    with pytest.raises(HandlerGaveUp):
        await handle_with_retries(RoutingHandler(router), event(), RUNTIME, service="test")
    assert sleeps.delays == [0.3], "a second 0.3 s wait would end past 0.5 s"
    assert chat_calls(server) == 2


async def test_the_sdk_does_not_retry(make_router) -> None:
    router = await make_router()
    adapter = router.fallback.tiers[0].adapter
    assert adapter is not None and adapter._client.max_retries == 0
