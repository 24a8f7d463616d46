"""Contracts reject what they must, with reasons that name the field and the limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import export
from schemas.emoji import EmojiGenRequest
from schemas.limits import MAX_NOTIFICATIONS_PER_STACK, MAX_WRITING_TEXT_CHARS
from schemas.rewrite import RewriteRequest
from schemas.summarize import SummarizeRequest

NOW = datetime.now(UTC).isoformat()


def envelope(payload: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "request_id": "r-1",
        "tenant_id": "t",
        "user_id": "u",
        "occurred_at": NOW,
        "payload": payload,
        **overrides,
    }


def note(i: int, app: str = "chat") -> dict[str, Any]:
    return {"id": f"n{i}", "app_id": app, "body": f"message {i}", "timestamp": NOW}


def errors(model: Any, doc: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(doc)
    return str(info.value)


def test_valid_events_parse() -> None:
    stack = {"stack_id": "s", "app_id": "chat", "notifications": [note(1), note(2)]}
    assert SummarizeRequest.model_validate(envelope(stack)).payload.max_summary_chars == 160
    req = RewriteRequest.model_validate(
        envelope({"operation": "rewrite", "text": "hi", "tone": "friendly"})
    )
    assert req.payload.tone == "friendly"
    assert EmojiGenRequest.model_validate(envelope({"description": "a cat"})).payload.count == 3


def test_limits_are_enforced_with_precise_reasons() -> None:
    too_many = {
        "stack_id": "s",
        "app_id": "chat",
        "notifications": [note(i) for i in range(MAX_NOTIFICATIONS_PER_STACK + 1)],
    }
    assert "at most 50 items" in errors(SummarizeRequest, envelope(too_many))
    long_text = {"operation": "proofread", "text": "x" * (MAX_WRITING_TEXT_CHARS + 1)}
    assert "at most 8000 characters" in errors(RewriteRequest, envelope(long_text))
    assert "less than or equal to 10" in errors(
        EmojiGenRequest, envelope({"description": "cat", "count": 11})
    )


def test_cross_field_rules() -> None:
    mixed = {"stack_id": "s", "app_id": "chat", "notifications": [note(1), note(2, app="mail")]}
    assert "one app's notifications" in errors(SummarizeRequest, envelope(mixed))
    assert "tone is required" in errors(
        RewriteRequest, envelope({"operation": "rewrite", "text": "hi"})
    )
    assert "instruction is required" in errors(
        RewriteRequest, envelope({"operation": "instruction", "text": "hi"})
    )


def test_envelope_rules() -> None:
    emoji = {"description": "cat"}
    assert "timezone" in errors(EmojiGenRequest, envelope(emoji, occurred_at="2026-01-01T00:00:00"))
    assert "BCP 47" in errors(EmojiGenRequest, envelope(emoji, locale="english please"))
    assert "Extra inputs" in errors(EmojiGenRequest, envelope(emoji, surprise=True))
    assert "String should match pattern" in errors(
        EmojiGenRequest, envelope(emoji, request_id="a b")
    )


def test_committed_exports_are_fresh() -> None:
    assert export.main(["--check"]) == 0, "run `make schemas` and commit schemas/generated"
