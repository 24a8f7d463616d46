"""The faithfulness guard: every name, number, time, date and amount must come from the sources.

A summary is published only if each entity it mentions is grounded in the notifications it
summarises (or is a plain count of them). This is the rule that keeps a summariser from
attributing a headline to someone who never wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from shared.verification.attribution import Message
from shared.verification.facts import Entity, EntityKind, extract, normalise_text, words

# Longest capitalised run looked up as a phrase; longer runs are rare and checked word by word.
_MAX_PHRASE_WORDS = 6
_DIGITS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


@dataclass(frozen=True)
class GroundingReport:
    """The entities of a summary that no source supports (empty: the summary is grounded)."""

    entities: tuple[Entity, ...]
    ungrounded: tuple[Entity, ...]

    @property
    def ok(self) -> bool:
        return not self.ungrounded

    def describe(self) -> str:
        return ", ".join(f"{e.kind.value} {e.text!r}" for e in self.ungrounded)


@dataclass
class Sources:
    """Normalised facts of a set of source texts, built once per stack and checked many times."""

    keys: dict[EntityKind, set[Hashable]] = field(default_factory=dict)
    phrases: set[tuple[str, ...]] = field(default_factory=set)
    messages: tuple[Message, ...] = ()

    @classmethod
    def of(
        cls, texts: Iterable[str], counts: Iterable[int] = (), messages: Iterable[Message] = ()
    ) -> Sources:
        """Facts of `texts`; `counts` are numbers a summary may state without quoting them
        (how many notifications, how many senders); `messages` (who wrote what) are kept for
        the attribution check."""
        sources = cls(keys={kind: set() for kind in EntityKind}, messages=tuple(messages))
        numbers = sources.keys[EntityKind.NUMBER]
        numbers.update(Decimal(c) for c in counts)
        for text in texts:
            for entity in (*extract(text), *_lenient(text)):
                sources.keys[entity.kind].update(entity.keys)
            # Every digit run counts as a number too: "3" is grounded by "3pm", "20" by "$20".
            numbers.update(Decimal(d.replace(",", "")).normalize() for d in _DIGITS.findall(text))
            tokens = words(text)
            for n in range(1, _MAX_PHRASE_WORDS + 1):
                sources.phrases.update(zip(*(tokens[i:] for i in range(n)), strict=False))
        # A date also grounds a mention of its month alone ("in March" from "March 5").
        sources.keys[EntityKind.DATE].update(
            ("month", key[0])
            for key in list(sources.keys[EntityKind.DATE])
            if isinstance(key, tuple) and isinstance(key[0], int)
        )
        for amount in sources.keys[EntityKind.AMOUNT]:
            if isinstance(amount, tuple):
                numbers.add(amount[1])
        return sources

    def grounds(self, entity: Entity) -> bool:
        if entity.kind is EntityKind.NAME:
            return all(self._phrase_known(phrase) for phrase in entity.keys)
        known = self.keys.get(entity.kind, set())
        if entity.kind is EntityKind.DATE and self._month_word_known(entity):
            return True
        return not known.isdisjoint(entity.keys)

    def _phrase_known(self, phrase: Hashable) -> bool:
        assert isinstance(phrase, tuple)
        if len(phrase) <= _MAX_PHRASE_WORDS:
            return phrase in self.phrases
        return all((word,) in self.phrases for word in phrase)

    def _month_word_known(self, entity: Entity) -> bool:
        # "May" alone is also a modal verb; if the sources use the word, the mention is theirs.
        return (
            any(isinstance(k, tuple) and k[0] == "month" for k in entity.keys)
            and (normalise_text(entity.text).lower().rstrip("."),) in self.phrases
        )


def check(summary: str, sources: Sources) -> GroundingReport:
    """Extract the summary's entities and keep those that no source supports."""
    entities = tuple(extract(summary))
    return GroundingReport(entities, tuple(e for e in entities if not sources.grounds(e)))


# Chat is written in lower case ("sat morning", "jun 30") and with dots in times ("7.45"):
# on the source side these readings count too, so a summary or rewrite that spells them
# out ("Saturday", "June 30", "7:45") is grounded. Never on the checked side.
_CASE_SENSITIVE_WORDS = re.compile(r"\b(may|march|sat|sun|wed|mar|jan|jun|aug)\b")
_DOTTED_TIME = re.compile(r"\b([01]?\d|2[0-3])\.([0-5]\d)\b")


def _lenient(text: str) -> list[Entity]:
    capitalised = _CASE_SENSITIVE_WORDS.sub(lambda m: m.group(1).capitalize(), text)
    found = [e for e in extract(capitalised) if e.kind is EntityKind.DATE]
    for match in _DOTTED_TIME.finditer(text):
        minutes = int(match.group(1)) * 60 + int(match.group(2))
        found.append(Entity(EntityKind.TIME, match.group(0), frozenset({minutes, minutes + 720})))
    return found
