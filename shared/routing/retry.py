"""Retry rules for the fallback endpoints. This is the only layer that retries: the SDK
client is built with `max_retries=0`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import constants as c
from .errors import BreakerOpen, ProviderError, ProviderStatusError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; `Retry-After` wins when the server sends one."""

    max_retries: int = c.DEFAULT_MAX_RETRIES
    initial_delay_s: float = c.INITIAL_RETRY_DELAY_S
    max_delay_s: float = c.MAX_RETRY_DELAY_S
    max_retry_after_s: float = c.MAX_RETRY_AFTER_S
    jitter: float = c.RETRY_JITTER

    def should_retry(self, exc: ProviderError, attempt: int) -> bool:
        """`attempt` counts from 0 for the first try."""
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

    def delay_s(self, exc: ProviderError, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to sleep before retry number `attempt + 1`."""
        if isinstance(exc, ProviderStatusError) and exc.retry_after_s is not None:
            return max(0.0, exc.retry_after_s)
        base = min(self.initial_delay_s * 2.0**attempt, self.max_delay_s)
        spread = 1.0 - self.jitter * (rng or random).random()
        return base * spread
