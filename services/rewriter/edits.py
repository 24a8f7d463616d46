"""Proofreading edits: a word-level diff between the input and the corrected text.

The text is cut into tokens that cover it completely (words, single punctuation marks and
whitespace runs), so every diff hunk maps to an exact character span of the ORIGINAL text,
and applying the edits right to left reproduces the corrected text byte for byte.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Words keep inner apostrophes and hyphens ("don't", "e-mail"); anything else that is not a
# space is one punctuation token; whitespace runs are tokens too so the cover is exact.
_TOKEN = re.compile(r"\w+(?:['’-]\w+)*|\s+|[^\w\s]")


@dataclass(frozen=True)
class Token:
    """A token and its character span in the text it came from."""

    text: str
    start: int
    end: int

    @property
    def is_space(self) -> bool:
        return self.text.isspace()


@dataclass(frozen=True)
class Change:
    """One diff hunk: `source[start:end]` became `replacement`."""

    start: int
    end: int
    original: str
    replacement: str


def tokenize(text: str) -> list[Token]:
    """Tokens covering `text` completely, in order."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def diff(source: str, target: str) -> list[Change]:
    """Word-level changes that turn `source` into `target`, ordered by position."""
    src, tgt = tokenize(source), tokenize(target)
    matcher = difflib.SequenceMatcher(
        a=[t.text for t in src], b=[t.text for t in tgt], autojunk=False
    )
    changes: list[Change] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        # An insertion sits at the start of the token it precedes (or at the very end).
        start = src[i1].start if i1 < len(src) else len(source)
        end = src[i2 - 1].end if i2 > i1 else start
        changes.append(
            Change(
                start=start,
                end=end,
                original=source[start:end],
                replacement="".join(t.text for t in tgt[j1:j2]),
            )
        )
    return changes


def apply_changes(source: str, changes: Sequence[Change]) -> str:
    """Apply non-overlapping changes (any order) to `source`."""
    out = source
    for change in sorted(changes, key=lambda c: c.start, reverse=True):
        out = out[: change.start] + change.replacement + out[change.end :]
    return out


def edit_ratio(source: str, target: str) -> float:
    """Share of the source's words that the target changed or dropped, plus inserted words.

    Whitespace-only differences do not count: "word ." vs "word." is not a rewrite.
    """
    src = [t.text for t in tokenize(source) if not t.is_space]
    tgt = [t.text for t in tokenize(target) if not t.is_space]
    if not src:
        return 0.0 if not tgt else 1.0
    matcher = difflib.SequenceMatcher(a=src, b=tgt, autojunk=False)
    changed = sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )
    return changed / len(src)


def classify(original: str, replacement: str) -> str:
    """A generic reason for a change, from its shape alone (used when no lint explains it)."""
    a, b = original.strip(), replacement.strip()
    if a == b:
        return "spacing"
    if a.lower() == b.lower():
        return "capitalization"
    if not _has_word(a) and not _has_word(b):
        return "punctuation"
    if _strip_punct(a) == _strip_punct(b):
        return "punctuation"
    words_a, words_b = _words(a), _words(b)
    if (
        len(words_a) == len(words_b) == 1
        and difflib.SequenceMatcher(a=words_a[0].lower(), b=words_b[0].lower()).ratio() >= 0.6
    ):
        return "spelling"
    return "grammar"


def overlaps(start: int, end: int, other_start: int, other_end: int) -> bool:
    """Whether two half-open spans touch; an empty span counts at its position."""
    if start == end:
        return other_start <= start <= other_end
    if other_start == other_end:
        return start <= other_start <= end
    return start < other_end and other_start < end


ReasonFor = Callable[[Change], str | None]


def reason_or_classified(change: Change, reason_for: ReasonFor | None) -> str:
    """The lint's reason where one explains the change, else the diff's classification."""
    found = reason_for(change) if reason_for is not None else None
    return found or classify(change.original, change.replacement)


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _strip_punct(text: str) -> str:
    return " ".join("".join(ch for ch in text if ch.isalnum() or ch.isspace()).split())


def _words(text: str) -> list[str]:
    return [t.text for t in tokenize(text) if t.text[0].isalnum() or t.text[0] == "_"]
