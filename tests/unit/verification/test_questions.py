"""A rewrite keeps its source's questions and never answers them."""

from __future__ import annotations

import pytest

from shared.verification import polarity, questions

SLIDES = "did u get the slides? need them before 2"


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("Yes, I did get the slides. Could you send them before 2?", "answers the text"),
        ("Sure! The slides are here. Need them before 2.", "answers the text"),
        ("I got the slides. Need them before 2.", "a question became a statement"),
        ("Did you receive the slides? I need them before 2.", None),
        ("Slides received? Need them by 2.", None),
    ],
)
def test_information_questions_stay_questions(output: str, reason: str | None) -> None:
    found = questions.problem(SLIDES, output)
    assert (found is None) if reason is None else (found is not None and reason in found)


def test_a_request_may_become_a_polite_imperative() -> None:
    source = "can u send me the notes from the 4pm review?"
    assert questions.problem(source, "Please send me the notes from the 4pm review.") is None


def test_a_question_after_a_salutation_is_found() -> None:
    source = "Hi Lena, have you sent the signed contract to Marek yet?"
    assert questions.information_questions(source) == [source]
    assert questions.problem(source, "Lena sent the signed contract to Marek.") is not None


def test_an_answer_the_writer_gave_is_kept() -> None:
    source = "Yes, 5 works. Did you book the room?"
    assert questions.problem(source, "Yes, 5 works for me. Have you booked the room?") is None


DEPLOY = (
    "Deploy moved to Thursday 8 June at 7:30 because the migration isn't ready. "
    "Don't merge anything into main until then."
)


@pytest.mark.parametrize(
    ("source", "output", "lifted"),
    [
        (
            DEPLOY,
            "The deploy is now on Thursday 8 June at 7:30 as the migration is not ready. "
            "Please consider merging anything into main until that time.",
            True,
        ),
        (
            DEPLOY,
            "The deploy moves to Thursday 8 June at 7:30; the migration is not ready. "
            "Please do not merge anything into main until then.",
            False,
        ),
        (
            "Please don't park in front of the gate on Monday.",
            "Kindly avoid parking in front of the gate on Monday.",
            False,
        ),
        (
            "Please don't park in front of the gate on Monday.",
            "Parking in front of the gate is not allowed on Monday.",
            False,
        ),
        (
            "We won't have the keys until Friday, and please never share the code 4417.",
            "Keys arrive on Friday; please share the code 4417.",
            True,
        ),
    ],
)
def test_a_prohibition_stays_a_prohibition(source: str, output: str, lifted: bool) -> None:
    # Without any negation left, the older "drops a negation" check answers first.
    reason = polarity.problem(source, output)
    assert (reason is not None) is lifted, reason


@pytest.mark.parametrize(
    ("source", "output", "kept"),
    [
        (
            "I won't be able to pick up the kids today, can you do it?",
            "I can't pick them up.",
            False,
        ),
        ("lunch tomorrow?", "So, I'll have lunch tomorrow.", False),
        (
            "can someone take notes? my internet is down",
            "Internet down. Can someone take notes?",
            True,
        ),
        ("can u send the invoice?", "Please send the invoice when you can.", True),
    ],
)
def test_a_question_may_not_disappear(source: str, output: str, kept: bool) -> None:
    found = questions.problem(source, output)
    assert (found is None) if kept else found is not None


@pytest.mark.parametrize(
    ("output", "swapped"),
    [
        ("Revenue is 2.1M, not 1.2M.", True),
        ("Revenue is 1.2M, not 2.1M.", False),
        ("Revenue: 1.2M (not 2.1M).", False),
    ],
)
def test_a_correction_keeps_its_direction(output: str, swapped: bool) -> None:
    found = polarity.problem("revenue is 1.2M not 2.1M", output)
    assert (found is not None and "corrects" in found) if swapped else found is None


def test_a_please_in_an_added_courtesy_line_does_not_keep_the_request() -> None:
    # A real draft of the tone eval (friendly): the request is gone, and the only "please"
    # is the courtesy line the model added.
    source = "Anna, can you send the deposit of 500 EUR by Friday? The landlord won't hold it."
    dropped = (
        "Dear Anna, I'm sorry to hear that the deposit of 500 EUR is not being sent by Friday. "
        "The landlord won't hold it. Please let me know if you need any assistance."
    )
    kept = "Hi Anna! Please send the deposit of 500 EUR by Friday; the landlord won't hold it."
    assert questions.problem(source, dropped) == "drops a question of the text"
    assert questions.problem(source, kept) is None


def test_a_politely_hedged_request_may_become_a_please() -> None:
    source = "Hi Tom, could you possibly send me the report when you get a chance? Thanks, Sara"
    assert questions.problem(source, "Tom, please send me the report. Thanks, Sara") is None
