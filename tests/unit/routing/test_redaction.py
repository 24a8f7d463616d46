from __future__ import annotations

import pytest
from pydantic import BaseModel

from shared.routing.redaction import Redaction, redact_messages


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe+news@mail.example.co.uk now", "EMAIL"),
        ("call +44 20 7946 0958 now", "PHONE"),
        ("call (415) 555-2671 now", "PHONE"),
        ("call 415.555.2671 now", "PHONE"),
        ("call +14155552671 now", "PHONE"),
        ("see https://example.com/a?b=c#d now", "URL"),
        ("see www.example.org/path now", "URL"),
        ("see docs.example.io/guide now", "URL"),
        ("pay with 5500-0000-0000-0004 now", "CARD"),
        ("pay with 4111111111111111 now", "CARD"),
        ("to GB29 NWBK 6016 1331 9268 19 now", "IBAN"),
        ("to FR1420041010050500013M02606 now", "IBAN"),
        ("account 000123456789 now", "ACCOUNT"),
        ("ssn 123-45-6789 now", "ACCOUNT"),
        ("ship to 1600 Pennsylvania Avenue now", "ADDRESS"),
        ("ship to 10 Downing St. now", "ADDRESS"),
        ("ship to 742 Evergreen Terrace, Apt 2B now", "ADDRESS"),
        ("ship to Hauptstraße 5 now", "ADDRESS"),
        ("ship to 12 rue de Rivoli now", "ADDRESS"),
    ],
)
def test_each_kind_is_replaced_and_restored(text: str, kind: str) -> None:
    redaction = Redaction()
    redacted = redaction.redact(text)
    assert f"[{kind}_1]" in redacted, redacted
    assert redacted.endswith(" now")
    assert redaction.counts == {kind: 1}
    assert redaction.rehydrate(redacted) == text


@pytest.mark.parametrize(
    "text",
    [
        "Meeting on 2024-05-01 at 10:30, version 3.11.2, 1,000 units, 42 people.",
        "Room 12, floor 3, call me in 15 minutes; 25/12/2024 works.",
        "Total: $1,234.56 for 3 items on 12.03.2024.",
        "I have 2 Dr appointments and 3 St bernards.",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    redaction = Redaction()
    assert redaction.redact(text) == text
    assert redaction.empty


def test_placeholders_are_stable_across_messages() -> None:
    redaction = Redaction()
    messages = [
        {"role": "system", "content": "Reply to a@b.example.com"},
        {"role": "user", "content": "a@b.example.com wrote to c@d.example.com"},
    ]
    out = redact_messages(messages, redaction)
    assert out[0]["content"] == "Reply to [EMAIL_1]"
    assert out[1]["content"] == "[EMAIL_1] wrote to [EMAIL_2]"
    assert out[0]["role"] == "system"
    assert messages[0]["content"] == "Reply to a@b.example.com", "input is not mutated"


def test_user_written_placeholders_do_not_collide() -> None:
    redaction = Redaction()
    redacted = redaction.redact("template says [EMAIL_1]; real one is x@y.example.com")
    assert redacted == "template says [EMAIL_1]; real one is [EMAIL_2]"
    assert redaction.rehydrate(redacted) == "template says [EMAIL_1]; real one is x@y.example.com"


def test_rehydration_tolerates_reformatted_placeholders() -> None:
    redaction = Redaction()
    redaction.redact("mail x@y.example.com")
    assert redaction.rehydrate("[email_1] / [ EMAIL 1 ] / [EMAIL-1]") == (
        "x@y.example.com / x@y.example.com / x@y.example.com"
    )
    assert redaction.rehydrate("[EMAIL_7]") == "[EMAIL_7]"


class Inner(BaseModel):
    contact: str
    tags: list[str]


class Outer(BaseModel):
    title: str
    inner: Inner
    items: list[Inner]
    count: int


def test_rehydrates_nested_model_fields() -> None:
    redaction = Redaction()
    redaction.redact("x@y.example.com and +1 415 555 2671")
    model = Outer(
        title="Mail [EMAIL_1]",
        inner=Inner(contact="[PHONE_1]", tags=["[EMAIL_1]", "plain"]),
        items=[Inner(contact="c [PHONE_1]", tags=[])],
        count=3,
    )
    restored = redaction.rehydrate_model(model)
    assert restored.title == "Mail x@y.example.com"
    assert restored.inner.contact == "+1 415 555 2671"
    assert restored.inner.tags == ["x@y.example.com", "plain"]
    assert restored.items[0].contact == "c +1 415 555 2671"
    assert restored.count == 3


def test_url_keeps_trailing_punctuation_outside() -> None:
    redaction = Redaction()
    assert redaction.redact("Go to https://example.com/x.") == "Go to [URL_1]."
