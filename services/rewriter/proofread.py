"""Proofreading results: edits with spans into the original text, and the harper-only fallback."""

from __future__ import annotations

from schemas.rewrite import Edit, WritingOperation, WritingResult
from services.rewriter import lints
from services.rewriter.edits import Change, apply_changes, diff, reason_or_classified


def to_edits(source: str, corrected: str, hints: list[lints.Hint]) -> list[Edit]:
    """Edits that turn `source` into `corrected`, each with a reason.

    The reason is the overlapping harper lint's kind where there is one (harper knows why a
    word is wrong even when its own suggestion is not the right fix), else the diff's shape.
    """
    lookup = lints.ReasonLookup(hints)
    return [
        _edit(change, reason_or_classified(change, lookup)) for change in diff(source, corrected)
    ]


def harper_only(source: str, hints: list[lints.Hint]) -> WritingResult:
    """The conservative fallback: only harper's unambiguous fixes (possibly none)."""
    changes = lints.minimal_corrections(source, hints)
    corrected = apply_changes(source, changes)
    # Recompute through the diff so the spans are word-level like every other proofread.
    return WritingResult(
        operation=WritingOperation.PROOFREAD,
        text=corrected,
        edits=to_edits(source, corrected, hints),
    )


def _edit(change: Change, reason: str) -> Edit:
    return Edit(
        start=change.start,
        end=change.end,
        original=change.original,
        replacement=change.replacement,
        reason=reason,
    )
