"""Certainty: a rewrite may not state as certain what the text only estimates or guesses.

"train is delayed again, probably 20 mins" -> "Train delayed for 20 minutes." (a real draft of
the tone eval) keeps every fact and promises the reader what the writer did not. The check:
a text that hedges an estimate (probably 20 mins, around 6, like 20 lines, 5-ish) needs a
hedge of any kind in the output too. English only: the word lists are English.
"""

from __future__ import annotations

import re

_QUANTITY = r"(?:\d|one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|a few|half)"
# Hedges on their own ("probably", "I guess") and hedges of a quantity ("around 6", "like 20").
_HEDGE = re.compile(
    r"\b(?:probably|maybe|perhaps|possibly|likely|unlikely|might|may be|could be|should be|"
    r"i guess|i suppose|i expect|expected|expects?|estimated?|approx\.?|or so|give or take|"
    r"hopefully|tentatively|roughly|approximately|about|around|nearly|almost|up to|some|"
    r"close to|at least|at most|no more than|under|over|within)\b"
    r"|\b(?:like|~)\s*" + _QUANTITY + r"|~\s*\d|\d+\s*-?\s*ish\b|\bish\b",
    re.IGNORECASE,
)
# The hedges of an estimate in the source: on a quantity or a time ("probably 20 mins",
# "around 6", "like 20 lines", "5-ish"), not the politeness of a request or a proposal
# ("could you possibly send...", "maybe we could possibly move our 1:1 from 2pm"), which a
# rewrite may drop.
_SOURCE_HEDGE = re.compile(
    r"\b(?:probably|maybe|perhaps|possibly|likely)\s+(?:(?:by|at|around|about|in|for|until|"
    r"till|on|only|just|another|over|under)\s+)?"
    + _QUANTITY
    + r"|\b(?:about|around|like|nearly|almost|roughly|approximately|approx\.?|~)\s*"
    + _QUANTITY
    + r"|~\s*\d|\d+\s*-?\s*ish\b|\b(?:or so|give or take)\b",
    re.IGNORECASE,
)


def problem(source: str, output: str) -> str | None:
    """Why `output` is surer than `source`, or None."""
    if _SOURCE_HEDGE.search(source) and not _HEDGE.search(output):
        return "states as certain what the text only estimates"
    return None
