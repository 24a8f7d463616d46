"""Fluency: a published text never repeats a sentence or a long phrase.

Small models loop: "Anna is late. Anna is late. Anna is late." passes every fact check, so
repetition is checked on its own. Word n-grams, not characters: a repeated name or a list of
similar items ("2 apples, 2 pears") is not a loop.
"""

from __future__ import annotations

from collections import Counter

from shared.verification.text import sentences, tokens

# Seven words repeated verbatim are a loop in one- or two-sentence outputs; six still occur
# in faithful summaries that name the same event twice ("... at 7 pm on Friday").
REPEATED_NGRAM = 7
# Sentences shorter than this many words ("Thanks.", "See you.") may legitimately repeat.
MIN_SENTENCE_WORDS = 3


def problem(text: str) -> str | None:
    """The first fluency problem of `text`, or None."""
    seen: set[tuple[str, ...]] = set()
    for sentence in sentences(text):
        words = tuple(tokens(sentence))
        if len(words) < MIN_SENTENCE_WORDS:
            continue
        if words in seen:
            return "repeats a sentence"
        seen.add(words)
    all_words = tokens(text)
    grams = Counter(
        tuple(all_words[i : i + REPEATED_NGRAM]) for i in range(len(all_words) - REPEATED_NGRAM + 1)
    )
    if grams and grams.most_common(1)[0][1] > 1:
        return f"repeats a phrase of {REPEATED_NGRAM} words"
    return None
