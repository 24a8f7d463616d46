"""Swaps: a detail moved from one statement to another is rejected; a restatement is not."""

from __future__ import annotations

import pytest

from shared.verification import swaps
from shared.verification.facts import extract

REASON = "moves a detail of the text into another statement"
LOTS = (
    "Parking lot B is closed from June 3 to June 7 for repaving. Use lot C. "
    "Cars left in B will be towed."
)


@pytest.mark.parametrize(
    ("source", "output"),
    [
        # A real draft of the tone eval (concise): the open lot is now the closed one.
        (
            LOTS,
            "Parking lot C is closed from June 3 to June 7 for repaving. "
            "Cars left in B will be towed.",
        ),
        (
            "Send the deck to Anna by 3pm. Tom gets the budget by 5pm.",
            "Send the deck to Anna by 5pm. Tom gets the budget by 3pm.",
        ),
        (
            "Room 204 is for the interviews. The workshop is in room 310.",
            "Room 310 is for the interviews. The workshop is in room 204.",
        ),
        (
            "Das Paket liegt in Fach 7. Fach 9 ist für Herrn Kaya.",
            "Das Paket liegt in Fach 9. Fach 7 ist für Herrn Kaya.",
        ),
    ],
)
def test_a_moved_detail_is_rejected(source: str, output: str) -> None:
    assert swaps.problem(source, output) == REASON


@pytest.mark.parametrize(
    ("source", "output"),
    [
        (
            LOTS,
            "Lot B is closed June 3 to 7 for repaving; use lot C. Cars left in B will be towed.",
        ),
        (LOTS, "Parking lot B is closed from June 3 to June 7. Please use lot C instead."),
        (
            "Send the deck to Anna by 3pm. Tom gets the budget by 5pm.",
            "Please send the deck to Anna by 15:00. Tom will receive the budget by 5 pm.",
        ),
        (
            "Room 204 is for the interviews. The workshop is in room 310.",
            "The interviews are in room 204 and the workshop in room 310.",
        ),
        # A detail the text does not hold is the fact check's business, not this one's.
        ("Gate 12 closes at 9:40.", "Gate 14 closes at 9:40."),
    ],
)
def test_restatements_pass(source: str, output: str) -> None:
    assert swaps.problem(source, output) is None


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("closed June 3 to 7 for repaving", ["June 3", "June 7"]),
        ("closed June 3-7", ["June 3", "June 7"]),
        ("from 3–7 June", ["3 June", "7 June"]),
        ("March 3rd through 5th", ["March 3rd", "March 5"]),
    ],
)
def test_a_date_range_names_both_its_ends(text: str, dates: list[str]) -> None:
    assert [e.text for e in extract(text) if e.kind.value == "date"] == dates


def test_a_range_to_a_time_is_not_a_date() -> None:
    found = [(e.kind.value, e.text) for e in extract("June 3 to 7pm")]
    assert found == [("time", "7pm"), ("date", "June 3")]


@pytest.mark.parametrize(
    "text", ["Salut Paul !", "Hallo Paul,", "Sehr geehrte Damen und Herren, Paul", "Hola Paul"]
)
def test_greetings_and_salutations_are_not_names(text: str) -> None:
    assert [e.text for e in extract(text) if e.kind.value == "name"][-1:] == ["Paul"]
