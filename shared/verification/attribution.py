"""Attribution: each claim of a summary names the right actor and keeps its source's mood.

A summary clause ("Anna asks you to send the deposit by Friday") is aligned to the message
sentence it most likely comes from, by shared content words. Then:
- its actor (a speaker named at the start of the clause) must be the one who wrote that
  sentence, or be named in it ("Sam booked a table", written by Dana), or be the person a
  second-person sentence addresses ("Did you book?" to Sam, answered by Sam);
- its mood must agree (`mood.conflict`): a request is not a done deed, a plan is not done,
  a negation survives.
A clause that aligns with no sentence is left to the fact checks: this module judges who and
how, not what.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared.verification import mood
from shared.verification.text import STOPWORDS, sentences, stem, tokens


@dataclass(frozen=True)
class Message:
    """One source message: who wrote it and what it says."""

    speaker: str
    text: str


@dataclass(frozen=True)
class _Sentence:
    speaker: str
    text: str
    stems: frozenset[str]
    clause: mood.Clause
    addresses_other: bool  # uses "you": its subject may be the person it speaks to


# Clause boundaries inside one sentence: "X did A, and Y asked B", "X did A but Y ...".
_CLAUSE_BREAK = re.compile(r";|,?\s+(?:and|but|while|whereas|although|though|so)\s+|,\s+")
# A clause needs this many shared content stems with a sentence to be aligned to it.
MIN_SHARED = 1
_SECOND_PERSON = frozenset(("you", "your", "you're", "you'll", "you've", "u", "ur"))


def problem(summary: str, messages: Sequence[Message]) -> str | None:
    """The first misattributed or mis-moded clause of `summary`, or None."""
    if not messages:
        return None
    speakers = {_name_key(m.speaker): m.speaker for m in messages if m.speaker.strip()}
    source = [s for m in messages for s in _sentences_of(m)]
    for clause in _clauses(summary):
        words = tokens(clause)
        actor = _actor(words, speakers)
        best = _aligned(clause, words, actor, source)
        if not best:
            continue
        reported = mood.summary_clause(clause)
        verdicts = [_judge(actor, reported, sentence) for sentence in best]
        if all(verdicts):
            return verdicts[0]
    return None


def _judge(actor: str | None, reported: mood.Clause, sentence: _Sentence) -> str | None:
    if actor is not None and not _may_be_actor(actor, sentence):
        return "attributes a message to the wrong person"
    return mood.conflict(reported, sentence.clause)


def _may_be_actor(actor: str, sentence: _Sentence) -> bool:
    if _name_key(sentence.speaker) == actor:
        return True
    if actor in _name_keys_in(sentence.text):
        return True
    # "Did you book the table?" to Sam: the booking may be Sam's.
    return sentence.addresses_other


def _aligned(
    clause: str, words: list[str], actor: str | None, source: list[_Sentence]
) -> list[_Sentence]:
    """The sentences sharing the most content stems with the clause (ties all kept)."""
    stems = {_lemma(w) for w in words if w not in STOPWORDS}
    if actor is not None:
        stems -= set(actor.split())
    scored = [(len(stems & s.stems), s) for s in source]
    top = max((score for score, _ in scored), default=0)
    if top < MIN_SHARED:
        return []
    return [s for score, s in scored if score == top]


def _sentences_of(message: Message) -> list[_Sentence]:
    found = []
    for sentence in sentences(message.text):
        for part in _CLAUSE_BREAK.split(sentence) or [sentence]:
            if not part.strip():
                continue
            # A question keeps its mark when split: "Can you come, and bring wine?".
            text = part if not sentence.rstrip().endswith("?") else part.rstrip("?") + "?"
            words = tokens(text)
            found.append(
                _Sentence(
                    speaker=message.speaker,
                    text=text,
                    stems=frozenset(_lemma(w) for w in words if w not in STOPWORDS),
                    clause=mood.source_clause(text),
                    addresses_other=any(w in _SECOND_PERSON for w in words),
                )
            )
    return found


def _clauses(summary: str) -> list[str]:
    return [
        part.strip()
        for sentence in sentences(summary)
        for part in _CLAUSE_BREAK.split(sentence)
        if part.strip()
    ]


def _actor(words: list[str], speakers: dict[str, str]) -> str | None:
    """The speaker a clause opens with ("Anna asks...", "#Person2# says..."), if any."""
    head = " ".join(words[:4])
    for key in sorted(speakers, key=len, reverse=True):
        if head == key or head.startswith(key + " "):
            return key
    return None


def _name_key(name: str) -> str:
    return " ".join(tokens(name))


def _name_keys_in(text: str) -> set[str]:
    words = tokens(text)
    return {" ".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}


def _lemma(word: str) -> str:
    return stem(mood.IRREGULAR_PAST.get(word, word))
