"""Length caps, model-output tidying and extractive summaries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.summarizer import extractive
from services.summarizer.draft import tidy
from services.summarizer.stack import sources_of
from services.summarizer.task import verify_summary
from services.summarizer.text import ELLIPSIS, cap
from services.summarizer.urgency import rank

from .factories import T0, note


@pytest.mark.parametrize("limit", [5, 12, 20, 40, 41, 60])
def test_cap_fits_and_cuts_at_a_word(limit: int) -> None:
    text = "Pay $1,250.75 to Rosa before Friday, or the booking at Casa Blanca lapses."
    capped = cap(text, limit)
    assert len(capped) <= limit
    assert capped.endswith(ELLIPSIS)
    kept = capped.removesuffix(ELLIPSIS).split()
    # Every kept word is a whole word of the original (amounts are never cut in half).
    assert kept == text.split()[: len(kept)]


def test_cap_leaves_short_text_alone_and_collapses_whitespace() -> None:
    assert cap("  Call  me\n back ", 40) == "Call me back"


def test_tidy_takes_the_first_line_and_drops_labels_and_quotes() -> None:
    assert tidy('\nSummary: "Alice moved lunch to 1pm."\nNotifications: ...', 100) == (
        "Alice moved lunch to 1pm."
    )


def test_tidy_keeps_whole_sentences_within_the_cap() -> None:
    raw = "Alice moved lunch to 1pm. Bob will bring the slides and the projector for the demo."
    assert tidy(raw, 40) == "Alice moved lunch to 1pm."
    long_sentence = "Alice moved lunch with the whole design team to the rooftop at 1pm today"
    assert len(tidy(long_sentence, 40)) <= 40


def test_extractive_summary_is_urgent_first_within_cap_and_grounded() -> None:
    stack = [
        note("a", "Lunch at Nori on Friday? I can do 12:30.", sender="Ken", minutes=0),
        note("b", "Your verification code is 771204. Do not share it.", sender="Bank", minutes=1),
        note("c", "Also, I have your charger.", sender="Ken", minutes=2),
        note("d", "Also, I have your charger.", sender="Ken", minutes=3),
    ]
    ranked = rank(stack, T0 + timedelta(hours=1))
    text = extractive.summarise(stack, ranked, 120)
    assert len(text) <= 120
    assert text.startswith("Bank: Your verification code is 771204.")
    assert text.count("charger") == 1  # duplicates are said once
    assert verify_summary(text, sources_of(stack), 120, generated=False) is None


def test_extractive_summary_caps_a_long_first_item() -> None:
    stack = [note("a", "word " * 100, minutes=0), note("b", "short", minutes=1)]
    ranked = rank(stack, T0)
    assert len(extractive.summarise(stack, ranked, 50)) <= 50


def test_single_notification_is_its_own_summary_capped() -> None:
    n = note("a", "Running late, be there at 7:45. Order me the soup!", sender="Sam")
    assert extractive.single(n, 160) == "Sam: Running late, be there at 7:45. Order me the soup!"
    assert len(extractive.single(n, 40)) <= 40
