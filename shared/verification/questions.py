"""Questions: a rewrite asks what its source asks, and never answers it.

A small model given "did u get the slides? need them before 2" often replies to the message
instead of rewriting it ("Yes, I did get the slides.") or turns the question into a claim
("I got the slides."). Every fact survives both, so the fact checks pass; this check does
not. Requests are exempt from the "still a question" rule: "can u send the notes?" may
become "Please send me the notes." in a professional tone, and still asks.
"""

from __future__ import annotations

import re

from shared.verification.text import sentences, stem, tokens

# fmt: off
# Words that open a question asking for information (not a request for an action).
_ASKING = frozenset((
    "did", "do", "does", "is", "are", "was", "were", "have", "has", "had", "who", "what",
    "which", "when", "where", "why", "how", "whose", "didn't", "don't", "doesn't", "isn't",
    "aren't", "wasn't", "haven't", "hasn't", "didnt", "dont", "doesnt", "isnt", "arent",
))
# Words that open an answer to a question.
_ANSWERS = frozenset(("yes", "yeah", "yep", "no", "nope", "sure", "absolutely", "certainly"))
# fmt: on
# "Anna, can you send the deposit?" -> "Anna can send the deposit.": the asking order of
# the source ("can you") inverted to a statement ("Anna can", "you can"), with no "?" left.
_REQUEST = re.compile(
    r"(?:\b([A-Z][a-z]+),?\s+)?\b(?:can|could|will|would) (?:you|u)\b[^.!?\n]*\?",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]*\?")
_QUESTION_MARK = re.compile(r"[?？؟]")
# Words that make an imperative a request, in the languages the other checks know.
_POLITE = re.compile(
    r"\b(?:please|kindly|pls|plz|bitte|por favor|per favore|s'il (?:te|vous) pla[iî]t|"
    r"merci de|gentilmente|favor)\b",
    re.IGNORECASE,
)
# The action a request asks for: "can you send the deposit" -> "send".
_REQUEST_VERB = re.compile(
    r"\b(?:can|could|will|would) (?:you|u|someone|anyone|somebody|anybody)\s+"
    r"(?:(?:please|pls|plz|just|also|maybe|perhaps|still|possibly|kindly|quickly|really|"
    r"actually|finally)\s+)*([a-z]+)",
    re.IGNORECASE,
)
# A chat greeting before the question does not make it a statement ("hey, did u get...").
_GREETING = frozenset(("hey", "hi", "hello", "so", "ok", "okay", "btw", "also", "and", "but"))


def information_questions(text: str) -> list[str]:
    """The questions of `text` that ask for information rather than for an action."""
    found = []
    for match in _SENTENCE.finditer(text):
        # "Hi Lena, have you sent it?": the question may open after a salutation.
        for part in match.group(0).split(","):
            words = [w for w in tokens(part) if w not in _GREETING]
            if words and words[0] in _ASKING:
                found.append(match.group(0).strip())
                break
    return found


def problem(source: str, output: str) -> str | None:
    """Why `output` answers or drops a question of `source`, or None."""
    src_words, out_words = tokens(source), tokens(output)
    # Any script's question mark ("?", "？", "؟"), the same test on both sides.
    source_asks = _QUESTION_MARK.search(source) is not None
    output_asks = _QUESTION_MARK.search(output) is not None
    if source_asks and out_words and out_words[0] in _ANSWERS and src_words[:1] != out_words[:1]:
        return "answers the text instead of rewriting it"
    if information_questions(source) and not output_asks:
        return "a question became a statement"
    # "Please send it when you can." still asks: only an output with no request left in it
    # can have inverted one, or dropped one.
    if output_asks or _polite_request(source, output):
        return None
    for request in _REQUEST.finditer(source):
        addressee = "you" if request.group(1) is None else f"you|{re.escape(request.group(1))}"
        granted = rf"\b(?:{addressee}) (?:can|could|will|would)\b"
        if re.search(granted, output, re.IGNORECASE):
            return "a request became a statement"
    # "I won't be able to pick up the kids today, can you do it?" -> "I won't be able to pick
    # up the kids today.": the fact checks pass, and the one thing asked is gone. A polite
    # imperative still asks ("Please send me the notes.").
    if source_asks:
        return "drops a question of the text"
    return None


def _polite_request(source: str, output: str) -> bool:
    """Whether `output` asks with please (or its like) for what `source` asks.

    "Anna, can you send the deposit by Friday?" -> "Dear Anna, I'm sorry the deposit is not
    being sent by Friday. Please let me know if you need any assistance." (a real draft):
    the please belongs to an added courtesy line, and the request is gone. So when the text
    asks for an action, the polite sentence must name that action.
    """
    polite = [s for s in sentences(output) if _POLITE.search(s)]
    actions = {stem(m.group(1).lower()) for m in _REQUEST_VERB.finditer(source)}
    if not actions:
        return bool(polite)
    return any(actions & {stem(w) for w in tokens(s)} for s in polite)
