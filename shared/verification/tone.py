"""Tone: a tone rewrite must measurably move the text towards its tone.

The meaning guards prove that nothing broke; they cannot tell a rewrite from a copy. Each
tone has a marker score (formality for professional, warmth for friendly, length for
concise); the rewrite passes when the score moves the right way, or when the source already
sat at the tone and the rewrite changed its wording without losing it. Markers are English
word lists: other languages are judged on change alone (see `problem`).
"""

from __future__ import annotations

import re
from enum import StrEnum

from shared.verification.text import tokens


class ToneKind(StrEnum):
    PROFESSIONAL = "professional"
    FRIENDLY = "friendly"
    CONCISE = "concise"


# fmt: off
_FORMAL = frozenset((
    "please", "kindly", "would", "could", "regards", "sincerely", "appreciate", "apologies",
    "apologize", "apologise", "regarding", "dear", "confirm", "however", "therefore",
    "additionally", "assist", "assistance", "request", "inform", "ensure", "available",
    "unable", "cannot", "unfortunately", "grateful", "attend", "provide", "require",
    "consider", "advise", "forward", "convenience", "further", "accordingly", "receive",
    "thank", "arrange", "possible", "schedule", "discuss", "review", "opportunity",
    "informed", "notify", "notified", "currently", "approximately", "subsequently",
    "required", "requested", "concerning", "prior", "regret", "regrettably", "acknowledge",
    "respectfully", "appreciated", "reschedule", "confirmation", "inconvenience",
    "unavailable", "assure", "aware", "note", "sincere", "apologies", "locate",
))
_INFORMAL = frozenset((
    "hey", "yeah", "yep", "nope", "gonna", "wanna", "gotta", "kinda", "sorta", "lol", "btw",
    "omg", "u", "ur", "thx", "pls", "plz", "tmrw", "cuz", "coz", "ya", "guys", "stuff", "cool",
    "awesome", "dude", "sup", "cant", "dont", "wont", "im", "didnt", "isnt", "wasnt", "ive",
    "youre", "thats", "whats", "haha", "lmk", "idk", "tbh", "imo", "np", "k", "yo", "hiya",
    "nah", "ok", "okay", "asap", "mate", "bro", "totally", "super", "crazy", "damn", "shit",
    "honestly", "basically", "literally", "like", "hrs", "mins", "msg", "pic", "pics",
    "convo", "tho", "thru", "gotcha", "yup", "gonna", "prob", "probs", "def", "bc",
))
_WARM = frozenset((
    "thanks", "thank", "hope", "great", "glad", "happy", "love", "wonderful", "appreciate",
    "hi", "hello", "cheers", "enjoy", "lovely", "kind", "welcome", "excited", "delighted",
    "pleasure", "fantastic", "amazing", "sorry", "warmly", "best", "care", "soon",
    "forward", "fun", "nice", "awesome",
))
_COLD = frozenset((
    "must", "immediately", "required", "unacceptable", "failure", "demand", "mandatory",
    "obviously", "again", "finally", "still", "never", "already", "deadline", "asap",
    "urgent", "why", "supposed", "should", "ridiculous", "annoying", "annoyed",
))
# fmt: on
# The marker lists, for checks that must tell a tone's words from content (support.py).
FORMAL_WORDS, INFORMAL_WORDS, WARM_WORDS = _FORMAL, _INFORMAL, _WARM
_CONTRACTION = re.compile(r"\b\w+(?:n't|'m|'re|'ll|'ve|'d)\b", re.IGNORECASE)
_EXCLAIM = re.compile(r"!")
_SHOUT = re.compile(r"[!?]{2,}")
_EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]|[:;]-?[)D(P]")
_LOWER_I = re.compile(r"(?<![\w'])i(?![\w'])")
_LOWER_START = re.compile(r"(?:^|[.!?]\s+)[a-z]")
# A concise rewrite keeps at most this share of the source's words.
CONCISE_RATIO = 0.9
# Texts this short (in words) may stay as long as they are when made concise.
CONCISE_SHORT = 12


def formality(text: str) -> float:
    """Formal markers minus informal ones, per 20 words."""
    words = tokens(text)
    score = sum(w in _FORMAL for w in words) - sum(w in _INFORMAL for w in words)
    score -= len(_CONTRACTION.findall(text)) + len(_SHOUT.findall(text))
    score -= len(_EMOJI.findall(text)) + len(_LOWER_I.findall(text))
    score -= len(_LOWER_START.findall(text.strip()))
    return score * 20 / max(20, len(words))


def warmth(text: str) -> float:
    """Warm markers (and single exclamation marks, smileys) minus cold ones, per 20 words."""
    words = tokens(text)
    score = sum(w in _WARM for w in words) - sum(w in _COLD for w in words)
    score += min(2, len(_EXCLAIM.findall(text)) - 2 * len(_SHOUT.findall(text)))
    score += len(_EMOJI.findall(text))
    return score * 20 / max(20, len(words))


def changed(source: str, output: str) -> bool:
    """Whether the wording changed at all (case, spacing and punctuation ignored)."""
    return tokens(source) != tokens(output)


def problem(tone: ToneKind, source: str, output: str, *, english: bool = True) -> str | None:
    """Why `output` is not a `tone` rewrite of `source`, or None."""
    if not changed(source, output):
        return "returned the text unchanged"
    src_words, out_words = len(tokens(source)), len(tokens(output))
    if tone is ToneKind.CONCISE:
        if out_words <= CONCISE_RATIO * src_words or (
            src_words <= CONCISE_SHORT and out_words <= src_words
        ):
            return None
        return "not more concise"
    if not english:
        return None
    score = formality if tone is ToneKind.PROFESSIONAL else warmth
    before, after = score(source), score(output)
    # Already at the tone: keeping it while rewording is enough.
    at_tone = before >= 1.0 and after >= before - 0.25
    if after > before or at_tone:
        return None
    return f"no measurable {tone.value} shift"
