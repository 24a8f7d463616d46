"""The verifier: is this output a faithful result of the requested operation on this text?

Each guard returns a short reason when it rejects, so the router can escalate with it and
the audit record says why. The guards never trust the prompt: instructions hidden in the
user's text (prompt injection) are caught by what the output IS (wrong shape, wrong length,
facts that are not in the input, words unrelated to the input), not by what it says.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence

from schemas.rewrite import Tone, WritingOperation
from services.rewriter import policy, roles, shapes
from services.rewriter.edits import diff, edit_ratio
from shared.verification import (
    addressee,
    certainty,
    contradiction,
    fluency,
    leakage,
    polarity,
    questions,
    support,
    swaps,
)
from shared.verification import tone as tones
from shared.verification.facts import Entity, EntityKind, extract, words
from shared.verification.grounding import Sources
from shared.verification.text import STOPWORDS, respelt
from shared.verification.vocabulary import MONTHS, RELATIVE_DAYS, WEEKDAYS

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

# Every word the date extractor knows: a misspelling of one of them is not a new fact.
DATE_WORDS = frozenset((*MONTHS, *WEEKDAYS, *RELATIVE_DAYS))


def verify(
    operation: WritingOperation,
    tone: Tone | None,
    source: str,
    output: str,
    spelling_errors: SpellingCounter | None = None,
    *,
    instructions: Sequence[str] = (),
    examples: Sequence[str] = (),
    english: bool = True,
) -> str | None:
    """The first guard that rejects `output`, as a reason; None if every guard passes.

    `instructions` are the prompt texts the model saw (none of their phrases may reach the
    user); `examples` the worked examples it was shown; `english` says whether the English
    word lists of the tone check apply.
    """
    if not output.strip():
        return "empty output"
    checks: tuple[Callable[[], str | None], ...] = (
        lambda: leakage.problem(source, output, instructions, examples),
        lambda: _shape(operation, output),
        lambda: _length(operation, tone, source, output),
        lambda: _facts(operation, source, output),
        lambda: _roles(operation, source, output),
        lambda: _polarity(operation, source, output),
        lambda: _certainty(operation, source, output, english),
        lambda: _contradiction(operation, source, output),
        lambda: _questions(operation, source, output),
        lambda: _addressee(operation, source, output),
        lambda: _swaps(operation, source, output),
        lambda: _grounding(operation, source, output),
        lambda: _proofread_scope(operation, source, output, spelling_errors),
        lambda: _fluency(operation, source, output),
        lambda: _support(operation, source, output, english),
        lambda: _tone(operation, tone, source, output, english),
    )
    # Lazily, in order: the first rejection is the reason, and later checks cost nothing.
    return next((problem for check in checks if (problem := check()) is not None), None)


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
    short = len(words(source)) <= tones.CONCISE_SHORT
    if operation is WritingOperation.REWRITE and tone is Tone.CONCISE and short:
        bounds = policy.CONCISE_SHORT_BOUNDS
    src, out = len(source.strip()), len(output.strip())
    if bounds.allows(src, out):
        return None
    return (
        f"length out of bounds: {out} chars for {src} input chars "
        f"(allowed {bounds.min_ratio:g}-{bounds.max_ratio:g}x ±{bounds.slack_chars})"
    )


def _facts(operation: WritingOperation, source: str, output: str) -> str | None:
    """No invented fact; for a proofread or rewrite, no dropped one either.

    Facts are compared by meaning, not spelling (`shared.verification.facts`): "3pm" and
    "15:00", "Fri" and "Friday", "two" and "2", "$20" and "20 dollars" are the same fact.
    """
    if operation is WritingOperation.INSTRUCTION:
        return None  # a free-form instruction may ask for new facts; the remote tier owns it
    src_words, out_words = _known_words(source), _known_words(output)
    src_facts, out_facts = Sources.of([source]), Sources.of([output])
    by_grammar = _grammar_capitalised(output)
    invented = [
        e
        for e in extract(output)
        if not _grounded(e, src_facts, src_words)
        and not (e.kind is EntityKind.NAME and e.text in by_grammar)
    ]
    if operation is WritingOperation.PROOFREAD:
        # A proofread may fix a misspelt date or name ("tomorow" -> "tomorrow"): that is a
        # correction of an input word, not a new fact. Numbers get no such tolerance.
        # The misspelling must not itself be a valid date or name ("Tuesday" -> "Thursday").
        src_names = {w for e in extract(source) for w in e.text.lower().split()}
        misspelt = set(words(source)) - DATE_WORDS - src_names
        invented = [
            e
            for e in invented
            if e.kind not in (EntityKind.DATE, EntityKind.NAME)
            or not all(_misspelt_in(w, misspelt) for w in e.text.lower().split())
        ]
    if invented:
        return _fact_reason("invented", invented)
    if operation in policy.KEEPS_ALL_FACTS:
        src_grammar = _grammar_capitalised(source)
        dropped = [
            e
            for e in extract(source)
            if e.kind is not EntityKind.SPEAKER
            and not _grounded(e, out_facts, out_words)
            and not (e.kind is EntityKind.NAME and e.text in src_grammar)
        ]
        if dropped:
            return _fact_reason("dropped", dropped)
    return None


def _grounded(entity: Entity, facts: Sources, known: set[str]) -> bool:
    if entity.kind is EntityKind.NAME:
        # Word by word: a rewrite may reorder a capitalised run ("Monday Meeting Agenda" ->
        # "the agenda of Monday's meeting"); each word must still be there.
        parts = words(entity.text)
        # "wifi" and "Wi-Fi", "e-mail" and "email" are one word written two ways.
        if all(w in known for w in parts) or "".join(parts) in known:
            return True
        # "PR" and "pull request", "CV" and "curriculum vitae": an acronym written out.
        return entity.text.isupper() and len(parts) == 1 and _ACRONYM + parts[0] in known
    if entity.kind is EntityKind.NUMBER and (dotted := _DOTTED_TIME.fullmatch(entity.text)):
        # "7.45" in chat is a time as often as a number: either reading may survive.
        minutes = int(dotted.group(1)) * 60 + int(dotted.group(2))
        as_time = Entity(EntityKind.TIME, entity.text, frozenset({minutes, minutes + 720}))
        return facts.grounds(entity) or facts.grounds(as_time)
    return facts.grounds(entity)


_DOTTED_TIME = re.compile(r"([01]?\d|2[0-3])\.([0-5]\d)")
_ACRONYM = "acronym:"


def _known_words(text: str) -> set[str]:
    """The words of `text`, and the initials of each run of 2-5 content words in it (marked
    as acronyms), so that a name written as an acronym in one text and in full in the other
    is one name."""
    found = words(text)
    known = set(found)
    for size in range(2, 6):
        for i in range(len(found) - size + 1):
            run = found[i : i + size]
            if not any(w in STOPWORDS or not w.isalpha() for w in run):
                known.add(_ACRONYM + "".join(w[0] for w in run))
    return known


# A capitalised word at the start of a sentence, line, list item or table cell is
# capitalised for grammar ("| Item | Quantity |", "- Bring wine"), not because it names.
_LINE_START_WORD = re.compile(r"(?:^|[.!?:|\n#*•>]|\s-)\s*([A-Z][\w'’-]*)")


def _grammar_capitalised(text: str) -> set[str]:
    return {m.group(1) for m in _LINE_START_WORD.finditer(text)}


def _fact_reason(what: str, found: Sequence[Entity]) -> str:
    first = found[0]
    values = sorted({e.text for e in found if e.kind is first.kind})
    return f"{what} {first.kind.value}: {', '.join(values)}"


def _polarity(operation: WritingOperation, source: str, output: str) -> str | None:
    if operation not in policy.KEEPS_ALL_FACTS:
        return None  # a summary or list may leave out a negated detail with the rest of it
    return polarity.problem(source, output)


def _certainty(operation: WritingOperation, source: str, output: str, english: bool) -> str | None:
    if operation not in policy.KEEPS_ALL_FACTS or not english:
        return None  # a summary may leave a hedged detail out with the rest; English lists
    return certainty.problem(source, output)


def _contradiction(operation: WritingOperation, source: str, output: str) -> str | None:
    if operation is WritingOperation.INSTRUCTION:
        return None  # "make it sound like the shop is open" may ask for the opposite
    return contradiction.problem(source, output)


def _questions(operation: WritingOperation, source: str, output: str) -> str | None:
    if operation not in policy.KEEPS_ALL_FACTS:
        return None  # a summary reports a question ("Anna asks whether...") in its own words
    return questions.problem(source, output)


def _addressee(operation: WritingOperation, source: str, output: str) -> str | None:
    if operation not in policy.KEEPS_ALL_FACTS:
        return None  # a summary or list greets nobody; the leakage check covers chatter
    return addressee.problem(source, output)


def _swaps(operation: WritingOperation, source: str, output: str) -> str | None:
    if operation not in policy.KEEPS_ALL_FACTS:
        return None  # a summary's sentences restate several messages at once
    return swaps.problem(source, output)


def _fluency(operation: WritingOperation, source: str, output: str) -> str | None:
    if operation in (WritingOperation.TABLE, WritingOperation.LIST, WritingOperation.INSTRUCTION):
        return None  # rows and items repeat their labels by design
    if fluency.problem(source) is not None:
        return None  # the text repeats itself; a faithful output may too
    return fluency.problem(output)


def _support(operation: WritingOperation, source: str, output: str, english: bool) -> str | None:
    # Only tone rewrites: a proofread adds no sentence (its scope check), and the list,
    # table and summary operations are held to the whole-output grounding check.
    if operation is not WritingOperation.REWRITE or not english:
        return None  # the courtesy words a rewrite may add are listed for English only
    return support.problem(source, output)


def _tone(
    operation: WritingOperation, tone: Tone | None, source: str, output: str, english: bool
) -> str | None:
    if operation is not WritingOperation.REWRITE:
        return None
    kind = tones.ToneKind((tone or Tone.PROFESSIONAL).value)
    return tones.problem(kind, source, output, english=english)


def _shared(words: set[str], other: set[str], fuzzy: bool) -> int:
    """How many of `words` are in `other` (or, if fuzzy, close to a word of it)."""
    exact = words & other
    if not fuzzy:
        return len(exact)
    return len(exact) + sum(1 for w in words - exact if _misspelt_in(w, other - exact))


def _misspelt_in(word: str, words: set[str]) -> bool:
    return respelt(word, words, _SPELLING_SIMILARITY)


def _roles(operation: WritingOperation, source: str, output: str) -> str | None:
    """Who speaks to whom must not change: no new person, no swapped case of a person.

    "I owe you" -> "You owe me" keeps both persons but moves the first person from subject
    to object; that is the swap the small model produced on "professional" rewrites.
    """
    src, out = roles.roles(source), roles.roles(roles.without_formulas(output))
    introduced_persons = {p for p, _ in out} - {p for p, _ in src}
    # A tone rewrite may address the reader where the source did not ("Could you..."), and
    # may restore the "I" that chat drops ("cant make it" -> "I can't make it"); a proofread
    # adds no one, and a neutral text does not gain a writer ("I finished the report").
    if operation is not WritingOperation.PROOFREAD:
        introduced_persons.discard(roles.Person.SECOND)
        if tones.formality(source) < 0:
            introduced_persons.discard(roles.Person.FIRST)
    if introduced_persons:
        return f"speaker roles changed: output adds {', '.join(sorted(introduced_persons))} person"
    persons_in = {p for p, _ in src}
    persons_out = {p for p, _ in out}
    # "forgot my charger" -> "you forgot your charger": the writer is gone and the reader
    # has their deeds. Adding "you" is allowed only beside the writer, not instead of them.
    if persons_in == {roles.Person.FIRST} and persons_out == {roles.Person.SECOND}:
        return "speaker roles swapped: the writer's own words are put on the reader"
    for person in roles.Person:
        gained = {c for p, c in out - src if p is person and c is not roles.Case.ANY}
        lost = {c for p, c in src - out if p is person and c is not roles.Case.ANY}
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
    if operation is WritingOperation.REWRITE:
        # Courtesy and tone words are what a tone rewrite is asked to add ("Unfortunately,
        # I am unable to attend"); they say nothing about where the content came from.
        out -= support.TONE_STEMS
    if not src or not out:
        return None
    # A proofread fixes spellings and a rewrite expands chat spellings ("u", "pls", "sent"
    # for "send"), so there a close variant of a word counts as the word.
    fuzzy = operation in (WritingOperation.PROOFREAD, WritingOperation.REWRITE)
    supported = _shared(out, src, fuzzy) / len(out)
    coverage = _shared(src, out, fuzzy) / len(src)
    if supported < required.support:
        return f"not grounded in the input: {supported:.0%} of output words are from it"
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
    ratio = _rewritten_share(source, output)
    if ratio > policy.MAX_PROOFREAD_EDIT_RATIO:
        return f"rewrote instead of proofreading: {ratio:.0%} of words changed"
    if spelling_errors is not None and spelling_errors(output) > spelling_errors(source):
        return "introduced spelling errors"
    return _proofread_meaning(source, output)


# fmt: off
# Words a proofread may add, drop or swap without touching the meaning.
_FUNCTION_WORDS = _STOPWORDS | frozenset((
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "by", "with", "from", "as", "is",
    "are", "was", "were", "be", "been", "has", "have", "had", "do", "does", "did", "will",
    "would", "can", "could", "should", "shall", "may", "might", "must", "that", "which",
    "who", "whom", "whose", "than", "then", "there", "their", "they're", "its", "it's",
    "your", "you're", "were", "we're", "where", "too", "two", "under", "over", "into",
    "onto", "upon", "about", "and", "or", "but", "so", "not", "very", "much", "many",
    "more", "most", "some", "any", "this", "these", "those", "it", "he", "she", "they",
    "we", "i", "me", "him", "her", "them", "us", "my", "his", "our", "s", "t", "am",
))
# fmt: on
# How close a replacement word must be to the word it corrects ("finish" -> "finished").
_CORRECTION_SIMILARITY = 0.75


def _proofread_meaning(source: str, output: str) -> str | None:
    """A proofread corrects words; it does not replace them with other words.

    Each changed span's new content words must be a correction of a word it replaces: close
    in spelling ("recieve" -> "receive"), an expansion ("tmrw" -> "tomorrow"), or a word the
    text already has (a reordering). "undernearth" -> "under the earth" is none of these.
    """
    src_words = {w.lower() for w in _CONTENT_WORD.findall(source)}
    for change in diff(source, output):
        replaced = [w.lower() for w in _CONTENT_WORD.findall(change.original)]
        for word in (w.lower() for w in _CONTENT_WORD.findall(change.replacement)):
            if word in _FUNCTION_WORDS or word in src_words or word.isdigit():
                continue
            if not any(_corrects(old, word) for old in replaced):
                return "proofread changed the meaning of a word"
    return None


def _rewritten_share(source: str, output: str) -> float:
    """Share of the source's words a proofread replaced by something that is not their
    correction; case, punctuation and corrections ("u" -> "you") do not count."""
    src = [w.lower() for w in _CONTENT_WORD.findall(source)]
    out = [w.lower() for w in _CONTENT_WORD.findall(output)]
    if not src:
        return edit_ratio(source, output)
    changed = 0
    matcher = difflib.SequenceMatcher(a=src, b=out, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old, new = src[i1:i2], out[j1:j2]
        corrected = sum(1 for a, b in zip(old, new, strict=False) if _corrects(a, b))
        changed += max(len(old), len(new)) - corrected
    return changed / len(src)


def _corrects(old: str, new: str) -> bool:
    if difflib.SequenceMatcher(a=old, b=new).ratio() >= _CORRECTION_SIMILARITY:
        return True
    if new.startswith(old) or old.startswith(new):
        return True  # "gonna" -> "going", "finish" -> "finishing"
    letters = iter(new)
    return len(old) >= 2 and all(ch in letters for ch in old)  # "tmrw" -> "tomorrow"


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
