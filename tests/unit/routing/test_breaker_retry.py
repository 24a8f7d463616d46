from __future__ import annotations

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


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        permit = breaker.acquire()
        assert permit is not None
        breaker.record_failure(permit)


def open_breaker(clock: Clock, changes: list[BreakerState] | None = None) -> CircuitBreaker:
    breaker = make_breaker(clock, changes)
    fail(breaker, 3)
    assert state(breaker) is BreakerState.OPEN
    return breaker


def test_breaker_opens_after_consecutive_failures_only() -> None:
    clock, changes = Clock(), list[BreakerState]()
    breaker = make_breaker(clock, changes)
    fail(breaker, 2)
    ok = breaker.acquire()
    assert ok is not None
    breaker.record_success(ok)  # resets the streak
    fail(breaker, 2)
    assert state(breaker) is BreakerState.CLOSED and breaker.acquire() is not None
    fail(breaker)
    assert state(breaker) is BreakerState.OPEN
    assert breaker.acquire() is None and not breaker.available()
    assert changes == [BreakerState.OPEN]


def test_half_open_admits_one_probe() -> None:
    clock, changes = Clock(), list[BreakerState]()
    breaker = open_breaker(clock, changes)
    clock.now = 9.9
    assert state(breaker) is BreakerState.OPEN
    clock.now = 10.0
    assert state(breaker) is BreakerState.HALF_OPEN and breaker.available()
    probe = breaker.acquire()
    assert probe is not None and probe.probe
    assert breaker.acquire() is None, "second caller refused while the probe is out"
    breaker.record_success(probe)
    assert state(breaker) is BreakerState.CLOSED
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    breaker = open_breaker(clock)
    clock.now = 10
    probe = breaker.acquire()
    assert probe is not None
    breaker.record_failure(probe)
    assert state(breaker) is BreakerState.OPEN
    clock.now = 19
    assert state(breaker) is BreakerState.OPEN
    clock.now = 20
    assert state(breaker) is BreakerState.HALF_OPEN


def test_released_probe_slot_can_be_retaken() -> None:
    clock = Clock()
    breaker = open_breaker(clock)
    clock.now = 10
    probe = breaker.acquire()
    assert probe is not None
    breaker.release(probe)  # e.g. the hedged call was cancelled
    assert breaker.acquire() is not None


# -- races: only the probe's own verdict decides half-open ----------------------------


def test_success_of_a_call_started_before_opening_does_not_close_or_free_the_probe() -> None:
    clock = Clock()
    breaker = make_breaker(clock)
    early = breaker.acquire()  # a slow call, admitted while closed
    assert early is not None
    fail(breaker, 3)
    clock.now = 10
    probe = breaker.acquire()
    assert probe is not None
    breaker.record_success(early)  # the slow call finally answers
    assert state(breaker) is BreakerState.HALF_OPEN, "a stale success must not close it"
    assert breaker.probe_in_flight and breaker.acquire() is None
    breaker.record_failure(early)
    breaker.release(early)
    assert breaker.probe_in_flight, "stale verdicts never clear the probe slot"
    breaker.record_failure(probe)
    assert state(breaker) is BreakerState.OPEN


def test_failure_of_a_call_started_before_opening_does_not_reopen_half_open() -> None:
    clock = Clock()
    breaker = make_breaker(clock)
    early = breaker.acquire()
    assert early is not None
    fail(breaker, 3)
    clock.now = 10
    probe = breaker.acquire()
    assert probe is not None
    breaker.record_failure(early)
    assert state(breaker) is BreakerState.HALF_OPEN and breaker.probe_in_flight
    breaker.record_success(probe)
    assert state(breaker) is BreakerState.CLOSED


def test_concurrent_refused_caller_cannot_release_the_probe() -> None:
    clock = Clock()
    breaker = open_breaker(clock)
    clock.now = 10
    probe = breaker.acquire()
    assert probe is not None
    # A caller refused in half-open holds nothing; a non-probe permit from before the
    # last transition is the only other kind in circulation.
    stale = make_breaker(clock).acquire()
    assert stale is not None
    breaker.release(stale)
    assert breaker.acquire() is None, "the probe slot stays taken"
    breaker.release(probe)
    assert breaker.acquire() is not None


def test_stale_failures_after_recovery_do_not_count_toward_the_next_opening() -> None:
    clock = Clock()
    breaker = make_breaker(clock)
    slow = [breaker.acquire() for _ in range(3)]
    fail(breaker, 3)
    clock.now = 10
    probe = breaker.acquire()
    assert probe is not None
    breaker.record_success(probe)
    assert state(breaker) is BreakerState.CLOSED
    for permit in slow:  # calls admitted before the outage fail late
        assert permit is not None
        breaker.record_failure(permit)
    assert state(breaker) is BreakerState.CLOSED and breaker.consecutive_failures == 0


async def test_probe_race_under_asyncio() -> None:
    """Many tasks hammer a half-open breaker while an old call succeeds: one probe only,
    and only its verdict moves the state."""
    import asyncio

    clock = Clock()
    breaker = make_breaker(clock)
    early = breaker.acquire()
    assert early is not None
    fail(breaker, 3)
    clock.now = 10
    admitted: list[object] = []

    async def caller(i: int) -> None:
        await asyncio.sleep(0.001 * (i % 5))
        permit = breaker.acquire()
        if permit is not None:
            admitted.append(permit)
            await asyncio.sleep(0.02)
            breaker.record_failure(permit)

    async def old_call_answers() -> None:
        await asyncio.sleep(0.005)
        breaker.record_success(early)

    await asyncio.gather(*(caller(i) for i in range(50)), old_call_answers())
    assert len(admitted) == 1, "exactly one probe went through"
    assert state(breaker) is BreakerState.OPEN, "the probe failed, so the breaker reopened"


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
    err = status(500)
    delays = [policy.delay_s(err, attempt) for attempt in range(6)]
    for attempt, delay in enumerate(delays):
        base = min(0.5 * 2**attempt, 4.0)
        assert base <= delay <= min(base + 0.125, 4.0)
    assert delays[-1] == 4.0, "capped"
    assert len({policy.delay_s(err, 1) for _ in range(20)}) > 1, "jittered"
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


def test_attempt_ledger_counts_per_request_and_forgets() -> None:
    from shared.routing.retry import AttemptLedger

    clock = Clock()
    ledger = AttemptLedger(capacity=2, ttl_s=60, clock=clock)
    assert ledger.add("a") == 1 and ledger.add("a") == 2 and ledger.used("b") == 0
    clock.now = 5
    assert ledger.elapsed_s("a") == 5
    ledger.close("a")
    assert ledger.closed("a") and ledger.used("a") == 2
    ledger.add("b")
    ledger.add("c")  # over capacity: the oldest request is forgotten
    assert ledger.used("a") == 0 and not ledger.closed("a")
    clock.now = 66
    assert ledger.used("b") == 0, "forgotten after the TTL"
