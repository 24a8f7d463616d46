"""What a rewrite must not change: numbers, dates, names, and who speaks to whom.

Extraction is deliberately lexical and cheap: the guards compare the input's facts with
the output's, so both sides go through the same rules and small misses cancel out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
# A name candidate: a capitalised word that does not start a sentence, line, list item or
# table cell (those are capitalised for grammar, not because they name something).
_CAPITALISED = re.compile(r"(?<![.!?:|\n#*\-•>])(?<![.!?:|\n#*\-•>] )\b([A-Z][a-z]+(?:['’]s)?)\b")

# "one" is left out: it is a pronoun far more often than a count.
_NUMBER_WORDS = {
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}  # fmt: skip
# fmt: off
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)
# fmt: on
# Abbreviations that are also common words ("sat", "wed", "sun", "mar") are left out.
_MONTH_ABBR = {m[:3]: m for m in _MONTHS if m[:3] not in {"mar", "may"}} | {"sept": "september"}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ABBR = {d[:3]: d for d in _DAYS if d[:3] not in {"sat", "sun", "wed"}}
_RELATIVE_DAYS = {"today", "tomorrow", "yesterday", "tonight"}
DATE_WORDS = frozenset((*_MONTHS, *_DAYS, *_RELATIVE_DAYS, *_MONTH_ABBR, *_DAY_ABBR))
"""Every word the date extractor knows, lower-cased."""

# Capitalised words that are grammar, not names.
# fmt: off
_NOT_NAMES = frozenset((
    "i", "i'm", "i'll", "i've", "i'd", "the", "a", "an", "and", "but", "or", "so", "if", "then",
    "when", "while", "this", "that", "these", "those", "it", "its", "we", "you", "he", "she",
    "they", "our", "your", "my", "his", "her", "their", "there", "here", "hi", "hey", "hello",
    "dear", "thanks", "thank", "please", "best", "regards", "ok", "okay", "yes", "no", "mr",
    "mrs", "ms", "dr",
))
# fmt: on

# May is a month and a verb; only treat it as a date next to a day number.
_AMBIGUOUS_MONTHS = {"may", "march"}


class Person(StrEnum):
    FIRST = "first"
    SECOND = "second"


class Case(StrEnum):
    SUBJECT = "subject"
    OBJECT = "object"
    POSSESSIVE = "possessive"
    ANY = "any"  # "you" is both subject and object


_PRONOUNS: dict[str, tuple[Person, Case]] = {
    "i": (Person.FIRST, Case.SUBJECT),
    "we": (Person.FIRST, Case.SUBJECT),
    "me": (Person.FIRST, Case.OBJECT),
    "us": (Person.FIRST, Case.OBJECT),
    "my": (Person.FIRST, Case.POSSESSIVE),
    "mine": (Person.FIRST, Case.POSSESSIVE),
    "our": (Person.FIRST, Case.POSSESSIVE),
    "ours": (Person.FIRST, Case.POSSESSIVE),
    "you": (Person.SECOND, Case.ANY),
    "your": (Person.SECOND, Case.POSSESSIVE),
    "yours": (Person.SECOND, Case.POSSESSIVE),
}
_CONTRACTIONS = {"i'm": "i", "i'll": "i", "i've": "i", "i'd": "i", "we're": "we",
                 "we'll": "we", "we've": "we", "we'd": "we", "you're": "you",
                 "you'll": "you", "you've": "you", "you'd": "you"}  # fmt: skip


@dataclass(frozen=True)
class Facts:
    """The facts of one text that a faithful rewrite keeps."""

    numbers: frozenset[str]
    dates: frozenset[str]
    names: frozenset[str]
    roles: frozenset[tuple[Person, Case]]

    @property
    def persons(self) -> frozenset[Person]:
        return frozenset(person for person, _ in self.roles)


def facts(text: str) -> Facts:
    """Numbers, dates, names and pronoun roles of `text`."""
    return Facts(
        numbers=frozenset(_numbers(text)),
        dates=frozenset(_dates(text)),
        names=frozenset(_names(text)),
        roles=frozenset(_roles(text)),
    )


def words_lower(text: str) -> set[str]:
    """Every word of the text, lower-cased (for presence checks that ignore case)."""
    return {w.lower() for w in _WORD.findall(text)}


def _numbers(text: str) -> set[str]:
    found = {m.group().replace(",", "") for m in _NUMBER.finditer(text)}
    # "2" and "two" are the same fact; a rewrite may switch between them.
    for word in _WORD.findall(text):
        digit = _NUMBER_WORDS.get(word.lower())
        if digit is not None:
            found.add(digit)
    return found


def _dates(text: str) -> set[str]:
    found: set[str] = set()
    for raw in _WORD.findall(text):
        word = raw.lower()
        if word in _DAYS or word in _DAY_ABBR:
            found.add(_DAY_ABBR.get(word, word))
        elif word in _RELATIVE_DAYS:
            found.add(word)
        else:
            month = word if word in _MONTHS else _MONTH_ABBR.get(word)
            if month is None:
                continue
            if month in _AMBIGUOUS_MONTHS and not _next_to_day_number(text, month):
                continue
            found.add(month)
    return found


def _next_to_day_number(text: str, month: str) -> bool:
    pattern = rf"\b{month}\s+\d{{1,2}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{month}\b"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def _names(text: str) -> set[str]:
    names: set[str] = set()
    for match in _CAPITALISED.finditer(text):
        word = re.sub(r"['’]s$", "", match.group(1))
        lower = word.lower()
        if lower in _NOT_NAMES or lower in _DAYS or lower in _MONTHS:
            continue
        if match.start() == 0:
            continue
        names.add(lower)
    return names


def _roles(text: str) -> set[tuple[Person, Case]]:
    roles: set[tuple[Person, Case]] = set()
    for word in _WORD.findall(text):
        lower = word.lower().replace("’", "'")
        role = _PRONOUNS.get(_CONTRACTIONS.get(lower, lower))
        if role is not None:
            roles.add(role)
    return roles
