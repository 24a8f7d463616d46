"""Harper grammar lints, used as hints and checks, never as blind corrections.

Harper flags the right words, but its first suggestion is often wrong (tmrw -> "thaw"), so
the model's correction is preferred and a lint only (a) names the reason for an edit it
overlaps and (b) drives the conservative harper-only fallback, which applies a suggestion
only where it is unambiguous.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import harper

from services.rewriter.edits import Change, apply_changes, overlaps

log = logging.getLogger(__name__)

# Lint kinds whose first suggestion is mechanical enough to apply without a model.
_SAFE_KINDS = frozenset({"Capitalization", "Formatting", "Repetition", "Typo"})
# Spelling lints count as errors the proofread must not add.
SPELLING_KINDS = frozenset({"Spelling", "Typo"})


@dataclass(frozen=True)
class Hint:
    """One harper lint reduced to what the service needs."""

    start: int
    end: int
    kind: str
    reason: str
    suggestions: tuple[str, ...]
    removes: bool


class LintChecker:
    """A harper `Linter` shared by one process; harper's linter is not thread-safe."""

    def __init__(self, dialect: harper.Dialect = harper.Dialect.AMERICAN) -> None:
        self._linter = harper.Linter(dialect)
        self._lock = threading.Lock()

    def hints(self, text: str) -> list[Hint]:
        """Lints of `text` as plain-text (the user's text is not markdown)."""
        with self._lock:
            lints = self._linter.lint(text, language=harper.Language.PLAINTEXT)
        return [
            Hint(
                start=lint.span.start,
                end=lint.span.end,
                kind=lint.lint_kind,
                reason=lint.lint_kind_pretty.lower(),
                suggestions=tuple(s.replacement_text for s in lint.suggestions),
                removes=any(s.kind == harper.SuggestionKind.REMOVE for s in lint.suggestions),
            )
            for lint in lints
        ]

    def spelling_errors(self, text: str) -> int:
        """How many spelling/typo lints the text has."""
        return sum(1 for hint in self.hints(text) if hint.kind in SPELLING_KINDS)


class ReasonLookup:
    """Names a change's reason after the first lint that overlaps it (None if none does)."""

    def __init__(self, hints: list[Hint]) -> None:
        self._hints = hints

    def __call__(self, change: Change) -> str | None:
        for hint in self._hints:
            if overlaps(change.start, change.end, hint.start, hint.end):
                return hint.reason
        return None


def minimal_corrections(text: str, hints: list[Hint]) -> list[Change]:
    """Harper-only fixes that need no judgement: the fallback when the model cannot be trusted.

    A lint is applied only if its kind is mechanical (capitalisation, doubled words, stray
    spaces, known typos) or if it is a spelling lint with exactly one suggestion; overlapping
    lints are skipped so the changes stay independent.
    """
    changes: list[Change] = []
    last_end = -1
    for hint in sorted(hints, key=lambda h: h.start):
        if hint.start < last_end or not hint.suggestions:
            continue
        mechanical = hint.kind in _SAFE_KINDS and (
            hint.kind != "Capitalization" or _capitalizes(text[hint.start : hint.end], hint)
        )
        unambiguous = hint.kind == "Spelling" and len(hint.suggestions) == 1
        if not (mechanical or unambiguous):
            continue
        replacement = "" if hint.removes else hint.suggestions[0]
        changes.append(Change(hint.start, hint.end, text[hint.start : hint.end], replacement))
        last_end = hint.end
    if changes:
        log.debug("harper-only fallback applies %d of %d lints", len(changes), len(hints))
    return changes


def suggested_corrections(hints: list[Hint], text: str) -> list[Change]:
    """Harper's first suggestion for every lint that has one (non-overlapping).

    Bolder than `minimal_corrections`: a first suggestion is often right on learner text
    and sometimes a wrong guess ("tmrw" -> "thaw"), so this is only ever a candidate that
    the verifier must pass (its meaning-change check rejects a wrong word), never a fallback.
    """
    changes: list[Change] = []
    last_end = -1
    for hint in sorted(hints, key=lambda h: h.start):
        if hint.start < last_end or not hint.suggestions:
            continue
        if hint.kind == "Capitalization" and not _capitalizes(text[hint.start : hint.end], hint):
            continue  # "Sam" -> "SAM": an acronym guess, and the fact guards ignore case
        replacement = "" if hint.removes else hint.suggestions[0]
        changes.append(Change(hint.start, hint.end, text[hint.start : hint.end], replacement))
        last_end = hint.end
    return changes


def _capitalizes(original: str, hint: Hint) -> bool:
    """Whether a capitalization lint only raises first letters of words ("i" -> "I",
    "new york" -> "New York"). Harper also suggests acronyms for names ("Sam" -> "SAM"):
    that is a guess, not a mechanical fix."""
    words, suggested = original.split(" "), hint.suggestions[0].split(" ")
    return len(words) == len(suggested) and all(
        s == w[:1].upper() + w[1:] for w, s in zip(words, suggested, strict=True)
    )


def apply_minimal(text: str, hints: list[Hint]) -> str:
    """The text with `minimal_corrections` applied."""
    return apply_changes(text, minimal_corrections(text, hints))
