"""Retry rules for the fallback endpoints: the one layer that retries provider calls.

The SDK client is built with `max_retries=0`; the adapter runs each call under tenacity with
this policy; and `AttemptLedger` carries a request's attempt count across re-runs of the same
request (a runtime retry of the handler, a `cairn batch` retry), so those re-runs continue
the request's budget of provider calls instead of starting a new one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from tenacity import RetryCallState, wait_exponential_jitter

from . import constants as c
from .errors import BreakerOpen, ProviderError, ProviderStatusError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; `Retry-After` wins when the server sends one.

    `max_retries` retries after the first attempt, and no sleep that would end more than
    `max_total_s` after the first attempt started.
    """

    max_retries: int = c.DEFAULT_MAX_RETRIES
    initial_delay_s: float = c.INITIAL_RETRY_DELAY_S
    max_delay_s: float = c.MAX_RETRY_DELAY_S
    max_retry_after_s: float = c.MAX_RETRY_AFTER_S
    jitter: float = c.RETRY_JITTER
    max_total_s: float = c.DEFAULT_MAX_RETRY_TOTAL_S

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """`attempt` counts from 0 for the first try."""
        if not isinstance(exc, ProviderError):
            return False
        # Out of attempts.
        if attempt >= self.max_retries:
            return False
        # The breaker opened (possibly because of this very failure): stop hammering.
        if isinstance(exc, BreakerOpen):
            return False
        if isinstance(exc, ProviderStatusError):
            # The server asks us to wait longer than a consumer may block: serve local now.
            if exc.retry_after_s is not None and exc.retry_after_s > self.max_retry_after_s:
                return False
            # Retry on request timeouts (408), lock conflicts (409), rate limits (429) and
            # server errors (5xx); other 4xx are the same next time.
            return exc.retriable
        # Retry transport failures and timeouts; never malformed answers.
        return exc.retriable

    def backoff(self) -> wait_exponential_jitter:
        """tenacity's exponential wait: initial * 2^n plus up to `jitter` of it, capped."""
        return wait_exponential_jitter(
            initial=self.initial_delay_s,
            max=self.max_delay_s,
            jitter=self.initial_delay_s * self.jitter,
        )

    def wait(self) -> Callable[[RetryCallState], float]:
        """The server's Retry-After when it sent one, else the backoff."""
        backoff = self.backoff()

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, ProviderStatusError) and exc.retry_after_s is not None:
                return max(0.0, exc.retry_after_s)
            return float(backoff(state))

        return wait

    def delay_s(self, exc: ProviderError, attempt: int) -> float:
        """Seconds before retry number `attempt + 1` (for callers outside tenacity)."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt + 1
        state.set_exception((type(exc), exc, exc.__traceback__))
        return self.wait()(state)


@dataclass(frozen=True)
class _Entry:
    count: int
    first_at: float
    last_at: float
    # The retry loop gave up on this request: later re-runs make no provider call.
    closed: bool = False


class AttemptLedger:
    """Provider attempts already made per request, and when the first one started (bounded:
    the most recent `capacity` requests, each for `ttl_s` after its last attempt)."""

    def __init__(
        self,
        *,
        capacity: int = c.ATTEMPT_LEDGER_CAPACITY,
        ttl_s: float = c.ATTEMPT_LEDGER_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._clock = clock

    def _entry(self, key: Hashable) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.last_at > self._ttl_s:
            del self._entries[key]
            return None
        return entry

    def used(self, key: Hashable) -> int:
        entry = self._entry(key)
        return entry.count if entry else 0

    def elapsed_s(self, key: Hashable) -> float:
        """Seconds since the request's first attempt (0 before it)."""
        entry = self._entry(key)
        return self._clock() - entry.first_at if entry else 0.0

    def closed(self, key: Hashable) -> bool:
        entry = self._entry(key)
        return entry.closed if entry else False

    def close(self, key: Hashable) -> None:
        entry = self._entry(key)
        if entry is not None:
            self._entries[key] = _Entry(entry.count, entry.first_at, entry.last_at, closed=True)

    def add(self, key: Hashable) -> int:
        now = self._clock()
        entry = self._entry(key)
        first = entry.first_at if entry else now
        count = (entry.count if entry else 0) + 1
        self._entries[key] = _Entry(count, first, now)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return count
