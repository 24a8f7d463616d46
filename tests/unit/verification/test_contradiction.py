"""Contradiction: an output that says the opposite of its text is rejected, in any of the
languages the pairs cover; a negation said by the opposite word is kept."""

from __future__ import annotations

import pytest

from shared.verification import contradiction, polarity

REASON = "says the opposite of the text"


@pytest.mark.parametrize(
    ("source", "output"),
    [
        # A labelled summary case (sm-065) that every earlier check published.
        (
            "School is closed on Monday due to the storm. Classes resume on Tuesday.",
            "School is open on Monday despite the storm; classes resume on Tuesday.",
        ),
        ("The invoice is still unpaid.", "The invoice is paid."),
        ("Your transfer was rejected.", "Your transfer was approved."),
        ("Send it before Friday.", "Please send it after Friday."),
        ("Das Schwimmbad ist am Montag geschlossen.", "Das Schwimmbad ist am Montag offen."),
        ("La boutique est fermée lundi.", "La boutique est ouverte lundi !"),
        ("La tienda está cerrada el lunes.", "La tienda está abierta el lunes."),
    ],
)
def test_the_opposite_is_rejected(source: str, output: str) -> None:
    assert contradiction.problem(source, output) == REASON


@pytest.mark.parametrize(
    ("source", "output"),
    [
        ("The office is closed on Friday.", "The office is not open on Friday."),
        ("The office is not closed on Friday.", "The office is open on Friday."),
        ("the shop opens at 9 and closes at 5", "Shop: opens 9, closes 5."),
        # Both sides in the text (one misspelt): it says neither alone.
        ("we do not know when it is open or close", "we do not know when it is open or closed"),
    ],
)
def test_faithful_outputs_pass(source: str, output: str) -> None:
    assert contradiction.problem(source, output) is None


def test_a_negation_said_by_the_opposite_word_is_kept() -> None:
    source = "Just so you know, the office will not be closed on Friday after all."
    assert polarity.problem(source, "Office open Friday after all.") is None
    assert polarity.problem(source, "Office closed Friday after all.") == "drops a negation"
