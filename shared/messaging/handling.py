"""Calling a handler the way every entry point does (Kafka runtime and `cairn batch`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas.envelope import RequestEnvelope
from shared.errors import PermanentError, is_retriable
from shared.messaging.codec import describe_validation_error
from shared.messaging.handler import Handler, HandlerResult, ServiceSpec
from shared.messaging.idempotency import request_fingerprint
from shared.messaging.retry import backoff_delay
from shared.messaging.settings import RuntimeSettings
from shared.observability.metrics import RETRIES
from shared.persistence.repository import NewResult, sha256_text

log = logging.getLogger(__name__)


class HandlerGaveUp(Exception):
    """The handler failed for good: a permanent error, or retriable ones past the attempts."""

    def __init__(self, cause: BaseException, attempts: int) -> None:
        super().__init__(f"{type(cause).__name__}: {cause} (after {attempts} attempt(s))")
        self.cause = cause
        self.attempts = attempts


async def handle_with_retries(
    handler: Handler, request: RequestEnvelope[Any], settings: RuntimeSettings, *, service: str
) -> HandlerResult[Any]:
    """Run the handler with a timeout; retry retriable failures with backoff and jitter."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await asyncio.wait_for(handler(request), settings.handler_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_retriable(exc) or attempt >= settings.max_attempts:
                raise HandlerGaveUp(exc, attempt) from exc
            delay = backoff_delay(attempt, settings.retry_initial_s, settings.retry_max_s)
            RETRIES.labels(service, "handler").inc()
            log.warning(
                "handler attempt %d failed (%s); retrying in %.2fs",
                attempt,
                type(exc).__name__,
                delay,
            )
            await asyncio.sleep(delay)


def result_document(
    spec: ServiceSpec[Any, Any], request: RequestEnvelope[Any], result: HandlerResult[Any]
) -> dict[str, Any]:
    """The result envelope as published (JSON-ready), validated against the contract."""
    try:
        envelope = spec.result_model(
            request_id=request.request_id,
            tenant_id=request.tenant_id,
            user_id=request.user_id,
            feature=spec.feature,
            status=result.status,
            produced_at=datetime.now(UTC),
            provenance=result.provenance,
            result=result.result,
            error=result.error,
            trace=request.trace,
        )
    except ValidationError as exc:
        # A handler produced something its own contract rejects: a bug, not bad luck.
        # The description names fields only, so no user text reaches logs or headers.
        raise PermanentError(
            f"handler result violates {spec.result_model.__name__}: "
            f"{describe_validation_error(exc)}"
        ) from exc
    return envelope.model_dump(mode="json")


def stored_result(
    spec: ServiceSpec[Any, Any],
    request: RequestEnvelope[Any],
    result: HandlerResult[Any],
    output: dict[str, Any],
    *,
    store_input_text: bool,
) -> NewResult:
    """The database row of a result: the audit fields, the envelope, the input as a hash."""
    p = result.provenance
    text = result.input_text
    if text is None:
        text = request.payload.model_dump_json()
    return NewResult(
        request_id=request.request_id,
        feature=spec.feature,
        tenant_id=request.tenant_id,
        user_id=request.user_id,
        status=result.status.value,
        tier=p.tier,
        model=p.model,
        reasons=list(p.reasons),
        verified=p.verified,
        degraded_reason=p.degraded_reason,
        latency_ms=p.latency_ms,
        prompt_tokens=p.prompt_tokens,
        completion_tokens=p.completion_tokens,
        cost_usd=p.cost_usd,
        input_sha256=sha256_text(text),
        input_text=text if store_input_text else None,
        output=output,
        occurred_at=request.occurred_at,
        request_fingerprint=request_fingerprint(spec.feature, request),
        subject_key=result.subject_key,
    )
