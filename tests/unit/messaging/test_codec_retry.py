from __future__ import annotations

import asyncio
import random

import pytest

from schemas.limits import MAX_EVENT_BYTES
from shared.errors import InvalidEventError, PermanentError, TransientError, is_retriable
from shared.messaging.codec import decode
from shared.messaging.retry import backoff_delay, retry_until_done
from tests.support.echo import EchoRequest


def test_decode_reasons() -> None:
    with pytest.raises(InvalidEventError, match="tombstone"):
        decode(None, EchoRequest)
    with pytest.raises(InvalidEventError, match="byte limit"):
        decode(b" " * (MAX_EVENT_BYTES + 1), EchoRequest)
    with pytest.raises(InvalidEventError, match="request_id: Field required"):
        decode(b'{"tenant_id":"t"}', EchoRequest)


def test_backoff_grows_and_is_capped() -> None:
    random.seed(1)
    assert all(0 <= backoff_delay(1, 0.1, 5) <= 0.1 for _ in range(100))
    assert max(backoff_delay(10, 0.1, 5) for _ in range(200)) <= 5
    assert max(backoff_delay(4, 0.1, 5) for _ in range(200)) > 0.4


def test_retriable_flags() -> None:
    assert is_retriable(TransientError("x"))
    assert not is_retriable(PermanentError("x"))
    assert is_retriable(ConnectionResetError())
    assert not is_retriable(ValueError())


async def test_retry_until_done_retries_transient_and_raises_permanent() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TransientError("db down")
        return "ok"

    assert (
        await retry_until_done(flaky, service="t", stage="db", initial_s=0.001, max_s=0.01) == "ok"
    )
    assert calls == 3

    async def broken() -> None:
        raise PermanentError("bad")

    with pytest.raises(PermanentError):
        await retry_until_done(broken, service="t", stage="db", initial_s=0.001, max_s=0.01)

    async def forever() -> None:
        raise TransientError("down")

    task = asyncio.create_task(
        retry_until_done(forever, service="t", stage="db", initial_s=0.001, max_s=0.01)
    )
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
