from __future__ import annotations

import random

import pytest

from shared.routing import (
    BreakerOpen,
    ProviderResponseError,
    ProviderStatusError,
    ProviderTimeout,
    ProviderTransportError,
    RetryPolicy,
)
from shared.routing.breaker import BreakerState, CircuitBreaker
from shared.routing.openai_tier import retry_after_s


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> BreakerState:
    """Read the state afresh (mypy would otherwise keep an earlier narrowing)."""
    return breaker.state


def make_breaker(clock: Clock, changes: list[BreakerState] | None = None) -> CircuitBreaker:
    return CircuitBreaker(
        "openai",
        failure_threshold=3,
        cooldown_s=10,
        clock=clock,
        listener=(lambda _name, state: changes.append(state)) if changes is not None else None,
    )


def test_breaker_opens_after_consecutive_failures_only() -> None:
    clock, changes = Clock(), list[BreakerState]()
    breaker = make_breaker(clock, changes)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the streak
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED and breaker.acquire()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.acquire() and not breaker.available()
    assert changes == [BreakerState.OPEN]


def test_half_open_admits_one_probe() -> None:
    clock, changes = Clock(), list[BreakerState]()
    breaker = make_breaker(clock, changes)
    for _ in range(3):
        breaker.record_failure()
    clock.now = 9.9
    assert state(breaker) is BreakerState.OPEN
    clock.now = 10.0
    assert state(breaker) is BreakerState.HALF_OPEN and breaker.available()
    assert breaker.acquire()
    assert not breaker.acquire(), "second caller refused while the probe is out"
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    breaker = make_breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now = 10
    assert breaker.acquire()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    clock.now = 19
    assert state(breaker) is BreakerState.OPEN
    clock.now = 20
    assert state(breaker) is BreakerState.HALF_OPEN


def test_released_probe_slot_can_be_retaken() -> None:
    clock = Clock()
    breaker = make_breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now = 10
    assert breaker.acquire()
    breaker.release()  # e.g. the hedged call was cancelled
    assert breaker.acquire()


def status(code: int, retry_after: float | None = None) -> ProviderStatusError:
    return ProviderStatusError("x", endpoint="e", status=code, retry_after_s=retry_after)


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (status(429), True),
        (status(408), True),
        (status(409), True),
        (status(500), True),
        (status(503), True),
        (status(400), False),
        (status(401), False),
        (status(404), False),
        (status(422), False),
        (ProviderTimeout("t", endpoint="e"), True),
        (ProviderTransportError("reset", endpoint="e"), True),
        (ProviderResponseError("malformed", endpoint="e"), False),
        (BreakerOpen("open", endpoint="e"), False),
        (status(429, retry_after=600), False),
        (ProviderStatusError("x", endpoint="e", status=400, retriable=True), True),
    ],
)
def test_retry_rules(error, retried: bool) -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.should_retry(error, 0) is retried
    assert policy.should_retry(error, 2) is False, "out of attempts"


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(initial_delay_s=0.5, max_delay_s=4.0, jitter=0.25)
    rng = random.Random(7)
    err = status(500)
    delays = [policy.delay_s(err, attempt, rng) for attempt in range(6)]
    for attempt, delay in enumerate(delays):
        base = min(0.5 * 2**attempt, 4.0)
        assert 0.75 * base <= delay <= base
    assert policy.delay_s(status(429, retry_after=1.5), 3) == 1.5


def test_errors_say_whether_to_retry() -> None:
    assert status(500).retriable and not status(400).retriable
    assert ProviderTransportError("x", endpoint="e").retriable
    assert not ProviderResponseError("x", endpoint="e").retriable
    assert "e: HTTP 503" in str(status(503))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers, expected) -> None:
    assert retry_after_s(headers) == expected


def test_retry_after_http_date() -> None:
    import email.utils
    import time

    value = retry_after_s({"retry-after": email.utils.formatdate(time.time() + 30)})
    assert value is not None and 25 <= value <= 31
