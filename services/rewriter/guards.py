"""The verifier: is this output a faithful result of the requested operation on this text?

Each guard returns a short reason when it rejects, so the router can escalate with it and
the audit record says why. The guards never trust the prompt: instructions hidden in the
user's text (prompt injection) are caught by what the output IS (wrong shape, wrong length,
facts that are not in the input, words unrelated to the input), not by what it says.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from schemas.rewrite import Tone, WritingOperation
from services.rewriter import entities, policy, shapes
from services.rewriter.edits import edit_ratio

_CONTENT_WORD = re.compile(r"[A-Za-z][A-Za-z'’]+|\d+")
# fmt: off
_STOPWORDS = frozenset((
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself",
    "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should",
    "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there",
    "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very",
    "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why",
    "will", "with", "would", "you", "your", "yours", "yourself", "let", "lets", "get", "got",
    "just", "really",
))
# fmt: on

# How close a word must be to an input word to count as its spelling correction
# ("tmrw" -> "tomorrow" is 0.67; "monday" -> "friday" is 0.5).
_SPELLING_SIMILARITY = 0.6

SpellingCounter = Callable[[str], int]


def verify(
    operation: WritingOperation,
    tone: Tone | None,
    source: str,
    output: str,
    spelling_errors: SpellingCounter | None = None,
) -> str | None:
    """The first guard that rejects `output`, as a reason; None if every guard passes."""
    if not output.strip():
        return "empty output"
    checks = (
        _shape(operation, output),
        _length(operation, tone, source, output),
        _facts(operation, source, output),
        _roles(source, output),
        _grounding(operation, source, output),
        _proofread_scope(operation, source, output, spelling_errors),
    )
    return next((problem for problem in checks if problem is not None), None)


def length_bounds(operation: WritingOperation, tone: Tone | None) -> policy.LengthBounds:
    """The length bounds of one operation (and tone, for rewrites)."""
    if operation is WritingOperation.PROOFREAD:
        return policy.PROOFREAD_BOUNDS
    if operation is WritingOperation.REWRITE:
        return policy.TONE_BOUNDS[tone or Tone.PROFESSIONAL]
    return policy.OPERATION_BOUNDS[operation]


def _shape(operation: WritingOperation, output: str) -> str | None:
    if operation in (WritingOperation.LIST, WritingOperation.KEY_POINTS):
        return shapes.list_problem(output)
    if operation is WritingOperation.TABLE:
        return shapes.table_problem(output)
    return None


def _length(operation: WritingOperation, tone: Tone | None, source: str, output: str) -> str | None:
    bounds = length_bounds(operation, tone)
    src, out = len(source.strip()), len(output.strip())
    if bounds.allows(src, out):
        return None
    return (
        f"length out of bounds: {out} chars for {src} input chars "
        f"(allowed {bounds.min_ratio:g}-{bounds.max_ratio:g}x ±{bounds.slack_chars})"
    )


def _facts(operation: WritingOperation, source: str, output: str) -> str | None:
    if operation is WritingOperation.INSTRUCTION:
        return None  # a free-form instruction may ask for new facts; the remote tier owns it
    src, out = entities.facts(source), entities.facts(output)
    src_words, out_words = entities.words_lower(source), entities.words_lower(output)
    invented: dict[str, set[str] | frozenset[str]] = {
        "number": out.numbers - src.numbers,
        "date": out.dates - src.dates,
        # Names are compared against every input word: a sentence-initial name is not
        # extracted as a name but is still in the input.
        "name": out.names - src_words,
    }
    if operation is WritingOperation.PROOFREAD:
        # A proofread may fix a misspelt date or name ("tomorow" -> "tomorrow"): that is a
        # correction of an input word, not a new fact. Numbers get no such tolerance.
        # The misspelling must not itself be a valid date or name ("Tuesday" -> "Thursday").
        misspelt = {
            "date": src_words - entities.DATE_WORDS,
            "name": src_words - src.names,
        }
        for kind, candidates in misspelt.items():
            invented[kind] = {v for v in invented[kind] if not _misspelt_in(v, candidates)}
    for kind, values in invented.items():
        if values:
            return f"invented {kind}: {', '.join(sorted(values))}"
    if operation in policy.KEEPS_ALL_FACTS:
        dropped = {
            "number": src.numbers - out.numbers,
            "date": src.dates - out.dates,
            "name": src.names - out_words,
        }
        for kind, values in dropped.items():
            if values:
                return f"dropped {kind}: {', '.join(sorted(values))}"
    return None


def _shared(words: set[str], other: set[str], fuzzy: bool) -> int:
    """How many of `words` are in `other` (or, if fuzzy, close to a word of it)."""
    exact = words & other
    if not fuzzy:
        return len(exact)
    return len(exact) + sum(1 for w in words - exact if _misspelt_in(w, other - exact))


def _misspelt_in(word: str, words: set[str]) -> bool:
    return bool(difflib.get_close_matches(word, words, n=1, cutoff=_SPELLING_SIMILARITY))


def _roles(source: str, output: str) -> str | None:
    """Who speaks to whom must not change: no new person, no swapped case of a person.

    "I owe you" -> "You owe me" keeps both persons but moves the first person from subject
    to object; that is the swap the small model produced on "professional" rewrites.
    """
    src, out = entities.facts(source).roles, entities.facts(output).roles
    introduced_persons = {p for p, _ in out} - {p for p, _ in src}
    if introduced_persons:
        return f"speaker roles changed: output adds {', '.join(sorted(introduced_persons))} person"
    for person in entities.Person:
        gained = {c for p, c in out - src if p is person and c is not entities.Case.ANY}
        lost = {c for p, c in src - out if p is person and c is not entities.Case.ANY}
        if gained and lost:
            return (
                f"speaker roles swapped: {person} person moved from "
                f"{', '.join(sorted(lost))} to {', '.join(sorted(gained))}"
            )
    return None


def _grounding(operation: WritingOperation, source: str, output: str) -> str | None:
    required = policy.GROUNDING[operation]
    if operation is WritingOperation.TABLE:
        output = shapes.strip_table_markup(output)
    src, out = content_words(source), content_words(output)
    if not src or not out:
        return None
    # A proofread fixes spellings, so there a close variant of a word counts as the word.
    fuzzy = operation is WritingOperation.PROOFREAD
    support = _shared(out, src, fuzzy) / len(out)
    coverage = _shared(src, out, fuzzy) / len(src)
    if support < required.support:
        return f"not grounded in the input: {support:.0%} of output words are from it"
    if coverage < required.coverage:
        return f"drops the input's content: keeps {coverage:.0%} of its words"
    return None


def _proofread_scope(
    operation: WritingOperation,
    source: str,
    output: str,
    spelling_errors: SpellingCounter | None,
) -> str | None:
    if operation is not WritingOperation.PROOFREAD:
        return None
    ratio = edit_ratio(source, output)
    if ratio > policy.MAX_PROOFREAD_EDIT_RATIO:
        return f"rewrote instead of proofreading: {ratio:.0%} of words changed"
    if spelling_errors is not None and spelling_errors(output) > spelling_errors(source):
        return "introduced spelling errors"
    return None


def content_words(text: str) -> set[str]:
    """Lower-cased, crudely stemmed words that carry content (stopwords dropped)."""
    words = (w.lower().replace("’", "'") for w in _CONTENT_WORD.findall(text))
    return {_stem(w) for w in words if w not in _STOPWORDS}


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word
