"""Property-based fuzzing of event decoding: whatever arrives, `decode` either returns a
validated contract or raises `InvalidEventError`, never anything else.

The consumer relies on that: any other exception would go down the "unexpected failure"
path, and a crash in decoding would stall a partition behind one poisoned record.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas.emoji import EmojiGenRequest
from schemas.limits import MAX_EVENT_BYTES
from schemas.rewrite import RewriteRequest
from schemas.summarize import SummarizeRequest
from shared.errors import InvalidEventError
from shared.messaging.codec import decode
from tests.support.echo import EchoRequest

MODELS: list[type[BaseModel]] = [EchoRequest, SummarizeRequest, RewriteRequest, EmojiGenRequest]
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

# Any JSON document: scalars (with the awkward ones: huge ints, -0.0, lone surrogates in
# strings, NUL) nested in lists and objects.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=25,
)


def valid_event() -> dict[str, Any]:
    return {
        "request_id": "req-1",
        "tenant_id": "tenant-a",
        "user_id": "user-1",
        "occurred_at": "2025-01-01T00:00:00+00:00",
        "payload": {"text": "hello"},
    }


def decodes_or_rejects(value: bytes | None, model: type[BaseModel]) -> None:
    """The property itself: a model instance, or `InvalidEventError` with a non-empty reason."""
    try:
        result = decode(value, model)
    except InvalidEventError as exc:
        assert str(exc), "a rejection always says why"
        return
    assert isinstance(result, model)


@FUZZ
@given(value=st.binary(max_size=2048), model=st.sampled_from(MODELS))
def test_random_bytes(value: bytes, model: type[BaseModel]) -> None:
    decodes_or_rejects(value, model)


@FUZZ
@given(doc=json_values, model=st.sampled_from(MODELS))
def test_random_json(doc: Any, model: type[BaseModel]) -> None:
    # ensure_ascii=True writes lone surrogates as \\udxxx escapes, which UTF-8 cannot carry.
    for ensure_ascii in (True, False):
        try:
            raw = json.dumps(doc, ensure_ascii=ensure_ascii).encode("utf-8")
        except UnicodeEncodeError:
            continue
        decodes_or_rejects(raw, model)


# Mutations of a valid event: each field replaced by any JSON value, removed, or joined by an
# unknown one; the payload likewise.
field_names = st.sampled_from(
    ["request_id", "tenant_id", "user_id", "occurred_at", "payload", "locale", "trace"]
)
mutation = st.one_of(
    st.tuples(st.just("set"), field_names, json_values),
    st.tuples(st.just("drop"), field_names, st.none()),
    st.tuples(st.just("extra"), st.text(min_size=1, max_size=10), json_values),
    st.tuples(st.just("payload"), st.sampled_from(["text", "delay_ms", "fail", "x"]), json_values),
)


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_valid_events(mutations: list[tuple[str, str, Any]]) -> None:
    event = valid_event()
    for kind, name, value in mutations:
        if kind in ("set", "extra"):
            event[name] = value
        elif kind == "drop":
            event.pop(name, None)
        elif isinstance(event.get("payload"), dict):
            event["payload"][name] = value
    decodes_or_rejects(json.dumps(event).encode(), EchoRequest)


@FUZZ
@given(data=st.data())
def test_byte_level_corruption_of_a_valid_event(data: st.DataObject) -> None:
    raw = bytearray(json.dumps(valid_event()).encode())
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    decodes_or_rejects(bytes(raw[:cut]), EchoRequest)


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"[" * 100_000,  # nesting past the parser's recursion limit
        b'{"a":' * 10_000,
        b" " * (MAX_EVENT_BYTES + 1),
        json.dumps({**valid_event(), "payload": {"text": "\ud800"}}).encode(),  # lone surrogate
        b"\xed\xa0\x80",  # a surrogate encoded as UTF-8: not valid UTF-8
        b"1e999999",
        b'{"request_id": 1e400}',
    ],
)
def test_known_nasty_inputs(value: bytes | None) -> None:
    with pytest.raises(InvalidEventError):
        decode(value, EchoRequest)


def test_the_valid_event_used_for_mutation_is_valid() -> None:
    # Otherwise every mutation test above would pass by rejecting everything.
    assert decode(json.dumps(valid_event()).encode(), EchoRequest).payload.text == "hello"


def test_rejection_reasons_do_not_echo_the_input() -> None:
    # A custom validator (locale) quotes its input; the reason ends up in logs.
    phrase = "my secret diagnosis"
    event = {**valid_event(), "locale": phrase}
    with pytest.raises(InvalidEventError) as info:
        decode(json.dumps(event).encode(), EchoRequest)
    assert "locale" in str(info.value)
    assert phrase not in str(info.value)
