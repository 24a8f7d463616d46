"""Who speaks to whom: the pronoun roles a rewrite must keep.

"I owe you" -> "You owe me" keeps every fact and swaps the writer and the reader; the
rewriter's role guard compares these roles of the input and the output. Facts (numbers,
dates, names) are compared by `shared.verification.facts`.
"""

from __future__ import annotations

import re
from enum import StrEnum

_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")


class Person(StrEnum):
    FIRST = "first"
    SECOND = "second"


class Case(StrEnum):
    SUBJECT = "subject"
    OBJECT = "object"
    POSSESSIVE = "possessive"
    ANY = "any"  # "you" is both subject and object


_PRONOUNS: dict[str, tuple[Person, Case]] = {
    "i": (Person.FIRST, Case.SUBJECT),
    "we": (Person.FIRST, Case.SUBJECT),
    "me": (Person.FIRST, Case.OBJECT),
    "us": (Person.FIRST, Case.OBJECT),
    "my": (Person.FIRST, Case.POSSESSIVE),
    "mine": (Person.FIRST, Case.POSSESSIVE),
    "our": (Person.FIRST, Case.POSSESSIVE),
    "ours": (Person.FIRST, Case.POSSESSIVE),
    "you": (Person.SECOND, Case.ANY),
    "your": (Person.SECOND, Case.POSSESSIVE),
    "yours": (Person.SECOND, Case.POSSESSIVE),
}
_CONTRACTIONS = {"i'm": "i", "i'll": "i", "i've": "i", "i'd": "i", "we're": "we",
                 "we'll": "we", "we've": "we", "we'd": "we", "you're": "you",
                 "you'll": "you", "you've": "you", "you'd": "you",
                 # Chat spellings: "u" is "you" as much as "you" is.
                 "u": "you", "ur": "your", "im": "i", "ive": "i"}  # fmt: skip


def roles(text: str) -> frozenset[tuple[Person, Case]]:
    """The (person, case) pairs the pronouns of `text` take."""
    found: set[tuple[Person, Case]] = set()
    for word in _WORD.findall(text):
        lower = word.lower().replace("’", "'")
        role = _PRONOUNS.get(_CONTRACTIONS.get(lower, lower))
        if role is not None:
            found.add(role)
    return frozenset(found)


# Courtesy formulas a tone rewrite adds ("let me know", "if you have any questions"): they
# name the writer or the reader without changing who does what to whom.
_FORMULAS = re.compile(
    r"\b(?:please )?(?:let (?:me|us) know|feel free to (?:reach out|contact (?:me|us))|"
    r"(?:do not|don't) hesitate to (?:contact|reach) (?:me|us)|if you have any (?:questions|"
    r"concerns)|(?:i )?hope (?:you are|you're|that works for you|this helps)|thank you|"
    r"thanks (?:so much|a lot)?|see you (?:then|soon|there)|i appreciate it|"
    # Hopes, apologies and thanks of the writer: courtesy, not a deed of the writer.
    r"(?:i|we) (?:hope|wish) (?:you|everyone|all)\b|(?:i|we) (?:just )?wanted to let you know|"
    r"(?:i|we) (?:(?:truly|really|greatly) )?appreciate (?:your|it|you)\b|"
    r"(?:i|we) apologi[sz]e for (?:any|the) inconvenience)\b",
    re.IGNORECASE,
)


def without_formulas(text: str) -> str:
    """`text` with its courtesy formulas blanked, for the role comparison."""
    return _FORMULAS.sub(" ", text)
