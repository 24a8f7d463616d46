"""A test-only feature: echoes the payload, with knobs to fail on purpose.

It exercises the messaging runtime with the real broker and database but without a model, so
transport guarantees are tested apart from inference speed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from pydantic import Field

from schemas.envelope import Provenance, RequestEnvelope, ResultEnvelope, ResultStatus, StrictModel
from shared.errors import PermanentError, TransientError
from shared.messaging.handler import Handler, HandlerResult, ServiceContext, ServiceSpec


class EchoPayload(StrictModel):
    text: str = Field(max_length=1000)
    delay_ms: int = Field(0, ge=0, le=60_000)
    fail: Literal["transient", "permanent"] | None = None
    fail_times: int = Field(0, ge=0, description="Transient failures before success.")


class EchoResult(StrictModel):
    text: str
    attempts: int


EchoRequest = RequestEnvelope[EchoPayload]
EchoResultEnvelope = ResultEnvelope[EchoResult]


class EchoHandler:
    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        # Per idempotency key: request ids are only unique within a tenant.
        self.calls: Counter[tuple[str, str]] = Counter()

    async def __call__(self, request: RequestEnvelope[Any]) -> HandlerResult[Any]:
        payload: EchoPayload = request.payload
        self.attempts[request.request_id] += 1
        self.calls[(request.tenant_id, request.request_id)] += 1
        attempt = self.attempts[request.request_id]
        started = time.perf_counter()
        if payload.delay_ms:
            await asyncio.sleep(payload.delay_ms / 1000)
        if payload.fail == "permanent":
            raise PermanentError("echo told to fail permanently")
        if payload.fail == "transient" and attempt <= payload.fail_times:
            raise TransientError(f"echo transient failure {attempt}/{payload.fail_times}")
        return HandlerResult(
            status=ResultStatus.OK,
            result=EchoResult(text=payload.text, attempts=attempt),
            provenance=Provenance(
                tier="local",
                model="echo",
                verified=True,
                latency_ms=(time.perf_counter() - started) * 1000,
            ),
            subject_key=request.user_id,
        )


@asynccontextmanager
async def echo_lifespan(ctx: ServiceContext) -> AsyncIterator[Handler]:
    yield EchoHandler()


ECHO_SPEC: ServiceSpec[EchoPayload, EchoResult] = ServiceSpec(
    name="echo",
    feature="echo",
    request_model=EchoRequest,
    result_model=EchoResultEnvelope,
    lifespan=echo_lifespan,
)
