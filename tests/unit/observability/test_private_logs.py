"""Error descriptions and log lines that name what failed without quoting any value."""

from __future__ import annotations

import io
import json
import logging

import httpx2
import openai
import pytest
import sqlalchemy as sa
from pydantic import BaseModel, Field, ValidationError, field_validator

from shared.errors import InvalidEventError
from shared.observability.logging import JsonFormatter, describe_error, verdict_kind
from shared.routing.errors import ProviderResponseError

SECRET = "Zqsecretvalue"


class Payload(BaseModel):
    text: str = Field(max_length=5)
    count: int = Field(ge=1)
    locale: str = "en"

    @field_validator("locale")
    @classmethod
    def _tag(cls, value: str) -> str:
        if value != "en":
            raise ValueError(f"locale {value!r} is not a BCP 47 tag")
        return value


def validation_error(**values: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Payload.model_validate(values)
    return caught.value


def test_validation_errors_name_field_type_and_constraint_only() -> None:
    exc = validation_error(text=SECRET, count=0, locale=SECRET)
    assert SECRET in str(exc), "pydantic itself quotes the input"
    reason = describe_error(exc)
    assert SECRET not in reason
    assert "text: String should have at most 5 characters [string_too_long]" in reason
    assert "count: Input should be greater than or equal to 1 [greater_than_equal]" in reason
    assert "locale: Value error, locale <input> is not a BCP 47 tag [value_error]" in reason


def test_a_wrapped_validation_error_is_described_by_its_cause() -> None:
    try:
        try:
            Payload.model_validate({"text": SECRET, "count": 1})
        except ValidationError as inner:
            raise InvalidEventError(f"bad event: {inner}") from inner
    except InvalidEventError as exc:
        reason = describe_error(exc)
    assert SECRET not in reason
    assert reason.startswith("InvalidEventError <- ValidationError: text:")


def test_database_errors_give_driver_class_not_parameters() -> None:
    engine = sa.create_engine("sqlite://")
    table = sa.Table("t", sa.MetaData(), sa.Column("k", sa.String, unique=True))
    table.metadata.create_all(engine)
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError) as caught:
        conn.execute(table.insert(), [{"k": SECRET}, {"k": SECRET}])
    assert SECRET in str(caught.value), "SQLAlchemy quotes the bound parameters"
    reason = describe_error(caught.value)
    assert SECRET not in reason
    assert reason.startswith("IntegrityError: IntegrityError (SQLSTATE SQLITE_CONSTRAINT_UNIQUE)")


def test_provider_errors_give_status_and_code_not_body() -> None:
    response = httpx2.Response(400, request=httpx2.Request("POST", "https://api.test/v1/x"))
    body = {"error": {"message": f"'{SECRET}' is too long", "code": "string_above_max_length"}}
    exc = openai.BadRequestError(f"Error code: 400 - {body}", response=response, body=body)
    assert describe_error(exc) == "BadRequestError: HTTP 400, code string_above_max_length"

    try:
        try:
            Payload.model_validate({"text": SECRET, "count": 1})
        except ValidationError as inner:
            raise ProviderResponseError(f"malformed answer: {inner}", endpoint="openai") from inner
    except ProviderResponseError as wrapped:
        reason = describe_error(wrapped)
    assert SECRET not in reason
    assert reason.startswith("ProviderResponseError <- ValidationError: text:")


def test_unknown_library_errors_are_named_by_type_only() -> None:
    assert describe_error(RuntimeError(f"tokenizer choked on {SECRET}")) == "RuntimeError"
    assert describe_error(ConnectionRefusedError(111, "Connection refused")) == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )


def test_verdict_kind_drops_the_quoted_details() -> None:
    assert verdict_kind("invented name: aufgaben, ihnen, ihre") == "invented name"
    assert verdict_kind("dropped number: 0134, 4111") == "dropped number"
    assert verdict_kind("empty output") == "empty output"
    assert verdict_kind(None) == "-"


def log_line(level: int, *, reveal: bool) -> dict[str, str]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter(reveal_exceptions=reveal))
    logger = logging.getLogger("tests.private_logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        try:
            int(SECRET)
        except ValueError:
            logger.log(level, "parse failed", exc_info=True)
    finally:
        logger.handlers.clear()
    doc: dict[str, str] = json.loads(buffer.getvalue())
    return doc


def test_tracebacks_at_info_and_above_keep_frames_and_types_not_messages() -> None:
    doc = log_line(logging.ERROR, reveal=False)
    assert SECRET not in json.dumps(doc, ensure_ascii=False)
    assert "Traceback (most recent call last)" in doc["exc"]
    assert "in log_line" in doc["exc"] and doc["exc"].endswith("builtins.ValueError")


def test_debug_shows_everything() -> None:
    assert SECRET in log_line(logging.DEBUG, reveal=False)["exc"]
    assert SECRET in log_line(logging.ERROR, reveal=True)["exc"]
