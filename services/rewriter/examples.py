"""Worked examples the local model sees before the user's text (few-shot demonstrations).

A 0.5B model told only "rewrite this in a friendly tone" answers the text, refuses, asks
for the text or echoes the instructions far more often than it rewrites (docs/quality.md).
Two finished exchanges per tone show it the expected shape of an answer: the same message,
every name, number, date and question kept, the tone visibly moved, nothing around it.

The examples are written for this purpose, in domains unlike most requests (a printer, a
parcel, an office holiday), so a model that copies one is caught: their names and numbers
are facts the user's text does not hold, and their sentences are instruction text to the
leakage guard (prompts.INSTRUCTION_TEXTS). tests/unit/services/rewriter/test_examples.py
runs every example through the production verifier: an example the guards would reject
would teach the model to be rejected.

Only the local tier gets them; the remote tier's prompt is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.rewrite import Tone


@dataclass(frozen=True)
class Example:
    """One demonstration: the user's text and the answer a careful writer gives."""

    text: str
    answer: str


TONE_EXAMPLES: Final[dict[Tone, tuple[Example, ...]]] = {
    Tone.PROFESSIONAL: (
        Example(
            "hey, the printer on floor 3 is broken again. can someone call the repair "
            "guy before thursday? we need it for the board pack",
            "Hello, the printer on floor 3 is out of order again. Could someone please "
            "contact the repair service before Thursday? We need it to print the board pack.",
        ),
        Example(
            "Marco - sorry, I won't make the 10:30 call, my train is stuck. can u send me "
            "the notes after?",
            "Dear Marco, I apologise, but I will not be able to join the 10:30 call because "
            "my train is delayed. Could you please send me the notes afterwards?",
        ),
    ),
    Tone.FRIENDLY: (
        Example(
            "The kitchen on level 2 will be cleaned on Wednesday. Remove your food from "
            "the fridge by 5pm.",
            "Hi everyone! Just a heads-up: the kitchen on level 2 is getting a clean on "
            "Wednesday, so please take your food out of the fridge by 5pm. Thanks so much!",
        ),
        Example(
            "Order #5512 has shipped. It will arrive on Monday. Contact us if it does not.",
            "Good news! Your order #5512 is on its way and will be with you on Monday. "
            "If it doesn't arrive, just get in touch with us. Enjoy!",
        ),
    ),
    Tone.CONCISE: (
        Example(
            "Hi all, I just wanted to let you know that, because of the public holiday, the "
            "office will be closed on Friday, and we will open again as usual on Monday "
            "morning. Thanks!",
            "The office is closed on Friday for the public holiday and reopens on Monday morning.",
        ),
        Example(
            "hey Sam, so I was thinking that maybe we could possibly move our 1:1 from 2pm "
            "to 3pm tomorrow, if that works for you? no worries if not",
            "Sam, could we move our 1:1 tomorrow from 2pm to 3pm? No worries if not.",
        ),
    ),
}


def for_tone(tone: Tone) -> tuple[Example, ...]:
    """The demonstrations of one tone."""
    return TONE_EXAMPLES[tone]


def all_texts() -> tuple[str, ...]:
    """Every example text and answer: no run of their words may reach a user."""
    return tuple(s for group in TONE_EXAMPLES.values() for e in group for s in (e.text, e.answer))
