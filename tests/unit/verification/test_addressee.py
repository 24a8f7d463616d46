"""Addressee: a rewrite may not greet the person the text says to tell, ask or remind."""

from __future__ import annotations

import pytest

from shared.verification import addressee

REASON = "addresses a person the text speaks about, not its reader"


@pytest.mark.parametrize(
    ("source", "output"),
    [
        # A real draft of the tone eval (friendly).
        ("tell Mark the meeting is at 11, not 10", "Hi Mark! The meeting is at 11, not 10."),
        ("can you ask Priya to send the invoice?", "Dear Priya, could you send the invoice?"),
        ("remind Tom the car goes in on Monday", "Hey Tom! The car goes in on Monday."),
        ("let Dr. Chen know I need to move it", "Dear Dr. Chen, I need to move it."),
        ("sag Jonas, dass das Meeting um 14 Uhr ist", "Hallo Jonas, das Meeting ist um 14 Uhr."),
        ("dis à Paul que le train part à 9h15", "Salut Paul ! Le train part à 9h15."),
        ("dile a Ana que llego tarde", "Hola Ana, llego tarde."),
    ],
)
def test_greeting_the_person_to_be_told_is_rejected(source: str, output: str) -> None:
    assert addressee.problem(source, output) == REASON


@pytest.mark.parametrize(
    ("source", "output"),
    [
        ("tell Mark the meeting is at 11", "Could you let Mark know the meeting is at 11?"),
        # Written to Mark, about Lena: greeting Mark is right.
        ("Mark, can you tell Lena it is due?", "Hi Mark, could you let Lena know it is due?"),
        ("hey Priya, pls ask Tom to send it", "Hi Priya, could you ask Tom to send it?"),
        ("Hi Tom, remind Tom's team about Friday", "Hello Tom, please remind your team."),
        ("Paul, dis à Anna que le dîner est à 20h.", "Salut Paul ! Dis à Anna que c'est à 20h."),
        # A greeting of someone the text does not relay to is another check's business.
        ("the meeting is at 11", "Hi team, the meeting is at 11."),
        # "tell me" names no one.
        ("tell me when Mark arrives", "Hi, please tell me when Mark arrives."),
    ],
)
def test_faithful_addressing_passes(source: str, output: str) -> None:
    assert addressee.problem(source, output) is None
