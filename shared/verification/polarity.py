"""Polarity: a rewrite keeps every "not" of its source, and adds none.

"I can't make it on Friday" rewritten as "I can make it on Friday" keeps every fact and
every word but one. Negations are counted per text, set phrases excepted ("no worries",
"don't hesitate"), so a tone rewrite may rephrase them ("can't" -> "unable to") but not drop
or invent them.
"""

from __future__ import annotations

import re

from shared.verification import contradiction
from shared.verification.mood import NEGATION_IDIOMS, negation_count
from shared.verification.text import sentences, tokens

# Politeness formulas a tone rewrite adds without negating anything.
_POLITE_ADDITIONS = re.compile(
    r"\b(?:please )?(?:do not|don't) hesitate\b|\bnot hesitate\b"
    r"|\bif (?:you have )?(?:any|no) (?:questions|concerns)\b",
    re.IGNORECASE,
)


# "Don't merge anything" / "Please do not park here" / "Never share the code": the verb a
# prohibition forbids. The verb's first letters are compared, so "merging" matches "merge".
_PROHIBITION = re.compile(
    r"(?:^|[.!?;:\n]\s*|\b(?:please|and|so|but)\s+)(?:don'?t|do not|never|no)\s+([a-z]{3,})",
    re.IGNORECASE,
)
# Words that keep a forbidden verb forbidden in a rewrite ("please avoid merging").
_KEEPS_FORBIDDEN = frozenset(
    ("avoid", "refrain", "stop", "prohibited", "forbidden", "banned", "nor", "without")
)
# "Please avoid parking there" says "don't park there" without a negation word.
_AVOIDS = re.compile(r"\b(?:avoid|refrain from)\b", re.IGNORECASE)
_STEM = 4


def problem(source: str, output: str) -> str | None:
    """Why `output` changes the polarity of `source`, or None."""
    src = negation_count(source)
    out = negation_count(_POLITE_ADDITIONS.sub(" ", output))
    if (
        src
        and not out
        and not _AVOIDS.search(output)
        and not contradiction.turned_round(source, output)
    ):
        return "drops a negation"
    if out and not src:
        return "adds a negation"
    return _lifted_prohibition(source, output) or _swapped_correction(source, output)


# "revenue is 1.2M not 2.1M": a value and the value it replaces. Both values survive a swap
# ("2.1M not 1.2M"), so the fact checks pass, and the correction now says the opposite.
_CORRECTION = re.compile(
    r"(\$?\d[\d.,]*\s?[A-Za-z%€$£]{0,3})\s*,?\s+(?:not|instead of|rather than)\s+"
    r"(\$?\d[\d.,]*\s?[A-Za-z%€$£]{0,3})",
    re.IGNORECASE,
)


def _swapped_correction(source: str, output: str) -> str | None:
    kept = {_pair(m) for m in _CORRECTION.finditer(source)}
    for match in _CORRECTION.finditer(output):
        right, wrong = _pair(match)
        if (wrong, right) in kept and (right, wrong) not in kept:
            return "swaps a value and the value it corrects"
    return None


def _pair(match: re.Match[str]) -> tuple[str, str]:
    return (_digits(match.group(1)), _digits(match.group(2)))


def _digits(value: str) -> str:
    return re.sub(r"[^\d.]", "", value).strip(".")


def _lifted_prohibition(source: str, output: str) -> str | None:
    """A forbidden verb that the output uses without anything forbidding it.

    Counting negations is not enough: "the migration isn't ready. Don't merge anything"
    rewritten as "the migration is not ready. Please consider merging anything" keeps one
    negation and turns the prohibition into an invitation.
    """
    split = [tokens(s) for s in sentences(output.replace("\u2019", "'"))]
    for match in _PROHIBITION.finditer(source.replace("\u2019", "'")):
        stem = match.group(1).lower()[:_STEM]
        for words in split:
            # "Parking here is not allowed" forbids after the verb: the whole sentence counts.
            used = any(w.startswith(stem) for w in words)
            if used and not any(negation_count(w) or w in _KEEPS_FORBIDDEN for w in words):
                return "turns a prohibition into a permission"
    return None


__all__ = ["NEGATION_IDIOMS", "problem"]
