"""The shape of a description: which things it names and how they relate.

Only a few patterns are recognised ("X wearing Y", "X holding Y", "X on Y", "X in Y",
"X with Y", "X and Y", and "X with Y and Z"), in English and a handful of other languages;
anything else is a single subject. This is all a sticker layout needs, and a rule that fails
falls back to the single-subject sticker rather than to a wrong composition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_PARTS = 3


class Relation(StrEnum):
    SINGLE = "single"
    WEARING = "wearing"
    HOLDING = "holding"
    ON = "on"
    IN = "in"
    WITH = "with"
    AND = "and"


@dataclass(frozen=True)
class Composition:
    """`parts[0]` is the main subject; the relation says where the others go."""

    relation: Relation
    parts: tuple[str, ...]


# Connector words per language; the first relation found (in this order) splits the text.
_CONNECTORS: dict[str, dict[Relation, tuple[str, ...]]] = {
    "en": {
        Relation.WEARING: ("wearing", "wears", "in a pair of", "dressed in", "with a pair of"),
        Relation.HOLDING: ("holding", "holds", "carrying", "eating", "drinking"),
        Relation.ON: ("on top of", "on", "riding", "sitting on", "standing on"),
        Relation.IN: ("inside", "in"),
        Relation.WITH: ("with", "next to", "beside", "playing with"),
        Relation.AND: ("and", "&", "plus"),
    },
    "de": {
        Relation.WEARING: ("trägt", "mit einer", "mit einem"),
        Relation.HOLDING: ("hält",),
        Relation.ON: ("auf",),
        Relation.IN: ("in", "im"),
        Relation.WITH: ("mit",),
        Relation.AND: ("und",),
    },
    "fr": {
        Relation.WEARING: ("portant", "porte"),
        Relation.HOLDING: ("tenant", "tient"),
        Relation.ON: ("sur",),
        Relation.IN: ("dans",),
        Relation.WITH: ("avec",),
        Relation.AND: ("et",),
    },
    "es": {
        Relation.WEARING: ("con unas", "con un", "con una", "lleva", "llevando"),
        Relation.HOLDING: ("sosteniendo",),
        Relation.ON: ("sobre", "encima de"),
        Relation.IN: ("dentro de", "en"),
        Relation.WITH: ("con",),
        Relation.AND: ("y",),
    },
}
_ARTICLES: dict[str, tuple[str, ...]] = {
    "en": ("a", "an", "the", "some", "two", "my", "his", "her", "their", "pair of", "cute"),
    "de": ("ein", "eine", "einen", "einem", "einer", "der", "die", "das", "den", "dem"),
    "fr": ("un", "une", "le", "la", "les", "des", "du", "l'"),
    "es": ("un", "una", "unos", "unas", "el", "la", "los", "las"),
}
# Lead-ins that describe the request rather than its content.
_LEAD_INS = re.compile(
    r"^\s*(?:(?:an?|the)\s+)?(?:emoji|sticker|genmoji|picture|image|icon)\s+(?:of|with)\s+",
    re.IGNORECASE,
)


def _strip(text: str, language: str) -> str:
    words = text.strip(" \t,.!?;:").split()
    articles = _ARTICLES.get(language, ())
    changed = True
    while words and changed:
        changed = False
        for article in articles:
            n = len(article.split())
            if [w.casefold() for w in words[:n]] == article.split():
                words = words[n:]
                changed = True
                break
    return " ".join(words)


def _split(text: str, connectors: tuple[str, ...]) -> tuple[str, str] | None:
    for connector in sorted(connectors, key=len, reverse=True):
        pattern = rf"(?<!\w){re.escape(connector)}(?!\w)"
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return text[: found.start()], text[found.end() :]
    return None


def parse(description: str, locale: str = "en") -> Composition:
    """Split a description into up to three parts and the relation between them."""
    language = locale.replace("_", "-").split("-")[0].casefold()
    table = _CONNECTORS.get(language, _CONNECTORS["en"])
    text = _LEAD_INS.sub("", description).strip()
    for relation, connectors in table.items():
        halves = _split(text, connectors)
        if halves is None:
            continue
        head, tail = (_strip(h, language) for h in halves)
        if not head or not tail:
            continue
        others = [tail]
        if relation is not Relation.AND:
            # "X with Y and Z": the tail may list two things.
            more = _split(tail, table[Relation.AND])
            if more is not None:
                first, second = (_strip(m, language) for m in more)
                if first and second:
                    others = [first, second]
        return Composition(relation, (head, *others)[:MAX_PARTS])
    return Composition(Relation.SINGLE, (_strip(text, language) or text,))
