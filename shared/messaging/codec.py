"""Decoding request events and encoding result events."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from schemas.limits import MAX_EVENT_BYTES
from shared.errors import InvalidEventError


def decode(value: bytes | None, model: type[BaseModel]) -> Any:
    """Bytes → validated contract, or `InvalidEventError` saying exactly what is wrong."""
    if value is None:
        raise InvalidEventError("event has no value (tombstone)")
    if len(value) > MAX_EVENT_BYTES:
        raise InvalidEventError(
            f"event is {len(value)} bytes, over the {MAX_EVENT_BYTES}-byte limit"
        )
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEventError(f"event is not UTF-8: {exc}") from exc
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise InvalidEventError(describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError) -> str:
    """A compact, precise reason: field path and message, without echoing user text."""
    parts = []
    for err in exc.errors(include_url=False)[:10]:
        loc = ".".join(str(p) for p in err["loc"]) or "<event>"
        parts.append(f"{loc}: {_without_input(err['msg'], err.get('input'))}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _without_input(msg: str, value: Any) -> str:
    """Pydantic's own messages never quote the input, but a custom validator may (the locale
    check says `locale 'xyz' is not a BCP 47 tag`). Reasons go into logs: cut the value out."""
    if not isinstance(value, str) or not value:
        return msg
    if repr(value) in msg:
        return msg.replace(repr(value), "<input>")
    # Unquoted, only values long enough to be text: cutting "e" would garble the message.
    return msg.replace(value, "<input>") if len(value) >= 4 else msg


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
