"""Certainty: an estimate of the text stays an estimate in the rewrite."""

from __future__ import annotations

import pytest

from shared.verification import certainty

REASON = "states as certain what the text only estimates"


@pytest.mark.parametrize(
    ("source", "output"),
    [
        # A real draft of the tone eval (concise).
        ("train is delayed again, probably 20 mins", "Train delayed for 20 minutes."),
        ("I'll be arriving at around 6 pm on Thursday.", "I will arrive at 6 pm on Thursday."),
        ("the fix takes like 2 hours", "Fix takes 2 hours."),
        ("We expect approx. 300 guests.", "We welcome 300 guests."),
        ("let's meet at 5ish", "Let us meet at 5."),
    ],
)
def test_a_dropped_hedge_is_rejected(source: str, output: str) -> None:
    assert certainty.problem(source, output) == REASON


@pytest.mark.parametrize(
    ("source", "output"),
    [
        ("train is delayed again, probably 20 mins", "The train is likely 20 minutes late."),
        ("it's small, like 20 lines", "It is small, about 20 lines."),
        ("let's meet at 5ish", "Let us meet at around 5."),
        # The politeness of a request is not an estimate.
        ("could you possibly send me the report?", "Please send me the report."),
        ("I wanted to ask whether you might have some time", "Do you have time?"),
        # "about" a thing is not "about" a number.
        ("we got your complaint about order 55123", "We received your complaint on order 55123."),
    ],
)
def test_faithful_rewrites_pass(source: str, output: str) -> None:
    assert certainty.problem(source, output) is None


def test_a_hedged_proposal_is_politeness_not_an_estimate() -> None:
    # One of the rewriter's own worked examples (concise).
    source = "maybe we could possibly move our 1:1 from 2pm to 3pm tomorrow, if that works?"
    assert certainty.problem(source, "Can we move our 1:1 from 2pm to 3pm tomorrow?") is None
