"""Negations as people write them: a proofread that corrects one keeps it."""

from __future__ import annotations

import pytest

from shared.verification import polarity
from shared.verification.mood import negation_count


@pytest.mark.parametrize(
    ("source", "corrected"),
    [
        # JFLEG dev sentences (tokenised "do n't") and their human corrections.
        (
            "One person if do n't have good health that means so many things they could lost .",
            "If one person does not have good health , that means they could lose many things .",
        ),
        (
            "most people doens't know about this .",
            "most people do n't know about this .",
        ),
        (
            "They donnot have much time to enjoy life .",
            "They did not have much time to enjoy life .",
        ),
        ("he dosen't like it", "He doesn't like it."),
    ],
)
def test_a_corrected_negation_is_still_one(source: str, corrected: str) -> None:
    assert polarity.problem(source, corrected) is None


@pytest.mark.parametrize("word", ["donut", "different", "wanted", "note", "cannon"])
def test_words_that_only_look_like_one_are_not(word: str) -> None:
    assert negation_count(word) == 0


def test_a_dropped_misspelt_negation_is_still_dropped() -> None:
    assert polarity.problem("I donnot agree .", "I agree .") == "drops a negation"
