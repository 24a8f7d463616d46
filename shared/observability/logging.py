"""Structured logs: one JSON object per line, carrying the request_id of the work in hand.

User text never goes into a log line at INFO or above; log ids, sizes and reasons instead.
Call sites log a guard's verdict by its kind (`verdict_kind`) and an exception by a
text-free description (`describe_error`), the details at DEBUG. As a second line of
defence the formatter renders the tracebacks of INFO+ records with those descriptions in
place of exception messages, which may quote input (pydantic's `input_value=...`,
SQLAlchemy's bound parameters, a provider's error body); at DEBUG everything is shown.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, get_args

from pydantic_core.core_schema import ErrorType

from shared.errors import CairnError

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
service_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("service", default=None)

_MAX_VALIDATION_ERRORS = 10
_BUILTIN_ERROR_TYPES = frozenset(get_args(ErrorType))
# Context values of a pydantic error that come from the schema, never from the input.
_SCHEMA_CONTEXT = frozenset({"expected", "pattern", "discriminator", "expected_tags"})
# A custom validator's message (ours in schemas/ name the field, then the value in quotes,
# which is cut out) and a union tag's message, which quotes the input's own tag.
_CUSTOM_ERROR_TYPES = frozenset({"value_error", "assertion_error"})
_QUOTING_ERROR_TYPES = _CUSTOM_ERROR_TYPES | {"union_tag_invalid"}
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Library exceptions whose messages describe the environment (errno, host, broker), not data.
_SAFE_MESSAGE_TYPES: tuple[type[BaseException], ...] = (OSError, TimeoutError, EOFError)
_SAFE_MESSAGE_MODULES = ("aiokafka.", "kafka.", "asyncio.")

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def verdict_kind(verdict: str | None) -> str:
    """The kind of a guard's verdict, without its details.

    Verdicts read `<kind>: <details>` ("invented name: alice, bob"); the details quote the
    text they judge, so only the kind may go into a log line at INFO or above.
    """
    if not verdict:
        return "-"
    return verdict.split(":", 1)[0].strip()[:80]


def describe_error(exc: BaseException) -> str:
    """What failed, precisely and without quoting any value: for logs and DLQ headers.

    Validation errors become field paths, error types and schema constraints; database
    errors their driver class and SQLSTATE; HTTP errors their status. Cairn's own errors
    are written without user text, except the provider's, which wrap answers and bodies.
    Anything else is named by its type only. The chain of causes is followed.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 4:
        seen.add(id(current))
        parts.append(_describe_one(current))
        current = current.__cause__
    return " <- ".join(parts)[:4096]


def _describe_one(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, CairnError) and exc.__cause__ is not None:
        # Its message restates the cause, which is described on its own, text-free.
        return name
    detail = _detail(exc)
    return f"{name}: {detail}" if detail else name


def _detail(exc: BaseException) -> str:
    # Checked by duck typing, so this module imports neither pydantic nor SQLAlchemy.
    errors = getattr(exc, "errors", None)
    if callable(errors) and hasattr(exc, "error_count"):
        return _describe_validation(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"not {exc.encoding.upper()} at byte {exc.start}: {exc.reason}"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    orig = getattr(exc, "orig", None)
    if orig is not None and hasattr(exc, "statement"):
        return _describe_database(orig)
    endpoint = getattr(exc, "endpoint", None)
    if isinstance(exc, CairnError) and isinstance(endpoint, str):
        # A provider error: its message wraps the provider's body or the model's answer.
        status = getattr(exc, "status", None)
        return f"endpoint {endpoint}" + (f", HTTP {status}" if status else "")
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        code = _body_field(getattr(exc, "body", None), "code")
        return f"HTTP {status}" + (f", code {code}" if code else "")
    if isinstance(exc, (CairnError, *_SAFE_MESSAGE_TYPES)) or type(exc).__module__.startswith(
        _SAFE_MESSAGE_MODULES
    ):
        return str(exc)
    return ""


def _describe_validation(exc: Any) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:_MAX_VALIDATION_ERRORS]:
        loc = ".".join(
            str(p) if isinstance(p, int) or _IDENTIFIER.match(str(p)) else "<key>"
            for p in err.get("loc", ())
        )
        kind = str(err.get("type", "invalid"))
        ctx = err.get("ctx") or {}
        constraints = ", ".join(
            f"{k}={v}"
            for k, v in ctx.items()
            if k in _SCHEMA_CONTEXT or (isinstance(v, int | float) and not isinstance(v, bool))
        )
        if kind in _CUSTOM_ERROR_TYPES or (
            kind in _BUILTIN_ERROR_TYPES and kind not in _QUOTING_ERROR_TYPES
        ):
            # pydantic's own templates name the constraint, never the input; still cut it
            # out should a value have been echoed.
            reason = f"{_without(err.get('msg', ''), err.get('input'))} [{kind}]"
        else:
            # An unknown error type may quote the value: its type and context only.
            reason = f"[{kind}]" + (f" ({constraints})" if constraints else "")
        parts.append(f"{loc or '<event>'}: {reason}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _without(msg: str, value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        # A model validator's input is the whole object: whatever it quotes may be a value.
        return _QUOTED.sub("'…'", msg)
    msg = msg.replace(repr(value), "<input>")
    text = str(value)
    # Unquoted, only values long enough to be text: cutting "e" would garble the message.
    return msg.replace(text, "<input>") if len(text) >= 3 else msg


def _describe_database(orig: BaseException) -> str:
    driver = getattr(orig, "driver_exception", None) or orig
    code = (
        getattr(driver, "sqlstate", None)
        or getattr(orig, "sqlstate", None)
        or getattr(orig, "pgcode", None)
        or getattr(orig, "sqlite_errorname", None)
    )
    return type(driver).__name__ + (f" (SQLSTATE {code})" if code else "")


def _body_field(body: Any, key: str) -> str | None:
    if isinstance(body, dict):
        inner = body.get("error", body)
        value = inner.get(key) if isinstance(inner, dict) else None
        if isinstance(value, str) and _IDENTIFIER.match(value):
            return value
    return None


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def format_exception_safely(exc: BaseException) -> str:
    """A traceback (frames and types kept) whose messages are `describe_error`'s."""
    newest_first: list[tuple[BaseException, str]] = []  # (exception, how it led to the newer)
    seen: set[int] = set()
    current: BaseException | None = exc
    how = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        newest_first.append((current, how))
        if current.__cause__ is not None:
            current, how = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, how = current.__context__, _CONTEXT
        else:
            current = None
    out: list[str] = []
    for link, led_to_newer in reversed(newest_first):
        out.append("Traceback (most recent call last):\n")
        out.extend(traceback.format_tb(link.__traceback__))
        out.append(f"{type(link).__module__}.{_describe_one(link)}\n")
        out.append(led_to_newer)
    return "".join(out).rstrip("\n")


class _SafeTextFormatter(logging.Formatter):
    """The plain-text format, with the same exception rendering as the JSON one."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_info[1] is not None and record.levelno >= logging.INFO:
            cached = record.exc_text
            record.exc_text = format_exception_safely(record.exc_info[1])
            try:
                return super().format(record)
            finally:
                record.exc_text = cached
        return super().format(record)


class JsonFormatter(logging.Formatter):
    def __init__(self, *, reveal_exceptions: bool = False) -> None:
        super().__init__()
        # True at DEBUG: whoever turns DEBUG on accepts user text in the logs.
        self.reveal_exceptions = reveal_exceptions

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (rid := request_id_var.get()) is not None:
            doc["request_id"] = rid
        if (svc := service_var.get()) is not None:
            doc["service"] = svc
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                doc[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            if self.reveal_exceptions or record.levelno < logging.INFO:
                doc["exc"] = self.formatException(record.exc_info)
            else:
                doc["exc"] = format_exception_safely(record.exc_info[1])
        return json.dumps(doc, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    reveal = logging.getLevelName(level.upper()) == logging.DEBUG
    text_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(
        JsonFormatter(reveal_exceptions=reveal)
        if json_lines
        else (logging.Formatter(text_format) if reveal else _SafeTextFormatter(text_format))
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every rebalance step at INFO; keep it for warnings and up.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
