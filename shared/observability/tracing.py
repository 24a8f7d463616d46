"""W3C trace context carried in Kafka headers (`traceparent`, `tracestate`)."""

from __future__ import annotations

import secrets

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"


def child_traceparent(parent: str | None) -> str:
    """A new span id under the parent's trace, or a new trace when there is no parent."""
    trace_id = None
    if parent:
        parts = parent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            trace_id = parts[1]
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def header(headers: list[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name:
            return value.decode("utf-8", "replace")
    return None
