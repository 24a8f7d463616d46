"""Tokenising shared by the verifiers: sentences, words and crude stems."""

from __future__ import annotations

import difflib
import re

from shared.verification.facts import normalise_text

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# Sentence-level stopwords for alignment: words that carry no content of their own.
# fmt: off
STOPWORDS = frozenset((
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "both", "but", "by", "can", "could", "did", "do", "does",
    "for", "from", "had", "has", "have", "he", "her", "here", "him", "his", "how", "i", "if",
    "in", "into", "is", "it", "its", "just", "me", "my", "of", "on", "or", "our", "she",
    "so", "that", "the", "their", "them", "then", "there", "they", "this", "to", "too", "up",
    "us", "was", "we", "were", "what", "when", "which", "who", "will", "with", "would",
    "you", "your", "let", "get", "got", "really", "very", "please", "ok", "okay", "hi",
    "hey", "hello", "thanks", "thank", "yes", "yeah", "oh", "well", "now", "there", "should",
    "i'm", "i'll", "it's", "that's", "you're", "we're", "they're", "don't", "can't", "won't",
    "s", "t", "ll", "re", "ve", "d", "m",
))
# fmt: on


def sentences(text: str) -> list[str]:
    """Sentences split after . ! ? or at line breaks."""
    return [s.strip() for s in _SENTENCE_END.split(normalise_text(text)) if s.strip()]


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (any script), apostrophes folded."""
    return [w.lower() for w in _WORD.findall(normalise_text(text))]


def stem(word: str) -> str:
    """A crude English stem: enough to align "sent"/"send" is not its job, "sends"/"send" is."""
    word = word.removesuffix("'s")
    for suffix, replacement in (
        ("ies", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry content (stopwords dropped)."""
    return {stem(w) for w in tokens(text) if w not in STOPWORDS}


def respelt(word: str, words: set[str], cutoff: float) -> bool:
    """True if `word` is a respelling of one of `words` (difflib ratio >= `cutoff`).

    A proofread's "recieve" -> "receive" and a model's "Pleasee" are the same word; how close
    counts as the same depends on the check, hence the cutoff is the caller's.
    """
    return bool(difflib.get_close_matches(word, words, n=1, cutoff=cutoff))
