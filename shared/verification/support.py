"""Support: every sentence of a rewrite must come from the text it rewrites.

The fact checks catch a new name or number, the grounding check a rewrite whose words are
mostly new. Neither sees one invented sentence inside an otherwise faithful rewrite: "I am
writing to express my concern and request that you take action to address this matter."
appended to an e-mail about a late invoice has no fact to check and is a small share of the
words. Here each sentence is checked on its own: a sentence with several content words of
which at most one is in the source (after the words a tone may add: courtesy, warmth,
formality) is invented.

Lexical on purpose: a paraphrase keeps its nouns ("Friday", "invoice", "deposit"), and a
threshold loose enough to pass "Unfortunately, I'm unable to attend on Friday due to a
prior commitment." for "cant make it friday, something came up" still stops sentences that
share nothing with the text. Courtesy vocabulary is English; other languages are not checked.
"""

from __future__ import annotations

from shared.verification import tone
from shared.verification.text import STOPWORDS, respelt, sentences, stem, tokens

# A sentence with fewer new content words than this is courtesy or connective tissue
# ("I hope this helps.", "Let me know."), however few of them the source has.
MIN_CONTENT_WORDS = 4
# At most this many of them may come from the source for the sentence to count as invented.
MAX_SUPPORTED = 1
# How close a word must be to a source word to be its respelling ("tmrw" is a stopword-free
# chat spelling of "tomorrow" at 0.67; "meeting"/"meetings" are one stem anyway).
_RESPELLING = 0.75

# fmt: off
# Words a tone rewrite adds without adding content: greetings, thanks, hopes, offers of help,
# apologies, sign-offs, and the verbs and nouns they are built from.
_COURTESY = frozenset((
    "hope", "hoping", "message", "messages", "find", "finds", "finding", "well", "great",
    "good", "nice", "lovely", "wonderful", "day", "evening", "morning", "afternoon", "know",
    "question", "questions", "reach", "reaching", "feel", "free", "look", "looking", "forward",
    "hear", "hearing", "help", "helps", "helpful", "understanding", "patience", "wish",
    "wishes", "best", "regards", "kind", "kindly", "warm", "warmly", "writing", "write",
    "touch", "contact", "hesitate", "happy", "sure", "absolutely", "definitely", "quick",
    "quickly", "reminder", "remind", "heads", "thought", "wanted", "want", "share", "sharing",
    "soon", "time", "attention", "consideration", "cooperation", "support", "note", "let",
    "letting", "everyone", "team", "all", "dear", "hi", "hello", "hey", "thanks", "thank",
    "much", "appreciate", "appreciated", "appreciation", "apologies", "apologize", "apologise",
    "sorry", "inconvenience", "caused", "cause", "understand", "mind", "thing", "things",
    "need", "needs", "anything", "else", "way", "keep", "posted", "updated",
    "update", "updates", "assistance", "assist", "further", "information", "concerns",
    "welcome", "fun", "enjoy", "excited", "see", "talk", "chat", "catch", "later", "again",
    "really", "truly", "sincerely", "greatly", "regarding", "concerning", "quite", "bit",
    "little", "lot", "lots", "awesome", "cheers", "care", "take", "safe", "stay",
))
# fmt: on
TONE_WORDS = frozenset(
    w
    for group in (tone.FORMAL_WORDS, tone.WARM_WORDS, tone.INFORMAL_WORDS, _COURTESY)
    for w in group
)
TONE_STEMS = frozenset(stem(w) for w in TONE_WORDS)


def problem(source: str, output: str) -> str | None:
    """Why a sentence of `output` is not supported by `source`, or None.

    The reason names no words of either text: reasons reach logs and audit records.
    """
    known = _stems(source)
    for sentence in sentences(output):
        new = _stems(sentence) - TONE_STEMS
        if len(new) < MIN_CONTENT_WORDS:
            continue
        supported = sum(1 for s in new if s in known or _respelt(s, known))
        if supported <= MAX_SUPPORTED:
            return (
                f"adds a sentence the text does not support ({supported} of its "
                f"{len(new)} content words are from the text)"
            )
    return None


def _stems(text: str) -> set[str]:
    return {stem(w) for w in tokens(text) if w not in STOPWORDS}


def _respelt(word: str, known: set[str]) -> bool:
    return len(word) > 3 and respelt(word, known, _RESPELLING)
