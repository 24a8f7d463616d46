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

from shared.verification import contradiction, mood
from shared.verification.text import STOPWORDS, sentences, stem, tokens
from shared.verification.vocabulary import SENTENCE_STARTERS


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
# The actor's own best sentence may share this many fewer stems than the best of anybody's.
ALIGN_SLACK = 1
# An answer this short ("I will", "Yes, done") borrows the words of the question before it.
SHORT_ANSWER_WORDS = 3
# A clause part that is only a name ("#Person1#", "Mr. Zhang"), joined to what follows;
# "Bob left" is a clause of its own.
_BARE_NAME = re.compile(
    r"(?:#\w+#|(?:(?:Mr|Mrs|Ms|Dr|Prof)\.?\s+)?[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)"
)
_SECOND_PERSON = frozenset(("you", "your", "you're", "you'll", "you've", "u", "ur"))


def problem(summary: str, messages: Sequence[Message]) -> str | None:
    """The first misattributed or mis-moded clause of `summary`, or None."""
    if not messages:
        return None
    speakers = {_name_key(m.speaker) for m in messages if m.speaker.strip()}
    source = _source_sentences(messages)
    aliases = _addressed_names(messages, speakers)
    actor: str | None = None
    for clause in _clauses(summary):
        words = tokens(clause)
        # "Priya is late and ordered pad thai": the second clause is still Priya's.
        inherits = actor is not None and clause[:1].islower() and words[:1] != ["the"]
        actor = actor if inherits else _actor(clause, words, speakers)
        stems = {_lemma(w) for w in words if w not in STOPWORDS} - set((actor or "").split())
        scored = [(len(stems & s.stems), s) for s in source]
        top = max(score for score, _ in scored)
        if top < MIN_SHARED:
            continue  # nothing to align with: the fact checks judge this clause
        candidates = scored
        if actor is not None:
            # The actor must have said (or be named in, or be addressed by) a sentence about
            # this clause, and one nearly as close as the closest sentence of anybody.
            candidates = [(score, s) for score, s in scored if _may_be_actor(actor, s, aliases)]
            own = max((score for score, _ in candidates), default=0)
            if own < MIN_SHARED or own + ALIGN_SLACK < top:
                return "attributes a message to the wrong person"
            top = own
        reported = mood.summary_clause(clause)
        verdicts = [_conflict(reported, clause, s) for score, s in candidates if score == top]
        if verdicts and all(verdicts):
            return verdicts[0]
        if reported.mood is mood.Mood.DID and not reported.negated:
            problem = _undone_deed(clause, source)
            if problem:
                return problem
    return None


def _undone_deed(clause: str, source: list[_Sentence]) -> str | None:
    """A deed the summary reports whose verb the messages use only in requests or plans:
    "You confirmed your appointment" when the clinic wrote "Reply C to confirm"."""
    for verb in mood.deeds(clause):
        base = stem(verb)
        moods = {s.clause.mood for s in source if base in s.stems}
        if moods and mood.Mood.DID not in moods and mood.Mood.STATE not in moods:
            if mood.Mood.ASKED in moods:
                return "reports a request as done"
            return "reports a plan as done"
    return None


def _may_be_actor(actor: str, sentence: _Sentence, aliases: dict[str, str]) -> bool:
    if _name_key(sentence.speaker) == actor or aliases.get(actor) == _name_key(sentence.speaker):
        return True
    if actor in _name_keys_in(sentence.text):
        return True
    # "Did you book the table?" to Sam: the booking may be Sam's.
    return sentence.addresses_other


def _source_sentences(messages: Sequence[Message]) -> list[_Sentence]:
    """Every clause of every message; a short answer ("I will.", "Yes!") to another
    speaker's question takes the question's words, so "Tariq will bring the drinks" aligns
    with Tariq's "I will" after "Who's bringing the drinks?"."""
    found: list[_Sentence] = []
    for message in messages:
        sentences_here = _sentences_of(message)
        previous = found[-1] if found else None
        if (
            sentences_here
            and previous is not None
            and previous.speaker != message.speaker
            and previous.text.rstrip().endswith("?")
            and len(tokens(sentences_here[0].text)) <= SHORT_ANSWER_WORDS
        ):
            answer = sentences_here[0]
            sentences_here[0] = _Sentence(
                speaker=answer.speaker,
                text=answer.text,
                stems=answer.stems | previous.stems,
                clause=answer.clause,
                addresses_other=answer.addresses_other,
            )
        found.extend(sentences_here)
    return found


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
    found: list[str] = []
    for sentence in sentences(summary):
        parts = [p.strip() for p in _CLAUSE_BREAK.split(sentence) if p.strip()]
        # "#Person1# and #Person2# talk about...": a bare name before "and" is a subject
        # shared with the next part, not a clause of its own.
        while len(parts) > 1 and _BARE_NAME.fullmatch(parts[0]):
            parts[:2] = [f"{parts[0]} and {parts[1]}"]
        found.extend(parts)
    return found


def _actor(clause: str, words: list[str], speakers: set[str]) -> str | None:
    """Who a clause opens with: a speaker ("Anna asks...", "#Person2# says...") or another
    person named first ("Bob moved dinner..."); None for "Your parcel is...", "The deposit...".
    """
    plain = [w.removesuffix("'s") for w in words]
    head = " ".join(plain[:4])
    for key in sorted(speakers, key=len, reverse=True):
        if head == key or head.startswith(key + " "):
            rest = head.removeprefix(key).split()
            if rest[:1] == ["and"] or rest[:1] == ["both"]:
                return None  # "#Person1# and #Person2# talk about...": both of them
            return key
    first = clause.lstrip(" \"'“(#*-")
    if (
        plain
        and first[:1].isupper()
        and plain[0] not in _NOT_ACTORS
        and plain[0] not in SENTENCE_STARTERS  # "Then they get back to books."
        and _ends_name(first)
    ):
        return plain[0]
    return None


def _ends_name(text: str) -> bool:
    """Whether the first word of `text` is a name (capitalised, then a verb or possessive)."""
    match = re.match(r"[A-Z][a-z]+(?:'s)?\s+([a-z]+)", text)
    return match is not None


# Capitalised clause openers that are not people.
# fmt: off
_NOT_ACTORS = frozenset((
    "the", "a", "an", "your", "you", "his", "her", "their", "our", "my", "this", "that",
    "these", "those", "it", "there", "school", "dinner", "lunch", "breakfast", "reminder",
    "payment", "delivery", "flight", "train", "meeting", "classes", "class", "today",
    "tomorrow", "tonight", "yesterday", "everyone", "nobody", "someone", "driver", "call",
    "please", "if", "when", "and", "but", "so", "both", "all", "no", "not",
))
# fmt: on


# A name the writer calls the reader by: a part of a message (between commas and sentence
# ends) that is nothing but a name ("Excuse me, Mr. White?", "Sure, Sherry.", "Julia, I...").
_TITLE_DOT = re.compile(r"\b(Mr|Mrs|Ms|Dr|Prof|St)\.")
_PARTS = re.compile(r"[,.!?;:]+")
_TITLES = frozenset(("mr", "mrs", "ms", "miss", "dr", "prof"))
_NAME_ONLY = re.compile(r"(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof)\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?")


def _addressed_names(messages: Sequence[Message], speakers: set[str]) -> dict[str, str]:
    """In a conversation of two, a name one speaker calls the other by is the other's name:
    "#Person2#: Sure, Sherry." makes Sherry #Person1#, so "Sherry reminds Mr. White to
    sign" can be aligned with #Person1#'s own words. Each key of a name (the whole name, its
    first and its last word) maps to that speaker; a name both speakers use is nobody's."""
    if len(speakers) != 2:
        return {}
    found: dict[str, set[str]] = {}
    for message in messages:
        speaker = _name_key(message.speaker)
        if speaker not in speakers:
            continue
        (other,) = speakers - {speaker}
        for part in _PARTS.split(_TITLE_DOT.sub(r"\1", message.text)):
            part = part.strip()
            if not _NAME_ONLY.fullmatch(part) or part.lower() in SENTENCE_STARTERS:
                continue
            name = tokens(part)
            keys = {" ".join(name), name[-1]} | ({name[0]} if name[0] not in _TITLES else set())
            for key in keys:
                found.setdefault(key, set()).add(other)
    return {
        key: next(iter(owners))
        for key, owners in found.items()
        if len(owners) == 1 and key not in speakers and key not in _NOT_ACTORS
    }


def _name_key(name: str) -> str:
    return " ".join(tokens(name))


def _name_keys_in(text: str) -> set[str]:
    words = tokens(text)
    return {" ".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}


def _lemma(word: str) -> str:
    return stem(mood.IRREGULAR_PAST.get(word, word))


def _conflict(reported: mood.Clause, clause: str, sentence: _Sentence) -> str | None:
    verdict = mood.conflict(reported, sentence.clause)
    if verdict == "drops a negation" and contradiction.turned_round(sentence.text, clause):
        return None  # "not closed" reported as "open": the negation, in other words
    return verdict
