"""Dead-letter records: the original bytes and headers, plus why and where they failed.

The reason names the error type, the field path and the violated constraint, never the
offending value: headers are read by tools and operators who must not see user text (the
original bytes stay in the record's value for whoever is allowed to replay it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord

from shared.observability.logging import describe_error

ERROR_TYPE = "cairn.error.type"
ERROR_MESSAGE = "cairn.error.message"
ERROR_RETRIABLE = "cairn.error.retriable"
SOURCE_TOPIC = "cairn.source.topic"
SOURCE_PARTITION = "cairn.source.partition"
SOURCE_OFFSET = "cairn.source.offset"
ATTEMPTS = "cairn.attempts"
SERVICE = "cairn.service"
FAILED_AT = "cairn.failed_at"
# Set by `cairn dlq replay` and kept when a replayed event fails again, so a replay chain is
# bounded (the count) and traceable to the first failure (the origin).
REPLAY_PREFIX = "cairn.replay."
REPLAY_COUNT = REPLAY_PREFIX + "count"
REPLAY_ORIGIN = REPLAY_PREFIX + "origin"

MAX_MESSAGE_BYTES = 4096


def dead_letter_headers(
    record: ConsumerRecord[bytes, bytes],
    exc: BaseException,
    *,
    service: str,
    attempts: int,
    retriable: bool,
) -> list[tuple[str, bytes]]:
    """Original headers first (trace context and replay count survive), then the failure."""
    original = [
        (k, v)
        for k, v in (record.headers or ())
        if not k.startswith("cairn.") or k.startswith(REPLAY_PREFIX)
    ]
    failure = {
        ERROR_TYPE: type(exc).__name__,
        ERROR_MESSAGE: describe_error(exc)[:MAX_MESSAGE_BYTES],
        ERROR_RETRIABLE: str(retriable).lower(),
        SOURCE_TOPIC: record.topic,
        SOURCE_PARTITION: str(record.partition),
        SOURCE_OFFSET: str(record.offset),
        ATTEMPTS: str(attempts),
        SERVICE: service,
        FAILED_AT: datetime.now(UTC).isoformat(),
    }
    return original + [(k, v.encode("utf-8")) for k, v in failure.items()]
