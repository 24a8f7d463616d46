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


async def test_a_database_outage_inside_the_handler_is_not_capped_by_attempts() -> None:
    """The handler reads the database (incremental state, budget ledger) while it is down:
    the event waits for it, like the runtime's own writes, instead of reaching the DLQ."""
    from schemas.envelope import Provenance, ResultStatus
    from shared.messaging.handler import HandlerResult
    from shared.messaging.handling import HandlerGaveUp, handle_with_retries
    from shared.messaging.settings import RuntimeSettings
    from shared.persistence.errors import DatabaseUnavailable
    from tests.support.echo import EchoResult

    settings = RuntimeSettings(
        CAIRN_MAX_ATTEMPTS=3, CAIRN_RETRY_INITIAL_S=0.001, CAIRN_RETRY_MAX_S=0.002
    )
    request = EchoRequest.model_validate(
        {"request_id": "r", "tenant_id": "t", "user_id": "u",
         "occurred_at": "2025-01-01T00:00:00+00:00", "payload": {"text": "x"}}
    )  # fmt: skip
    calls = 0

    async def down_then_up(_: object) -> HandlerResult[EchoResult]:
        nonlocal calls
        calls += 1
        if calls <= 7:
            try:
                raise DatabaseUnavailable("database unavailable [57P03]", sqlstate="57P03")
            except DatabaseUnavailable as exc:
                raise TransientError("wrapped by a router") from exc
        return HandlerResult(
            status=ResultStatus.OK,
            result=EchoResult(text="x", attempts=calls),
            provenance=Provenance(tier="local", model="echo", verified=True, latency_ms=1.0),
        )

    result = await handle_with_retries(down_then_up, request, settings, service="t")
    assert calls == 8 and result.status is ResultStatus.OK

    async def flaky(_: object) -> HandlerResult[EchoResult]:
        raise TransientError("provider hiccup")

    with pytest.raises(HandlerGaveUp) as gave_up:
        await handle_with_retries(flaky, request, settings, service="t")
    assert gave_up.value.attempts == 3, "other transient errors keep their cap"
