"""Provider failures: retries, Retry-After, circuit breaker, timeouts, broken answers.

None of them may raise out of `route`: the local answer is served, flagged degraded."""

from __future__ import annotations

import time

from shared.routing import AttemptOutcome, DegradedReason, RetryPolicy
from shared.routing.breaker import BreakerState, CircuitBreaker
from tests.fakes.openai_server import FakeOpenAIServer, Fault
from tests.unit.routing.fake_task import FakeTask


def state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


def hard() -> FakeTask:
    return FakeTask(confidence=-9.0)


async def test_rate_limit_honours_retry_after(make_router, server: FakeOpenAIServer, sleeps):
    server.inject(Fault.rate_limit(retry_after=0.25))
    router = await make_router()
    started = time.perf_counter()
    outcome = await router.route(hard())
    assert outcome.tier == "openai"
    assert sleeps.delays == [0.25], "Retry-After wins over the backoff schedule"
    assert time.perf_counter() - started >= 0.25
    assert len(server.requests) == 2
    assert outcome.attempts[-1].http_attempts == 2
    registry = router.metrics.registry
    retries = registry.get_sample_value(
        "cairn_routing_retries_total", {"endpoint": "openai", "error": "ProviderStatusError"}
    )
    assert retries == 1.0


async def test_retry_after_longer_than_allowed_gives_up_at_once(
    make_router, server: FakeOpenAIServer, sleeps
):
    server.inject(Fault.rate_limit(retry_after=3600))
    router = await make_router()
    outcome = await router.route(hard())
    assert outcome.tier == "local" and outcome.degraded
    assert outcome.degraded_reason is DegradedReason.PROVIDER_ERROR
    assert sleeps.delays == [] and len(server.requests) == 1


async def test_server_errors_are_retried_with_backoff(make_router, server, sleeps):
    server.inject(Fault.error(500), Fault.error(503))
    router = await make_router()
    outcome = await router.route(hard())
    assert outcome.tier == "openai" and len(server.requests) == 3
    assert len(sleeps.delays) == 2 and sleeps.delays[0] < sleeps.delays[1] <= 0.05


async def test_client_errors_are_not_retried(make_router, server, sleeps):
    server.inject(Fault.error(400))
    router = await make_router()
    outcome = await router.route(hard())
    assert outcome.degraded_reason is DegradedReason.PROVIDER_ERROR
    assert len(server.requests) == 1 and sleeps.delays == []
    assert "HTTP 400" in (outcome.attempts[-1].detail or "")


async def test_breaker_opens_after_n_failures_and_half_open_probe_recovers(
    make_router, server: FakeOpenAIServer, clock
):
    server.always(Fault.error(500))
    router = await make_router(CAIRN_BREAKER_FAILURES=3, CAIRN_BREAKER_COOLDOWN_S=30)
    breaker = router.breaker("openai")
    assert breaker is not None

    # One request, three attempts (1 + 2 retries): the third failure opens the breaker.
    first = await router.route(hard())
    assert first.degraded and first.degraded_reason is DegradedReason.PROVIDER_ERROR
    assert len(server.requests) == 3
    assert state(breaker) is BreakerState.OPEN

    # Open: nothing is sent.
    second = await router.route(hard())
    assert second.degraded_reason is DegradedReason.BREAKER_OPEN
    assert len(server.requests) == 3
    gauge = router.metrics.registry.get_sample_value(
        "cairn_routing_breaker_state", {"endpoint": "openai"}
    )
    assert gauge == 2.0

    # Cooldown over, endpoint still failing: the single probe fails and re-opens it.
    clock.advance(31)
    assert state(breaker) is BreakerState.HALF_OPEN
    third = await router.route(hard())
    assert third.degraded
    assert len(server.requests) == 4, "exactly one probe, no retries while half-open"
    assert state(breaker) is BreakerState.OPEN

    # Cooldown over again, endpoint healthy: the probe succeeds and closes it.
    server.always(None)
    clock.advance(31)
    fourth = await router.route(hard())
    assert fourth.tier == "openai" and not fourth.degraded
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0


async def test_timeout_serves_local_degraded(make_router, server: FakeOpenAIServer):
    server.always(Fault.slow(2.0))
    router = await make_router(OPENAI_TIMEOUT_S=0.2, retry=RetryPolicy(max_retries=0))
    started = time.perf_counter()
    outcome = await router.route(hard())
    assert time.perf_counter() - started < 1.0
    assert outcome.tier == "local" and outcome.degraded
    assert outcome.degraded_reason is DegradedReason.PROVIDER_ERROR
    assert "timed out" in (outcome.attempts[-1].detail or "")


async def test_malformed_body_is_degraded_without_retry(make_router, server: FakeOpenAIServer):
    server.inject(Fault.malformed_body())
    router = await make_router()
    outcome = await router.route(hard())
    assert outcome.tier == "local" and outcome.degraded
    assert outcome.degraded_reason is DegradedReason.BAD_RESPONSE
    assert len(server.requests) == 1
    breaker = router.breaker("openai")
    assert breaker is not None and breaker.consecutive_failures == 0


async def test_schema_invalid_content_is_degraded(make_router, server: FakeOpenAIServer):
    server.inject(Fault.malformed_content())
    router = await make_router()
    outcome = await router.route(hard())
    assert outcome.degraded_reason is DegradedReason.BAD_RESPONSE
    assert outcome.attempts[-1].outcome is AttemptOutcome.FAILED
    assert "malformed" in (outcome.attempts[-1].detail or "")


async def test_truncated_answer_is_degraded(make_router, server: FakeOpenAIServer):
    server.inject(Fault.truncated())
    router = await make_router(CAIRN_FALLBACK_MAX_OUTPUT_TOKENS=64)
    outcome = await router.route(hard())
    assert outcome.degraded_reason is DegradedReason.BAD_RESPONSE
    assert "truncated" in (outcome.attempts[-1].detail or "")
    assert server.requests[0].json["max_completion_tokens"] == 64


async def test_wrong_shape_from_responder_is_degraded(make_router, server: FakeOpenAIServer):
    server.responder = lambda body: {"summary": 42}
    router = await make_router()
    outcome = await router.route(hard())
    assert outcome.degraded_reason is DegradedReason.BAD_RESPONSE


async def test_connection_reset_is_retried(make_router, server: FakeOpenAIServer):
    server.inject(Fault.reset())
    router = await make_router()
    outcome = await router.route(hard())
    assert outcome.tier == "openai"
    assert len(server.requests) == 2


async def test_connection_resets_exhaust_retries_then_degrade(make_router, server):
    server.always(Fault.reset())
    router = await make_router()
    outcome = await router.route(hard())
    assert outcome.tier == "local" and outcome.degraded
    assert outcome.degraded_reason is DegradedReason.PROVIDER_ERROR
    assert "connection" in (outcome.attempts[-1].detail or "").lower()
    assert len(server.requests) == 3


async def test_endpoint_down_is_degraded(make_router):
    # Nothing listens on this port: connection refused, never an exception to the caller.
    router = await make_router(OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    outcome = await router.route(hard())
    assert outcome.tier == "local" and outcome.degraded
    assert outcome.degraded_reason is DegradedReason.PROVIDER_ERROR


async def test_no_api_key_keeps_everything_local(make_router, server: FakeOpenAIServer):
    router = await make_router(OPENAI_API_KEY=None)
    for task in (FakeTask(), hard(), FakeTask(quality_hint="best"), FakeTask(locale="ko")):
        outcome = await router.route(task)
        assert outcome.tier == "local"
        assert outcome.degraded == bool(outcome.reasons)
        if outcome.degraded:
            assert outcome.degraded_reason is DegradedReason.NOT_CONFIGURED
    assert server.requests == []


async def test_slow_success_from_before_the_outage_does_not_clear_the_probe(
    make_router, server: FakeOpenAIServer, clock
):
    """A call admitted while closed answers late, after the breaker opened and a probe went
    out: the breaker stays half-open with that probe, so a third caller is refused."""
    import asyncio

    server.inject(
        Fault.slow(0.6), Fault.error(500), Fault.error(500), Fault.error(500), Fault.slow(1.2)
    )
    router = await make_router(
        retry=RetryPolicy(max_retries=0), CAIRN_BREAKER_FAILURES=3, CAIRN_BREAKER_COOLDOWN_S=30
    )
    breaker = router.breaker("openai")
    assert breaker is not None
    early = asyncio.create_task(router.route(hard()))
    await asyncio.sleep(0.1)
    for _ in range(3):
        failed = await router.route(hard())
        assert failed.degraded_reason is DegradedReason.PROVIDER_ERROR
    assert state(breaker) is BreakerState.OPEN
    clock.advance(31)
    probe = asyncio.create_task(router.route(hard()))
    await asyncio.sleep(0.1)
    assert breaker.probe_in_flight
    served_late = await early
    assert served_late.tier == "openai", "the slow call itself succeeded"
    assert state(breaker) is BreakerState.HALF_OPEN, "its success is stale: no close"
    refused = await router.route(hard())
    assert refused.degraded_reason is DegradedReason.BREAKER_OPEN
    assert len(server.requests) == 5, "the refused caller sent nothing"
    assert (await probe).tier == "openai"
    assert state(breaker) is BreakerState.CLOSED, "the probe's own success closes it"
