"""Who is spoken to: a rewrite writes to the text's reader, not to a person the text is about.

"tell Mark the meeting is at 11, not 10" is written to someone who will pass it on; a small
model often turns it into "Hi Mark! The meeting is at 11, not 10." (a real draft of the tone
eval). Every fact survives, the pronoun roles of the writer and reader do too, and the
message now goes to the wrong person. The check: an output that greets a name the text only
mentions as the one to be told, asked or reminded.
"""

from __future__ import annotations

import re

_TITLE = r"(?:(?:Mr|Mrs|Ms|Mx|Dr|Prof|Herr|Frau|M|Mme|Sr|Sra)\.?\s+)?"
_NAME = r"([A-Z][\w'’-]+)"
# A greeting that opens the output and names who it is to ("Hi Mark!", "Dear Ms. Patel,").
_GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hallo|liebe[rs]?|"
    r"sehr geehrte[rs]?|bonjour|salut|cher|chère|hola|querid[oa]|estimad[oa]|ciao|"
    r"car[oa]|gentile)\s+" + _TITLE + _NAME,
    re.IGNORECASE,
)
# The text speaks of a person as the one to relay to: "tell Mark", "ask Priya to",
# "let Tom know", "remind Lena", "sag Jonas", "dis à Paul", "dile a Ana", "di' a Marco".
_RELAY = re.compile(
    r"\b(?:tell|ask|remind|let|inform|ping|text|message|call|email|cc|notify|warn|"
    r"sag(?:e|t)?|frag(?:e|t)?|erinnere|dis à|dites à|demande à|rappelle à|"
    r"dile a|dígale a|pregúntale a|recuérdale a|di' a|chiedi a|ricorda a)\s+" + _TITLE + _NAME,
    re.IGNORECASE,
)


def problem(source: str, output: str) -> str | None:
    """Why `output` addresses someone `source` only speaks about, or None."""
    greeting = _GREETING.match(output)
    if greeting is None:
        return None
    name = greeting.group(1)
    if name.lower() in {g.lower() for g in _greeted(source)}:
        return None  # the text is written to them too ("Mark, tell Mark's team...")
    relayed = {m.group(1).lower() for m in _RELAY.finditer(source) if m.group(1)[0].isupper()}
    if name.lower() in relayed:
        return "addresses a person the text speaks about, not its reader"
    return None


def _greeted(text: str) -> list[str]:
    """Names the text itself is addressed to: its opening greeting or vocative ("Mark, ...")."""
    found = [m.group(1)] if (m := _GREETING.match(text)) else []
    vocative = re.match(r"^\W*" + _TITLE + _NAME + r"\s*[,:!]", text)
    if vocative:
        found.append(vocative.group(1))
    return found
