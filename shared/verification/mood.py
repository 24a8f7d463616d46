"""Mood and polarity of a clause: asked, will, did, or a plain statement; negated or not.

A summary must keep both. "Can you send the deposit by Friday?" reported as "Anna sent the
deposit by Friday" turns a request into a done deed; "I won't make it" reported as "Bob will
make it" flips a negation. Both pass every fact check, so they are checked here, with word
lists rather than a parser: the clauses are short, and the lists are easy to audit.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import StrEnum

from shared.verification.text import tokens


class Mood(StrEnum):
    ASKED = "asked"  # a question or a request ("Can you...?", "Please send...", "asks you to")
    WILL = "will"  # a plan or a promise ("I'll send it", "is going to")
    DID = "did"  # a done deed ("sent", "has paid")
    STATE = "state"  # anything else ("is at home", "the table is booked")


@dataclass(frozen=True)
class Clause:
    mood: Mood
    negated: bool
    open_question: bool = False  # "Who is bringing the drinks?": asks, answers nothing


# fmt: off
_NEGATIONS = frozenset((
    "not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "cannot", "unable",
    "without", "don't", "doesn't", "didn't", "won't", "wouldn't", "can't", "couldn't",
    "isn't", "aren't", "wasn't", "weren't", "haven't", "hasn't", "hadn't", "shouldn't",
    "mustn't", "dont", "doesnt", "didnt", "wont", "cant", "couldnt", "isnt", "wasnt",
    "havent", "hasnt", "declined", "declines", "refused", "refuses", "failed", "fails",
    # "do n't": the clitic on its own, as tokenised text (and some dictation) writes it.
    "n't", "needn't", "shan't", "ain't", "weren't", "aint",
))
_REPORTED_PHRASES = ("would like", "wants to know", "wanted to know", "is asking")
# Set phrases whose negation word does not negate the message ("no worries" is a yes).
NEGATION_IDIOMS = (
    "no worries", "no problem", "not a problem", "no rush", "no hurry", "no need to worry",
    "don't worry", "dont worry", "don't hesitate", "dont hesitate", "no doubt",
    "not only", "if not", "or not", "whether or not", "no later than", "not later than",
    "can't wait", "cant wait", "cannot wait", "couldn't be happier", "no matter",
)
_REQUEST_OPENERS = (
    ("can", "you"), ("could", "you"), ("would", "you"), ("will", "you"), ("can", "u"),
    ("do", "you"), ("did", "you"), ("are", "you"), ("have", "you"), ("please",), ("pls",),
    ("plz",), ("kindly",), ("remember", "to"), ("don't", "forget"), ("dont", "forget"),
    ("could", "we"), ("can", "we"), ("shall", "we"), ("should", "we"), ("let's",), ("lets",),
    ("would", "it"), ("is", "it"), ("mind",), ("any", "chance"), ("i'd", "like"),
    ("i", "would", "like"), ("we'd", "like"), ("we", "would", "like"), ("could", "i"),
    ("can", "i"), ("may", "i"), ("i", "need", "you"), ("need", "you"),
)
_WH_WORDS = frozenset(("who", "what", "which", "when", "where", "whose", "whom"))
# Anywhere in a sentence, these make it a request ("order for me please").
_REQUEST_WORDS = frozenset(("please", "pls", "plz", "kindly"))
_REPORTED_REQUEST = frozenset((
    "ask", "asks", "asked", "asking", "want", "wants", "wanted", "request", "requests",
    "requested", "remind", "reminds", "reminded", "invite", "invites", "invited", "suggest",
    "suggests", "suggested", "wonder", "wonders", "wondered", "propose", "proposes",
    "proposed", "urge", "urges", "urged", "needs", "questions", "enquires", "inquires",
    "checks", "checking", "whether",
))
_FUTURE = frozenset((
    "will", "shall", "gonna", "i'll", "we'll", "he'll", "she'll", "they'll", "you'll",
    "it'll", "plan", "plans", "planning", "intend", "intends", "promise", "promises",
    "promised", "offer", "offers", "offered",
))
# Irregular past forms that messages use most, and their base forms (for alignment too).
IRREGULAR_PAST = {
    "sent": "send", "paid": "pay", "bought": "buy", "went": "go", "made": "make",
    "took": "take", "gave": "give", "got": "get", "told": "tell", "said": "say",
    "left": "leave", "met": "meet", "brought": "bring", "found": "find", "came": "come",
    "saw": "see", "ran": "run", "wrote": "write", "forgot": "forget", "lost": "lose",
    "won": "win", "sold": "sell", "kept": "keep", "held": "hold", "spent": "spend",
    "built": "build", "caught": "catch", "chose": "choose", "drove": "drive", "ate": "eat",
    "fell": "fall", "felt": "feel", "flew": "fly", "heard": "hear", "knew": "know",
    "led": "lead", "read": "read", "rang": "ring", "set": "set", "shut": "shut",
    "sang": "sing", "sat": "sit", "slept": "sleep", "spoke": "speak", "stood": "stand",
    "taught": "teach", "thought": "think", "threw": "throw", "understood": "understand",
    "woke": "wake", "wore": "wear", "did": "do", "had": "have", "was": "be", "were": "be",
    "became": "become", "began": "begin", "broke": "break", "done": "do", "gone": "go",
    "seen": "see", "taken": "take", "given": "give", "written": "write", "shipped": "ship",
    "dropped": "drop", "planned": "plan", "stopped": "stop", "arrived": "arrive",
}
# -ed words that are adjectives or states far more often than deeds.
_NOT_DEEDS = frozenset((
    "need", "needed", "interested", "tired", "excited", "bored", "worried", "scared",
    "married", "supposed", "used", "based", "detailed", "limited", "related", "red", "bed",
    "speed", "seed", "feed", "shed", "wed", "led", "indeed", "hundred", "sacred", "wicked",
    "naked", "ragged", "rugged", "beloved", "learned", "aged", "bred", "fed",
    "ted", "ned", "fred", "ed", "shred", "sled", "embed", "embedded", "unlimited",
    "expected", "scheduled", "delayed", "required", "allowed", "advised", "closed",
))
# A perfect or passive auxiliary before a participle: "has paid", "was sent".
_PERFECT = frozenset(("has", "have", "had", "'ve", "'s"))
# fmt: on
_IDIOM_PATTERN = re.compile(
    "|".join(rf"\b{re.escape(p)}\b" for p in NEGATION_IDIOMS), re.IGNORECASE
)


def negation_count(text: str) -> int:
    """How many negation words `text` has outside set phrases."""
    plain = _IDIOM_PATTERN.sub(" ", text.replace("\u2019", "'"))
    return sum(1 for w in tokens(plain) if _is_negation(w))


# Negations as learners and fast typists write them ("doens't", "dosen't", "donnot",
# "didnot"): a proofread that corrects one to "doesn't" neither adds nor drops a negation.
_MISSPELT_NEGATION = re.compile(
    r"(?:do|does|doe|dose|did|is|are|was|were|have|has|had|could|would|should|can|wo|must|"
    r"need)n+o?t"
)


def _is_negation(word: str) -> bool:
    if word in _NEGATIONS or bool(_MISSPELT_NEGATION.fullmatch(word)):
        return True
    # "doesn't" misspelt keeps its n and its 't: "doens't", "dosen't", "didn't't".
    return word.endswith("'t") and "n" in word[-5:-2]


def negated(text: str) -> bool:
    """Whether `text` contains a negation that is not part of a set phrase."""
    return negation_count(text) > 0


def is_past(word: str) -> bool:
    """Whether `word` reads as a past-tense deed ("sent", "booked", "cancelled")."""
    if word in IRREGULAR_PAST:
        return word not in ("read", "set", "shut", "had", "was", "were", "did", "done")
    return word.endswith("ed") and len(word) > 4 and word not in _NOT_DEEDS


def source_clause(sentence: str) -> Clause:
    """The mood of one sentence of a message (as its writer meant it)."""
    words = tokens(sentence)
    neg = negated(sentence)
    asks = _opens_request(words) or any(w in _REQUEST_WORDS for w in words)
    if sentence.rstrip().endswith("?") or asks:
        wh = bool(words) and words[0].removesuffix("'s") in _WH_WORDS
        return Clause(Mood.ASKED, neg, open_question=wh)
    if any(w in _FUTURE for w in words) or _going_to(words):
        return Clause(Mood.WILL, neg)
    if any(is_past(w) for w in words) or _has_perfect(words):
        return Clause(Mood.DID, neg)
    return Clause(Mood.STATE, neg)


def summary_clause(clause: str) -> Clause:
    """The mood a summary clause reports ("Anna asks you to...", "Bob sent...")."""
    words = tokens(clause)
    neg = negated(clause)
    lower = clause.lower()
    reported = any(w in _REPORTED_REQUEST for w in words)
    if reported or any(p in lower for p in _REPORTED_PHRASES) or lower.rstrip().endswith("?"):
        return Clause(Mood.ASKED, neg)
    if any(w in _FUTURE for w in words) or _going_to(words):
        return Clause(Mood.WILL, neg)
    if any(is_past(w) for w in words) or _has_perfect(words):
        return Clause(Mood.DID, neg)
    return Clause(Mood.STATE, neg)


def conflict(summary: Clause, source: Clause) -> str | None:
    """Why a summary clause misreports its source sentence, or None."""
    if summary.mood is Mood.DID and not summary.negated:
        if source.mood is Mood.ASKED:
            return "reports a request as done"
        if source.mood is Mood.WILL:
            return "reports a plan as done"
    if summary.mood in (Mood.DID, Mood.WILL) and source.open_question:
        return "reports a question as its answer"
    if source.mood is Mood.ASKED or summary.mood is Mood.ASKED:
        # A question's polarity is rhetorical ("Can't you come?"); a reported request may
        # paraphrase it either way ("asks whether you can come").
        return None
    if summary.negated != source.negated:
        return "drops a negation" if source.negated else "adds a negation"
    return None


def deeds(clause: str) -> list[str]:
    """The past-tense verbs of a clause, as base forms ("ordered" -> "order")."""
    found = []
    for word in tokens(clause):
        if is_past(word):
            base = IRREGULAR_PAST.get(word)
            found.append(base if base else word.removesuffix("ed"))
    return found


# Verbs whose bare form opening a sentence is an instruction to the reader: "Reply C to
# confirm", "Use lot C", "Call me when you land". Their deed is asked for, not done.
# fmt: off
_IMPERATIVES = frozenset((
    "reply", "respond", "call", "text", "send", "pay", "confirm", "click", "tap", "book",
    "bring", "check", "sign", "submit", "review", "visit", "contact", "enter", "use", "verify",
    "complete", "join", "update", "download", "install", "return", "cancel", "choose",
    "select", "forward", "share", "pick", "grab", "buy", "order", "fill", "register", "renew",
    "schedule", "reschedule", "tell", "remind", "collect", "transfer",
))
# fmt: on
_SALUTATIONS = frozenset(("hi", "hey", "hello", "dear", "ok", "okay", "so"))


def _opens_request(words: list[str]) -> bool:
    # "Reply C to confirm": an imperative at the start, or after a greeting ("Hi, call me").
    start = 1 if words[:1] and words[0] in _SALUTATIONS else 0
    if len(words) > start and words[start] in _IMPERATIVES:
        return True
    # Greetings and names before the request: "Hi Anna, can you...".
    for start in range(min(3, len(words))):
        rest = words[start:]
        if any(tuple(rest[: len(opener)]) == opener for opener in _REQUEST_OPENERS):
            return True
    return False


def _going_to(words: list[str]) -> bool:
    return any(
        words[i] == "going" and words[i + 1] == "to" and i + 2 < len(words)
        for i in range(len(words) - 1)
    )


def _has_perfect(words: list[str]) -> bool:
    return any(
        a in _PERFECT and (is_past(b) or b in IRREGULAR_PAST) for a, b in itertools.pairwise(words)
    )
