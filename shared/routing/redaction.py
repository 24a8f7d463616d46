"""Redaction of contact and payment details before text leaves the deployment.

Each detail becomes a stable placeholder (`[EMAIL_1]`, the same one every time the same
value recurs in a request) and is restored in the answer, including inside structured JSON
fields. Detectors run in a fixed order so that a URL is not half-taken by the e-mail rule
and a card number is not taken for a phone number.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

KINDS = ("URL", "EMAIL", "IBAN", "CARD", "ACCOUNT", "PHONE", "ADDRESS")

_TRAILING_PUNCT = ".,;:!?)'\""
_TLDS = "com|org|net|io|co|de|fr|uk|eu|ch|nl|es|it|ai|app|dev|info|biz|me|us|ca|au|jp|cn|in|ru|br"
_STREET_SUFFIX = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq"
    "|Terrace|Way|Parkway|Pkwy|Highway|Hwy|Close|Crescent|Gardens|Row|Alley|Circle|Cir"
)

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'\[\]{}|\\^`]+", re.IGNORECASE)
_BARE_DOMAIN = re.compile(
    rf"(?<![@\w.])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})(?:/[^\s<>\"'\[\]]*)?(?![\w@])",
    re.IGNORECASE,
)
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
# 13-19 digits, optionally grouped by single spaces or dashes; not part of a +phone.
_LONG_DIGITS = re.compile(r"(?<![\w+])\d(?:[ -]?\d){12,18}(?![\w])")
_SSN_LIKE = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,5}){1,4}(?![\w])"
)
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")
# Contiguous runs; a leading "+" marks a phone number, left to _PHONE.
_ACCOUNT = re.compile(r"(?<![\w+])\d{8,}(?![\w])")
_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){1,4}"
    rf"(?:{_STREET_SUFFIX})\b\.?"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|#)\.?\s*[\w-]+)?"
    r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|weg|gasse|platz|allee|ring|damm)\s+\d{1,4}[a-z]?\b"
    r"|\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse"
    r"|calle|avenida|via|viale|piazza|corso)\s+(?:(?:de|du|des|la|le|del|della|di)\s+)*"
    r"[A-ZÀ-Ý][\w'-]*(?:\s+[A-ZÀ-Ý][\w'-]*){0,3}",
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
        text = self._sub(_ACCOUNT, "ACCOUNT", text)
        text = self._sub(_PHONE, "PHONE", text, accept=_phone_ok)
        text = self._sub(_ADDRESS, "ADDRESS", text)
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

    def _sub_long_digits(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            value = match.group(0)
            kind = "CARD" if _luhn_ok(_digits(value)) else "ACCOUNT"
            return self._placeholder(kind, value)

        return _LONG_DIGITS.sub(replace, text)


def redact_messages(messages: list[dict[str, str]], redaction: Redaction) -> list[dict[str, str]]:
    """Redact the `content` of each chat message (roles and names are left alone)."""
    out = []
    for message in messages:
        copy = dict(message)
        if isinstance(copy.get("content"), str):
            copy["content"] = redaction.redact(copy["content"])
        out.append(copy)
    return out
