"""Exponential backoff with full jitter, the one retry rule of the runtime."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka.errors import KafkaTimeoutError

from shared.errors import is_retriable
from shared.observability.logging import describe_error
from shared.observability.metrics import RETRIES
from shared.persistence import errors as db_errors

log = logging.getLogger(__name__)
T = TypeVar("T")


def backoff_delay(attempt: int, initial_s: float, max_s: float) -> float:
    """Delay before retry number `attempt` (1-based): uniform in [0, min(max, initial*2^(n-1))].

    Full jitter spreads the retries of many consumers that failed together.
    """
    return random.uniform(0, min(max_s, initial_s * 2 ** (attempt - 1)))


def infra_retriable(exc: BaseException) -> bool:
    """Whether an infrastructure step that failed with `exc` should be tried again."""
    # aiokafka marks KafkaTimeoutError non-retriable, but for a publish it only means the
    # broker did not answer in time (leader moving, broker restarting).
    if is_retriable(exc) or isinstance(exc, KafkaTimeoutError):
        return True
    # A store that did not translate its driver's errors still must not dead-letter a good
    # event during an outage: the SQLSTATE / driver table decides (shared.persistence.errors).
    return db_errors.is_transient(exc)


async def retry_until_done(
    fn: Callable[[], Awaitable[T]],
    *,
    service: str,
    stage: str,
    initial_s: float,
    max_s: float,
) -> T:
    """Retry a step that must eventually succeed (database write, publish).

    Used for infrastructure, never for handler logic: a good event must not be dead-lettered
    because the database was down. Non-retriable errors propagate; cancellation (shutdown,
    rebalance) stops the loop, and the uncommitted offset brings the event back later.
    """
    attempt = 0
    while True:
        try:
            return await fn()
        except Exception as exc:
            if not infra_retriable(exc):
                raise
            attempt += 1
            delay = backoff_delay(attempt, initial_s, max_s)
            RETRIES.labels(service, stage).inc()
            log.warning(
                "%s failed (%s); retry %d in %.2fs",
                stage,
                describe_error(exc),
                attempt,
                delay,
            )
            await asyncio.sleep(delay)
