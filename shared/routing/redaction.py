"""Redaction of contact and payment details before text leaves the deployment.

Each detail becomes a stable placeholder (`[EMAIL_1]`, the same one every time the same
value recurs in a request) and is restored in the answer, including inside structured JSON
fields. Detectors run in a fixed order so that a URL is not half-taken by the e-mail rule,
a card number is not taken for a phone number and a ZIP+4 code is not taken for one either.

Phone numbers are found by `phonenumbers` (Google's libphonenumber metadata: national and
international formats of every region, validated), then by a generic digit-group rule for
what it does not know. Postcodes are redacted where their format or their context says
they are postcodes, so that quantities, prices and years are left alone. Personal names
are redacted only where the text marks them (a salutation, a title, a self-introduction,
a sign-off): without a named-entity model, nothing else tells a name from a word.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import phonenumbers
from pydantic import BaseModel

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

KINDS = ("URL", "EMAIL", "IBAN", "CARD", "ACCOUNT", "PHONE", "POSTCODE", "ADDRESS", "NAME")

# Regions whose national formats (no +country prefix) are recognised; international
# formats are recognised for every region whatever this list says.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "JP", "CA", "AU", "CH", "AT", "BE")

# ASCII word boundaries for the contact patterns: in Japanese or Chinese text a detail
# touches the letters around it ("メールはa@b.example.com、"), which \w would count as its own.
_TRAILING_PUNCT = ".,;:!?)'\""
_TLDS = "com|org|net|io|co|de|fr|uk|eu|ch|nl|es|it|ai|app|dev|info|biz|me|us|ca|au|jp|cn|in|ru|br"
_STREET_SUFFIX = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq"
    "|Terrace|Way|Parkway|Pkwy|Highway|Hwy|Close|Crescent|Gardens|Row|Alley|Circle|Cir"
)

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'\[\]{}|\\^`]+", re.IGNORECASE | re.ASCII)
_BARE_DOMAIN = re.compile(
    rf"(?<![@\w.])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})(?:/[^\s<>\"'\[\]]*)?(?![\w@])",
    re.IGNORECASE | re.ASCII,
)
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", re.ASCII
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b", re.ASCII)
# 13-19 digits, optionally grouped by single spaces or dashes; not part of a +phone.
_LONG_DIGITS = re.compile(r"(?<![\w+])\d(?:[ -]?\d){12,18}(?![\w])", re.ASCII)
_SSN_LIKE = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])", re.ASCII)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,5}){1,4}(?![\w])",
    re.ASCII,
)
# Runs of digits, spaces, dots, dashes, slashes and brackets, with six digits at least.
_PHONE_CANDIDATE = re.compile(r"(?<![0-9A-Za-z+])\+?\(?\d[\d \t().\-/]{4,30}\d(?![0-9A-Za-z])")
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")
# Contiguous runs; a leading "+" marks a phone number, left to _PHONE.
_ACCOUNT = re.compile(r"(?<![\w+])\d{8,}(?![\w])", re.ASCII)
_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){1,4}"
    rf"(?:{_STREET_SUFFIX})\b\.?"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|#)\.?\s*[\w-]+)?"
    r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|weg|gasse|platz|allee|ring|damm)\s+\d{1,4}[a-z]?\b"
    r"|\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse"
    r"|calle|avenida|via|viale|piazza|corso)\s+(?:(?:de|du|des|la|le|del|della|di)\s+)*"
    r"[A-ZÀ-Ý][\w'-]*(?:\s+[A-ZÀ-Ý][\w'-]*){0,3}",
)
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV"
    "|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)
_UK_POSTCODE = r"(?:GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})"
_NL_POSTCODE = r"[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}"
_CITY = r"[A-ZÀ-Ý][\w'’-]+(?:[ -](?:(?:sur|sous|am|an|der|de|la|le)[ -])?[A-ZÀ-Ý][\w'’-]+){0,2}"
# Each pattern's `code` group is the postcode; the rest is the context that proves it.
_POSTCODES = (
    # Formats that are postcodes wherever they stand: UK, US ZIP+4, Japanese 〒.
    re.compile(rf"(?<![\w-])(?P<code>{_UK_POSTCODE})(?![\w-])"),
    re.compile(r"(?<![\w-])(?P<code>\d{5}-\d{4})(?![\w-])"),
    re.compile(r"〒\s?(?P<code>\d{3}-?\d{4})"),
    # A country prefix (D-10115, F-75001, NL-1012 AB).
    re.compile(
        rf"\b(?P<code>(?:D|DE|F|FR|A|AT|B|BE|CH|I|IT|E|ES|NL)-(?:\d{{4,5}}|{_NL_POSTCODE}))\b"
    ),
    # A keyword: "postcode", "ZIP", "PLZ", "code postal", "CP", "código postal", "CAP".
    re.compile(
        r"(?i:\b(?:post ?code|postal code|zip(?: ?code)?|plz|postleitzahl|code postal|c\.?p\.?"
        r"|c[óo]digo postal|cap|postcode)\s*:?\s*)"
        rf"(?P<code>\d{{5}}(?:-\d{{4}})?|\d{{4}}(?: ?[A-Z]{{2}})?|{_UK_POSTCODE})\b"
    ),
    # US: a state code, then five digits ("Springfield, IL 62704").
    re.compile(rf"\b(?:{_US_STATES}),?\s+(?P<code>\d{{5}})\b(?![-/.,]\d)"),
    # Dutch: four digits, two capitals, then a place name ("1012 AB Amsterdam").
    re.compile(rf"\b(?P<code>{_NL_POSTCODE})(?=\s+{_CITY})"),
    # de/fr/es/it: five digits then a place name, next to an address, after a comma or at
    # the start of a line, and the place name ends the line or the clause.
    re.compile(
        rf"(?:(?<=\])|(?<=,)|(?<=\n)|^)\s*(?P<code>\d{{5}})(?=\s+{_CITY}\s*(?:$|[,\n;)]))",
        re.MULTILINE,
    ),
)
# Names the text itself marks: a title or salutation before, a self-introduction, a sign-off.
_NAME_WORD = r"[A-ZÀ-ÖØ-ÞĀ-Ž](?:[^\W\d_]|['’-](?=[^\W\d_]))+(?!\w)"
_NAME = rf"(?P<name>{_NAME_WORD}(?:[ -]{_NAME_WORD}){{0,2}})"
_NAME_CONTEXTS = (
    re.compile(
        r"\b(?:Mr|Mrs|Ms|Mx|Dr|Prof|Herr|Frau|M|Mme|Mlle|Sr|Sra|Srta|Sig|Sig\.ra|Dott|Dhr|Mevr)"
        rf"\.?\s+{_NAME}"
    ),
    re.compile(
        r"(?i:\b(?:dear|hi|hello|hey|liebe|lieber|hallo|sehr geehrte|sehr geehrter|bonjour"
        r"|cher|chère|salut|hola|querido|querida|estimado|estimada|ciao|caro|cara|gentile"
        r"|beste|hoi|geachte)),?\s+"
        rf"(?:(?:Mr|Mrs|Ms|Dr|Herr|Frau|M|Mme|Sr|Sra)\.?\s+)?{_NAME}"
    ),
    re.compile(
        r"(?i:\b(?:my name is|i am|i'm|ich heiße|ich bin|mein name ist|je m'appelle|je suis"
        r"|me llamo|mi nombre es|soy|mi chiamo|sono|ik ben|mijn naam is))\s+"
        rf"{_NAME}"
    ),
    re.compile(
        r"(?i:\b(?:regards|best|thanks|thank you|cheers|sincerely|grüße|gruß|viele grüße"
        r"|mit freundlichen grüßen|cordialement|bien à vous|merci|saludos|atentamente|un saludo"
        r"|cordiali saluti|saluti|grazie|groeten|met vriendelijke groet)),?\s*\n?\s*"
        rf"{_NAME}(?=\s*$|\s*\n)",
        re.MULTILINE,
    ),
)
# Capitalised words the name contexts must not take for names ("I am Happy", "Hi All").
_NOT_NAMES = frozenset(
    [
        "all",
        "everyone",
        "team",
        "there",
        "here",
        "again",
        "back",
        "sure",
        "sorry",
        "happy",
        "glad",
        "fine",
        "good",
        "not",
        "so",
        "very",
        "just",
        "also",
        "still",
        "now",
        "today",
        "tomorrow",
        "sir",
        "madam",
        "customer",
        "colleagues",
        "friends",
        "folks",
        "regards",
        "wishes",
        "grüße",
        "gruß",
        "damen",
        "herren",
        "kollegen",
        "kolleginnen",
        "leute",
        "freunde",
        "madame",
        "monsieur",
        "mesdames",
        "messieurs",
        "tous",
        "amis",
        "señor",
        "señora",
        "todos",
        "amigos",
        "tutti",
        "signore",
        "signora",
        "collega",
        "allemaal",
    ]
)
_PLACEHOLDER = re.compile(r"\[\s*(" + "|".join(KINDS) + r")[\s_-]?(\d{1,4})\s*\]", re.IGNORECASE)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _strip_url(value: str) -> str:
    return value.rstrip(_TRAILING_PUNCT)


def _phone_ok(value: str) -> bool:
    n = len(_digits(value))
    return 7 <= n <= 15 and not _DATE_LIKE.match(value.strip())


@dataclass
class Redaction:
    """The placeholders of one request; redact what goes out, rehydrate what comes back."""

    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    _by_placeholder: dict[str, str] = field(default_factory=dict)
    _reserved: set[str] = field(default_factory=set)
    _counters: Counter[str] = field(default_factory=Counter)

    @property
    def counts(self) -> dict[str, int]:
        """How many distinct values of each kind were replaced."""
        return dict(self._counters)

    @property
    def empty(self) -> bool:
        return not self._by_placeholder

    def redact(self, text: str) -> str:
        # Placeholder-looking text the user wrote must not collide with ours.
        self._reserved.update(m.group(0).upper() for m in _PLACEHOLDER.finditer(text))
        text = self._sub(_URL, "URL", text, _strip_url)
        text = self._sub(_EMAIL, "EMAIL", text)
        text = self._sub(_BARE_DOMAIN, "URL", text, _strip_url)
        text = self._sub(_IBAN, "IBAN", text)
        text = self._sub_long_digits(text)
        text = self._sub(_SSN_LIKE, "ACCOUNT", text)
        text = self._sub_phones(text)
        text = self._sub_postcodes(text, _POSTCODES[:-1])
        text = self._sub(_ACCOUNT, "ACCOUNT", text)
        text = self._sub(_PHONE, "PHONE", text, accept=_phone_ok)
        text = self._sub(_ADDRESS, "ADDRESS", text)
        # Once addresses are placeholders, "[ADDRESS_1], 10115 Berlin" shows its postcode.
        text = self._sub_postcodes(text, _POSTCODES[-1:])
        text = self._sub_names(text)
        return text

    def rehydrate(self, text: str) -> str:
        def restore(match: re.Match[str]) -> str:
            key = f"[{match.group(1).upper()}_{int(match.group(2))}]"
            return self._by_placeholder.get(key, match.group(0))

        return _PLACEHOLDER.sub(restore, text) if self._by_placeholder else text

    def rehydrate_value(self, value: Any) -> Any:
        """Rehydrate every string inside nested dicts/lists (a model's JSON dump)."""
        if isinstance(value, str):
            return self.rehydrate(value)
        if isinstance(value, list):
            return [self.rehydrate_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.rehydrate_value(v) for k, v in value.items()}
        return value

    def rehydrate_model(self, model: M) -> M:
        if self.empty:
            return model
        restored = self.rehydrate_value(model.model_dump(mode="json"))
        return type(model).model_validate(restored)

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key in self._by_value:
            return self._by_value[key]
        while True:
            self._counters[kind] += 1
            placeholder = f"[{kind}_{self._counters[kind]}]"
            if placeholder not in self._reserved:
                break
        self._by_value[key] = placeholder
        self._by_placeholder[placeholder] = value
        return placeholder

    def _sub(
        self,
        pattern: re.Pattern[str],
        kind: str,
        text: str,
        trim: Callable[[str], str] | None = None,
        accept: Callable[[str], bool] | None = None,
    ) -> str:
        def replace(match: re.Match[str]) -> str:
            value = match.group(0)
            kept = trim(value) if trim else value
            if not kept or (accept is not None and not accept(kept)):
                return value
            return self._placeholder(kind, kept) + value[len(kept) :]

        return pattern.sub(replace, text)

    def _sub_phones(self, text: str) -> str:
        spans = sorted(set(_phone_spans(text)), key=lambda span: (span[0], -span[1]))
        out, end = [], 0
        for start, stop in spans:
            if start < end or _inside_placeholder(text, start):
                continue
            out.append(text[end:start])
            out.append(self._placeholder("PHONE", text[start:stop]))
            end = stop
        out.append(text[end:])
        return "".join(out)

    def _sub_postcodes(self, text: str, patterns: tuple[re.Pattern[str], ...]) -> str:
        for pattern in patterns:
            text = self._sub_group(pattern, "code", "POSTCODE", text)
        return text

    def _sub_names(self, text: str) -> str:
        def accept(value: str) -> bool:
            return value.split()[0].lower() not in _NOT_NAMES

        for pattern in _NAME_CONTEXTS:
            text = self._sub_group(pattern, "name", "NAME", text, accept)
        return text

    def _sub_group(
        self,
        pattern: re.Pattern[str],
        group: str,
        kind: str,
        text: str,
        accept: Callable[[str], bool] | None = None,
    ) -> str:
        """Replace only `group` of each match; the rest of the match is context."""

        def replace(match: re.Match[str]) -> str:
            value = match.group(group)
            if accept is not None and not accept(value):
                return match.group(0)
            start, stop = match.span(group)
            whole_start = match.start()
            prefix = match.group(0)[: start - whole_start]
            suffix = match.group(0)[stop - whole_start :]
            return prefix + self._placeholder(kind, value) + suffix

        return pattern.sub(replace, text)

    def _sub_long_digits(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            value = match.group(0)
            kind = "CARD" if _luhn_ok(_digits(value)) else "ACCOUNT"
            return self._placeholder(kind, value)

        return _LONG_DIGITS.sub(replace, text)


def _phone_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of valid phone numbers in any of PHONE_REGIONS' national formats (and every
    international one); a number valid in several regions is found several times.

    The matcher runs on digit-group candidates only: over whole texts, once per region,
    it costs a hundred times more and finds nothing else.
    """
    for candidate in _PHONE_CANDIDATE.finditer(text):
        chunk, offset = candidate.group(0), candidate.start()
        if sum(ch.isdigit() for ch in chunk) < 6:
            continue
        if chunk.isdigit() and chunk[0] != "0":
            continue  # a bare run of digits: an account number (ACCOUNT) more likely
        for region in PHONE_REGIONS:
            for match in phonenumbers.PhoneNumberMatcher(
                chunk, region, phonenumbers.Leniency.VALID
            ):
                yield offset + match.start, offset + match.end


def _inside_placeholder(text: str, index: int) -> bool:
    opening = text.rfind("[", 0, index)
    return opening != -1 and text.find("]", opening) >= index and index - opening <= 16


def redact_messages(messages: list[dict[str, str]], redaction: Redaction) -> list[dict[str, str]]:
    """Redact the `content` of each chat message (roles and names are left alone)."""
    out = []
    for message in messages:
        copy = dict(message)
        if isinstance(copy.get("content"), str):
            copy["content"] = redaction.redact(copy["content"])
        out.append(copy)
    return out
