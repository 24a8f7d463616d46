"""Fact-bearing entities in text, normalised so that differently written equals compare equal.

The faithfulness guard (`grounding.py`) extracts these from a summary and from its source
notifications. Each entity carries a set of normalised keys; two mentions denote the same
fact when their key sets intersect ("3pm" and "15:00" share 900 minutes; "$20" and "20
dollars" share ("USD", 20)). Extraction runs in a fixed order and blanks what it consumed, so
"$20" is one amount and not also the number 20.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from shared.verification.vocabulary import (
    ALWAYS_CAPITALISED,
    CURRENCY_SYMBOLS,
    CURRENCY_WORDS,
    MONTHS,
    NUMBER_WORDS,
    RELATIVE_DAYS,
    SENTENCE_STARTERS,
    WEEKDAYS,
)


class EntityKind(StrEnum):
    LINK = "link"
    SPEAKER = "speaker"
    AMOUNT = "amount"
    TIME = "time"
    DATE = "date"
    NUMBER = "number"
    NAME = "name"


@dataclass(frozen=True)
class Entity:
    """One mention: its kind, the text as written and its normalised keys."""

    kind: EntityKind
    text: str
    keys: frozenset[Hashable]


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_AMPM = r"(?:a\.?m\.?|p\.?m\.?)(?![a-z])"

_LINK = re.compile(r"(?i)\bhttps?://[^\s<>\"']+|\bwww\.[^\s<>\"']+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# "#Person1#" (DialogSum) and "Person 1": speaker tags of a conversation, not numbers.
_SPEAKER = re.compile(r"#\s*([A-Za-z]+)\s*(\d+)\s*#|\b(Person)\s?(\d+)\b")
_SYMBOL_AMOUNT = re.compile(
    r"(?P<sym>" + "|".join(re.escape(s) for s in CURRENCY_SYMBOLS) + r")\s?(?P<num>" + _NUM + r")"
    r"(?P<mult>\s?(?:k|m|bn|million|billion|thousand)\b)?",
    re.IGNORECASE,
)
_WORD_AMOUNT = re.compile(
    r"\b(?P<num>" + _NUM + r")(?P<mult>\s?(?:k|m|bn|million|billion|thousand)\b)?\s?"
    r"(?P<cur>" + "|".join(sorted(CURRENCY_WORDS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
_CODE_AMOUNT = re.compile(
    r"\b(?P<cur>usd|eur|gbp|jpy|inr|cad|aud|chf)\s?(?P<num>" + _NUM + r")\b", re.IGNORECASE
)
_CLOCK = re.compile(
    r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2})\s*(?P<ap1>"
    + _AMPM
    + r")?|\.(?P<m2>\d{2})\s*(?P<ap2>"
    + _AMPM
    + r")|\s*(?P<ap3>"
    + _AMPM
    + r")|\s*o'?clock\b)",
    re.IGNORECASE,
)
_NAMED_TIME = re.compile(r"\b(noon|midday|midnight)\b", re.IGNORECASE)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_SLASH_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")
_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
# Not inside a contraction or a word glued to a quote: "C'mon" holds no Monday, and
# "says'No smoking'" no name "No".
_NOT_AFTER_APOSTROPHE = r"(?<!\w['’])"
_MONTH_DAY = re.compile(
    _NOT_AFTER_APOSTROPHE + r"\b(" + _MONTH_ALT + r")\.?\s+" + _DAY + r"\b", re.IGNORECASE
)
_DAY_MONTH = re.compile(r"\b" + _DAY + r"\s+(?:of\s+)?(" + _MONTH_ALT + r")\b\.?", re.IGNORECASE)
# "June 3 to 7", "June 3-7", "3-7 June": two dates written once. Read as "June 3 to June 7"
# so that a rewrite that shortens (or spells out) a range neither drops nor invents its end.
_RANGE_TO = r"\s*(?:-|–|—|\bto\b|\bthrough\b|\bthru\b|\buntil\b|\btill\b)\s*"
_MONTH_DAY_RANGE = re.compile(
    _NOT_AFTER_APOSTROPHE
    + r"\b("
    + _MONTH_ALT
    + r")(\.?\s+)(\d{1,2})((?:st|nd|rd|th)?)"
    + _RANGE_TO
    + r"(\d{1,2})(?:st|nd|rd|th)?\b(?!\s*(?:[ap]\.?m\b|:|\.\d|%|h\b|hours?\b|min))",
    re.IGNORECASE,
)
_DAY_MONTH_RANGE = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th)?"
    + _RANGE_TO
    + r"(\d{1,2})((?:st|nd|rd|th)?\s+(?:of\s+)?)("
    + _MONTH_ALT
    + r")\b",
    re.IGNORECASE,
)


def _expand_ranges(text: str) -> str:
    text = _MONTH_DAY_RANGE.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{m[4]} to {m[1]} {m[5]}", text)
    return _DAY_MONTH_RANGE.sub(lambda m: f"{m[1]} {m[4]} to {m[2]}{m[3]}{m[4]}", text)


_MONTH_ONLY = re.compile(_NOT_AFTER_APOSTROPHE + r"\b(" + _MONTH_ALT + r")\b\.?", re.IGNORECASE)
_WEEKDAY = re.compile(
    _NOT_AFTER_APOSTROPHE + r"\b(" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\b\.?",
    re.IGNORECASE,
)
_RELATIVE = re.compile(
    _NOT_AFTER_APOSTROPHE + r"\b(" + "|".join(RELATIVE_DAYS) + r")\b", re.IGNORECASE
)
_NUMBER = re.compile(r"(?<![\w.])(" + _NUM + r")(?:st|nd|rd|th|%)?(?![\w])")
_NUMBER_WORD = re.compile(
    _NOT_AFTER_APOSTROPHE + r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE
)
_CAPITALISED = re.compile(_NOT_AFTER_APOSTROPHE + r"\b[A-Z][\w'&-]*(?:\s+(?:[A-Z][\w'&-]*))*")
_SENTENCE_BREAK = re.compile(r"(?:^|[.!?:;\"“(\[\n]|\s[-–—]|\.\.\.)\s*$")
_WORD = re.compile(r"[\w']+")

# Short month and weekday forms that are also English words ("may", "sat", "sun", "wed")
# count only when capitalised.
_CASE_SENSITIVE = frozenset({"may", "march", "sat", "sun", "wed", "mar", "jan", "jun", "aug"})


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "")).normalize()
    except InvalidOperation:
        return None


_MULTIPLIERS = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}
_MULTIPLIERS |= {"bn": 1_000_000_000, "billion": 1_000_000_000}


def _scaled(num: str, mult: str | None) -> Decimal | None:
    value = _decimal(num)
    if value is None or not mult:
        return value
    return (value * _MULTIPLIERS[mult.strip().lower()]).normalize()


def _minutes(hour: int, minute: int, ampm: str | None) -> frozenset[Hashable]:
    """Minutes after midnight; a time without am/pm may be either half of the day."""
    if hour > 24 or minute > 59:
        return frozenset()
    if ampm:
        if hour > 12 or hour == 0:
            return frozenset()
        hour = hour % 12 + (12 if ampm.lower().startswith("p") else 0)
        return frozenset({hour * 60 + minute})
    if hour >= 12:
        return frozenset({(hour % 24) * 60 + minute, (hour - 12) * 60 + minute})
    return frozenset({hour * 60 + minute, (hour + 12) * 60 + minute})


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


Extractor = Callable[[re.Match[str]], frozenset[Hashable] | None]


def _sweep(
    text: str, pattern: re.Pattern[str], kind: EntityKind, keys: Extractor
) -> tuple[str, list[Entity]]:
    found: list[Entity] = []
    for match in list(pattern.finditer(text)):
        if not match.group(0).strip():
            continue
        normalised = keys(match)
        if normalised is None:
            continue
        text = _blank(text, match.start(), match.end())
        if normalised:
            found.append(Entity(kind, match.group(0).strip(), normalised))
    return text, found


def _link_keys(m: re.Match[str]) -> frozenset[Hashable]:
    url = m.group(0).rstrip(".,;:!?)").lower()
    url = re.sub(r"^https?://", "", url).removeprefix("www.").rstrip("/")
    return frozenset({url})


def _speaker_keys(m: re.Match[str]) -> frozenset[Hashable]:
    role = (m.group(1) or m.group(3)).lower()
    return frozenset({(role, int(m.group(2) or m.group(4)))})


def _symbol_amount_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    value = _scaled(m.group("num"), m.group("mult"))
    return None if value is None else frozenset({(CURRENCY_SYMBOLS[m.group("sym")], value)})


def _word_amount_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    currency, scale = CURRENCY_WORDS[m.group("cur").lower()]
    value = _scaled(m.group("num"), m.group("mult"))
    return None if value is None else frozenset({(currency, (value * scale).normalize())})


def _code_amount_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    value = _decimal(m.group("num"))
    return None if value is None else frozenset({(m.group("cur").upper(), value)})


def _clock_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    minute = m.group("m") or m.group("m2") or "0"
    ampm = m.group("ap1") or m.group("ap2") or m.group("ap3")
    keys = _minutes(int(m.group("h")), int(minute), ampm)
    return keys or None  # "25:99" is not a time; leave it to the number sweep


def _named_time_keys(m: re.Match[str]) -> frozenset[Hashable]:
    return frozenset({0 if m.group(1).lower() == "midnight" else 720})


def _iso_date_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    month, day = int(m.group(2)), int(m.group(3))
    return frozenset({(month, day)}) if 1 <= month <= 12 and 1 <= day <= 31 else None


def _slash_date_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    # 3/5 is 5 March in the US and 3 May elsewhere: either reading may match.
    a, b = int(m.group(1)), int(m.group(2))
    keys: set[Hashable] = set()
    if 1 <= a <= 12 and 1 <= b <= 31:
        keys.add((a, b))
    if 1 <= b <= 12 and 1 <= a <= 31:
        keys.add((b, a))
    return frozenset(keys) or None


def _case_ok(word: str) -> bool:
    return word.lower().rstrip(".") not in _CASE_SENSITIVE or word[0].isupper()


def _month_day_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    day = int(m.group(2))
    if not _case_ok(m.group(1)) or not 1 <= day <= 31:
        return None
    return frozenset({(MONTHS[m.group(1).lower()], day)})


def _day_month_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    day = int(m.group(1))
    if not _case_ok(m.group(2)) or not 1 <= day <= 31:
        return None
    return frozenset({(MONTHS[m.group(2).lower()], day)})


def _month_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    return frozenset({("month", MONTHS[m.group(1).lower()])}) if _case_ok(m.group(1)) else None


def _weekday_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    if not _case_ok(m.group(1)):
        return None
    return frozenset({("weekday", WEEKDAYS[m.group(1).lower()])})


def _relative_keys(m: re.Match[str]) -> frozenset[Hashable]:
    return frozenset({("relative", RELATIVE_DAYS[m.group(1).lower()])})


def _number_keys(m: re.Match[str]) -> frozenset[Hashable] | None:
    value = _decimal(m.group(1))
    return None if value is None else frozenset({value})


def _number_word_keys(m: re.Match[str]) -> frozenset[Hashable]:
    return frozenset({Decimal(NUMBER_WORDS[m.group(1).lower()])})


_SWEEPS: tuple[tuple[re.Pattern[str], EntityKind, Extractor], ...] = (
    (_LINK, EntityKind.LINK, _link_keys),
    (_SPEAKER, EntityKind.SPEAKER, _speaker_keys),
    (_SYMBOL_AMOUNT, EntityKind.AMOUNT, _symbol_amount_keys),
    (_CODE_AMOUNT, EntityKind.AMOUNT, _code_amount_keys),
    (_WORD_AMOUNT, EntityKind.AMOUNT, _word_amount_keys),
    (_ISO_DATE, EntityKind.DATE, _iso_date_keys),
    (_CLOCK, EntityKind.TIME, _clock_keys),
    (_NAMED_TIME, EntityKind.TIME, _named_time_keys),
    (_SLASH_DATE, EntityKind.DATE, _slash_date_keys),
    (_MONTH_DAY, EntityKind.DATE, _month_day_keys),
    (_DAY_MONTH, EntityKind.DATE, _day_month_keys),
    (_MONTH_ONLY, EntityKind.DATE, _month_keys),
    (_WEEKDAY, EntityKind.DATE, _weekday_keys),
    (_RELATIVE, EntityKind.DATE, _relative_keys),
    (_NUMBER, EntityKind.NUMBER, _number_keys),
    (_NUMBER_WORD, EntityKind.NUMBER, _number_word_keys),
)


def normalise_text(text: str) -> str:
    """Typographic apostrophes and non-breaking spaces folded to their plain forms."""
    return text.translate(_APOSTROPHES).replace("\u00a0", " ").replace("\u202f", " ")


def extract(text: str) -> list[Entity]:
    """Every fact-bearing mention: links, speakers, amounts, times, dates, numbers, names."""
    original = _expand_ranges(normalise_text(text))
    rest = original
    entities: list[Entity] = []
    for pattern, kind, keys in _SWEEPS:
        rest, found = _sweep(rest, pattern, kind, keys)
        entities.extend(found)
    entities.extend(_names(original, rest))
    return entities


def _names(original: str, rest: str) -> Iterator[Entity]:
    """Runs of capitalised words; a sentence's first word counts only when it is not common."""
    for match in _CAPITALISED.finditer(rest):
        run = match.group(0).split()
        # A sentence's first word is capitalised by grammar: "Thanks Bob" -> "Bob".
        if (
            _SENTENCE_BREAK.search(original[: match.start()])
            and _plain(run[0]) in SENTENCE_STARTERS
        ):
            run = run[1:]
        # Words that are capitalised anywhere ("I", "OK") are never names.
        while run and _plain(run[0]) in ALWAYS_CAPITALISED:
            run = run[1:]
        while run and _plain(run[-1]) in ALWAYS_CAPITALISED:
            run = run[:-1]
        if run:
            phrase = " ".join(run)
            yield Entity(EntityKind.NAME, phrase, frozenset({tuple(words(phrase))}))


def _plain(word: str) -> str:
    return _strip_possessive(word).lower()


def _strip_possessive(word: str) -> str:
    return re.sub(r"'s?$", "", word.strip("'-&"))


def words(text: str) -> list[str]:
    """Lower-cased word tokens with possessives stripped, for phrase look-ups."""
    return [_strip_possessive(w).lower() for w in _WORD.findall(normalise_text(text))]
