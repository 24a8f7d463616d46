"""Circuit breaker, one per fallback endpoint.

closed --N consecutive failures--> open --cooldown--> half-open --probe ok--> closed
                                    ^                      |
                                    +-----probe fails------+

In half-open exactly one request (the probe) goes through; the others are refused as if
the breaker were still open.

Every admitted call holds a `Permit`, and only a current permit's verdict counts: the
probe's success closes the breaker and its failure reopens it, while the verdict of a call
admitted before the last transition (it started before the breaker opened, or before the
probe closed it) changes nothing. A concurrent call cannot clear the probe slot either:
`release` frees it only for the permit that holds it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


StateListener = Callable[[str, BreakerState], None]


@dataclass(frozen=True, eq=False)
class Permit:
    """The right to send one request, from `acquire`; pass it back with the verdict."""

    epoch: int
    probe: bool


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
        listener: StateListener | None = None,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._listener = listener
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        # Bumped at every open and close: permits from an earlier epoch are stale.
        self._epoch = 0
        self._probe: Permit | None = None

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def probe_in_flight(self) -> bool:
        return self._probe is not None

    def available(self) -> bool:
        """Whether a call could go through now (without taking the probe slot)."""
        state = self.state
        return state is BreakerState.CLOSED or (
            state is BreakerState.HALF_OPEN and self._probe is None
        )

    def acquire(self) -> Permit | None:
        """Ask to send one request; in half-open this takes the single probe slot."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Permit(self._epoch, probe=False)
        if state is BreakerState.HALF_OPEN and self._probe is None:
            self._set(BreakerState.HALF_OPEN)
            self._probe = Permit(self._epoch, probe=True)
            return self._probe
        return None

    def record_success(self, permit: Permit) -> None:
        if permit.epoch != self._epoch:
            return  # admitted before the last open/close: says nothing about now
        if permit.probe:
            if permit is not self._probe:
                return
            self._probe = None
            self._failures = 0
            self._transition(BreakerState.CLOSED)
        elif self._state is BreakerState.CLOSED:
            self._failures = 0

    def record_failure(self, permit: Permit) -> None:
        if permit.epoch != self._epoch:
            return
        if permit.probe:
            if permit is not self._probe:
                return
            self._probe = None
            self._failures += 1
            self._open()
        elif self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._open()

    def release(self, permit: Permit) -> None:
        """The call ended without a verdict (cancelled, unusable answer); a probe gives its
        slot back, any other permit changes nothing."""
        if permit.probe and permit is self._probe:
            self._probe = None

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._transition(BreakerState.OPEN)

    def _transition(self, state: BreakerState) -> None:
        self._epoch += 1
        self._probe = None
        self._set(state)

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.cooldown_s

    def _set(self, state: BreakerState) -> None:
        if state is self._state:
            return
        log.warning("circuit breaker %s: %s -> %s", self.name, self._state, state)
        self._state = state
        if self._listener is not None:
            self._listener(self.name, state)
