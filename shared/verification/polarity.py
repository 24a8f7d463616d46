"""Polarity: a rewrite keeps every "not" of its source, and adds none.

"I can't make it on Friday" rewritten as "I can make it on Friday" keeps every fact and
every word but one. Negations are counted per text, set phrases excepted ("no worries",
"don't hesitate"), so a tone rewrite may rephrase them ("can't" -> "unable to") but not drop
or invent them.
"""

from __future__ import annotations

import re

from shared.verification.mood import NEGATION_IDIOMS, negation_count

# Politeness formulas a tone rewrite adds without negating anything.
_POLITE_ADDITIONS = re.compile(
    r"\b(?:please )?(?:do not|don't) hesitate\b|\bnot hesitate\b"
    r"|\bif (?:you have )?(?:any|no) (?:questions|concerns)\b",
    re.IGNORECASE,
)


def problem(source: str, output: str) -> str | None:
    """Why `output` changes the polarity of `source`, or None."""
    src = negation_count(source)
    out = negation_count(_POLITE_ADDITIONS.sub(" ", output))
    if src and not out:
        return "drops a negation"
    if out and not src:
        return "adds a negation"
    return None


__all__ = ["NEGATION_IDIOMS", "problem"]
