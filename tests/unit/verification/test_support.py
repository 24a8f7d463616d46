"""Every sentence of a tone rewrite comes from its text; courtesy is not content."""

from __future__ import annotations

import pytest

from schemas.rewrite import Tone, WritingOperation
from services.rewriter import guards
from shared.verification import support

INVOICE = (
    "Hi Tom, invoice #4821 (1,250 EUR) is still unpaid. It was due March 3. "
    "Please sort it out this week."
)
FAITHFUL = "Dear Tom, invoice #4821 for 1,250 EUR is still unpaid; it was due on March 3."


@pytest.mark.parametrize(
    "added",
    [
        # The filler the local model appended to a real e-mail.
        "I am writing to express my concern and request that you take action to address "
        "this matter.",
        # A made-up consequence.
        "Employees who ignore this will receive a formal warning from human resources.",
    ],
)
def test_an_invented_sentence_is_rejected(added: str) -> None:
    found = support.problem(INVOICE, f"{FAITHFUL} {added}")
    assert found is not None and "does not support" in found


@pytest.mark.parametrize(
    "added",
    [
        "I hope this message finds you well and that you have a wonderful day!",
        "Thank you so much for your help, and feel free to reach out with any questions.",
        "I apologize for any inconvenience this may cause.",
        "Please settle it this week.",
    ],
)
def test_courtesy_and_paraphrase_pass(added: str) -> None:
    assert support.problem(INVOICE, f"{FAITHFUL} {added}") is None


def test_a_paraphrase_that_keeps_one_noun_passes() -> None:
    source = "cant make it friday, something came up"
    output = "Unfortunately, I'm unable to attend on Friday due to a prior commitment."
    assert support.problem(source, output) is None


def test_the_reason_quotes_no_user_text() -> None:
    found = support.problem(INVOICE, f"{FAITHFUL} Marek approved the quarterly audit budget.")
    assert found is not None
    assert not any(word in found for word in ("Marek", "audit", "budget", "Tom"))


def test_the_rewriter_runs_it_on_english_tone_rewrites_only() -> None:
    output = (
        f"{FAITHFUL} Please settle it this week. The courier lost the fragile parcels at the depot."
    )
    reason = guards.verify(WritingOperation.REWRITE, Tone.PROFESSIONAL, INVOICE, output)
    assert reason is not None and "does not support" in reason
    other = guards.verify(
        WritingOperation.REWRITE, Tone.PROFESSIONAL, INVOICE, output, english=False
    )
    assert other is None or "does not support" not in other
