"""The life of one event: decode, deduplicate, handle, persist, publish.

Returns only when the event is fully dealt with (result published or event dead-lettered),
so the caller may mark its offset finished. Infrastructure steps retry until they succeed
or the task is cancelled; the handler gets a bounded number of attempts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from aiokafka.structs import ConsumerRecord

from schemas.envelope import IDEMPOTENCY_CONFLICT, RequestEnvelope
from shared.errors import InvalidEventError, PermanentError, is_retriable
from shared.messaging.codec import decode, encode
from shared.messaging.dlq import dead_letter_headers
from shared.messaging.handler import Handler, ServiceSpec
from shared.messaging.handling import (
    HandlerGaveUp,
    handle_with_retries,
    result_document,
    stored_result,
)
from shared.messaging.idempotency import conflict_result, request_fingerprint, result_key
from shared.messaging.retry import retry_until_done
from shared.messaging.settings import RuntimeSettings
from shared.observability.logging import describe_error, request_id_var
from shared.observability.metrics import EVENTS, HANDLE_SECONDS, RESULTS
from shared.observability.ops_metrics import DEAD_LETTERS
from shared.observability.tracing import TRACEPARENT, TRACESTATE, child_traceparent, header
from shared.persistence.repository import NewResult, ResultKey, SaveOutcome, StoredResult

log = logging.getLogger(__name__)

# Bound on the lane supervisor's one dead-letter attempt: long enough for a leader move.
LAST_RESORT_TIMEOUT_S = 30.0


class ResultStore(Protocol):
    async def find(self, key: ResultKey) -> StoredResult | None: ...
    async def save(self, new: NewResult) -> SaveOutcome: ...


class Publisher(Protocol):
    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any: ...


class EventProcessor:
    def __init__(
        self,
        spec: ServiceSpec[Any, Any],
        handler: Handler,
        store: ResultStore,
        publisher: Publisher,
        settings: RuntimeSettings,
        *,
        store_input_text: bool = False,
    ) -> None:
        self._spec = spec
        self._handler = handler
        self._store = store
        self._publisher = publisher
        self._settings = settings
        self._store_input_text = store_input_text

    async def process(self, record: ConsumerRecord[bytes, bytes]) -> str:
        """Deal with one record; returns the outcome label (ok, duplicate, conflict, dlq)."""
        started = time.perf_counter()
        request_id_var.set(None)
        try:
            outcome = await self._process(record)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Not retriable and not the handler's (a bug in a store, say): isolate the event
            # rather than stall its partition forever.
            # The type only at ERROR: the traceback may quote the event (DEBUG has it).
            log.error("unexpected failure (%s); dead-lettering the event", type(exc).__name__)
            log.debug("unexpected failure detail", exc_info=True)
            await self._dead_letter(record, exc, attempts=1)
            outcome = "dlq"
        finally:
            HANDLE_SECONDS.labels(self._spec.name).observe(time.perf_counter() - started)
        EVENTS.labels(self._spec.name, outcome).inc()
        return outcome

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> str:
        started = time.perf_counter()
        try:
            request: RequestEnvelope[Any] = decode(record.value, self._spec.request_model)
        except InvalidEventError as exc:
            log.warning(
                "invalid event at %s[%d]@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                describe_error(exc),
            )
            await self._dead_letter(record, exc, attempts=1)
            return "dlq"
        request_id_var.set(request.request_id)

        key = result_key(self._spec.feature, request)
        fingerprint = request_fingerprint(self._spec.feature, request)
        stored = await self._infra(lambda: self._store.find(key), "db-read")
        if stored is not None:
            if not stored.answers(request.user_id, fingerprint):
                return await self._conflict(record, request, started)
            # Redelivery (crash, rebalance, producer retry): re-publish, never recompute.
            await self._publish(record, stored.output)
            return "duplicate"

        try:
            result = await handle_with_retries(
                self._handler, request, self._settings, service=self._spec.name
            )
            output = result_document(self._spec, request, result)
        except HandlerGaveUp as gave_up:
            # The type only at ERROR: a handler's (or its library's) message may quote the
            # input. The full message travels in the DLQ headers and at DEBUG.
            log.error(
                "handler gave up after %d attempt(s): %s",
                gave_up.attempts,
                type(gave_up.cause).__name__,
            )
            log.debug("handler gave up: %s", gave_up)
            await self._dead_letter(record, gave_up.cause, attempts=gave_up.attempts)
            return "dlq"
        except PermanentError as exc:
            log.error("handler result rejected: %s", describe_error(exc))
            log.debug("handler result rejected: %s", exc)
            await self._dead_letter(record, exc, attempts=1)
            return "dlq"

        new = stored_result(
            self._spec, request, result, output, store_input_text=self._store_input_text
        )
        saved = await self._infra(lambda: self._store.save(new), "db-write")
        if saved.conflict:
            # Another request under this key was stored while this one computed.
            return await self._conflict(record, request, started)
        await self._publish(record, saved.output)
        RESULTS.labels(self._spec.name, result.status.value, result.provenance.tier).inc()
        return "ok" if saved.inserted else "duplicate"

    async def _conflict(
        self, record: ConsumerRecord[bytes, bytes], request: RequestEnvelope[Any], started: float
    ) -> str:
        """Answer a reused key with a `failed` result; the stored one is neither sent nor touched.

        Published, not dead-lettered: the producer made a mistake it must hear about on the
        results topic it reads, and replaying the event from a DLQ could never succeed.
        """
        log.warning(
            "request %s reuses its key with different content: %s",
            request.request_id,
            IDEMPOTENCY_CONFLICT,
        )
        result = conflict_result((time.perf_counter() - started) * 1000)
        await self._publish(record, result_document(self._spec, request, result))
        RESULTS.labels(self._spec.name, result.status.value, result.provenance.tier).inc()
        return "conflict"

    async def _publish(self, record: ConsumerRecord[bytes, bytes], output: dict[str, Any]) -> None:
        parent = header(record.headers, TRACEPARENT)
        headers = [
            ("request_id", str(output.get("request_id", "")).encode()),
            (TRACEPARENT, child_traceparent(parent).encode()),
        ]
        if (state := header(record.headers, TRACESTATE)) is not None:
            headers.append((TRACESTATE, state.encode()))
        value = encode(output)
        await self._infra(
            lambda: self._publisher.send_and_wait(
                self._spec.output_topic, value=value, key=record.key, headers=headers
            ),
            "publish",
        )

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], exc: BaseException, *, attempts: int
    ) -> None:
        headers = dead_letter_headers(
            record, exc, service=self._spec.name, attempts=attempts, retriable=is_retriable(exc)
        )
        await self._infra(
            lambda: self._publisher.send_and_wait(
                self._settings.dlq_topic, value=record.value, key=record.key, headers=headers
            ),
            "dlq",
        )
        DEAD_LETTERS.labels(self._spec.name, type(exc).__name__).inc()

    async def dead_letter_last_resort(
        self, record: ConsumerRecord[bytes, bytes], exc: BaseException, failures: int
    ) -> None:
        """One bounded dead-letter attempt, for the lane supervisor; raises if it fails.

        Called after `process` itself failed `failures` times: the event leaves its
        partition with its first error's type and message, and the supervisor tries again
        later if this write fails too.
        """
        # The error that escaped is usually a failed dead-letter write; the reason the event
        # failed is the first error of the chain (an invalid event, a store's bug).
        # `raise ... from` marks a deliberate translation (InvalidEventError from pydantic's
        # error): the chain stops there.
        cause = exc
        while cause.__context__ is not None and not cause.__suppress_context__:
            cause = cause.__context__
        headers = dead_letter_headers(
            record, cause, service=self._spec.name, attempts=failures, retriable=is_retriable(cause)
        )
        await asyncio.wait_for(
            self._publisher.send_and_wait(
                self._settings.dlq_topic, value=record.value, key=record.key, headers=headers
            ),
            LAST_RESORT_TIMEOUT_S,
        )
        EVENTS.labels(self._spec.name, "dlq").inc()
        DEAD_LETTERS.labels(self._spec.name, type(cause).__name__).inc()

    async def _infra(self, fn: Any, stage: str) -> Any:
        s = self._settings
        return await retry_until_done(
            fn,
            service=self._spec.name,
            stage=stage,
            initial_s=s.retry_initial_s,
            max_s=s.retry_max_s,
        )
