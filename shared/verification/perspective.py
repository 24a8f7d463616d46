"""Perspective: a summary is written in the third person.

A summary that keeps "I" from a message ("#Person1# got laid off, and I'm looking for work")
reads as if the assistant were the one looking for work. First-person words outside quotes
are rejected. "You" (the phone's owner) is allowed, except inside a clause copied verbatim
from a message, where it means somebody else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared.verification.facts import normalise_text
from shared.verification.text import tokens

# fmt: off
FIRST_PERSON = frozenset((
    "i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves",
    "i'm", "i'll", "i've", "i'd", "we're", "we'll", "we've", "we'd",
))
SECOND_PERSON = frozenset((
    "you", "your", "yours", "yourself", "you're", "you'll", "you've", "you'd",
))
# fmt: on
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
# A copied clause: this many words in a row taken from one message.
COPIED_WORDS = 4


def problem(
    summary: str, messages: Iterable[str] = (), *, conversation: bool = False
) -> str | None:
    """Why `summary` is not in the third person, or None.

    In a `conversation` (two or more speakers) a copied "you" means one of them; in a stack
    from one sender (a bank, a friend) "you" is the phone's owner, as in the message.
    """
    plain = _QUOTED.sub(" ", normalise_text(summary))
    words = tokens(plain)
    if any(w in FIRST_PERSON for w in words):
        return "speaks in the first person"
    if conversation and any(w in SECOND_PERSON for w in words) and _copies_you(words, messages):
        return "copies a second-person clause from a message"
    return None


def _copies_you(words: list[str], messages: Iterable[str]) -> bool:
    copied = {
        tuple(message_words[i : i + COPIED_WORDS])
        for message in messages
        for message_words in [tokens(message)]
        for i in range(len(message_words) - COPIED_WORDS + 1)
    }
    for i in range(len(words) - COPIED_WORDS + 1):
        gram = tuple(words[i : i + COPIED_WORDS])
        if gram in copied and any(w in SECOND_PERSON for w in gram):
            return True
    return False
