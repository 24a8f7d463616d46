"""Proofreading results: edits with spans into the original text, and the harper-only fallback."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.rewrite import Edit, WritingOperation, WritingResult
from services.rewriter import lints, policy
from services.rewriter.edits import Change, apply_changes, diff, reason_or_classified
from services.rewriter.sources import Proposal, RuleCorrector, Scored, Source, choose, score, unique

# The verifier on one corrected text: None when it passes, else the reason.
TextVerifier = Callable[[str], str | None]


@dataclass(frozen=True)
class ModelDraft:
    """One cleaned model candidate and whether it already passed the verifier."""

    text: str
    verified: bool


def best_verified(
    source: str,
    drafts: Sequence[ModelDraft],
    corrector: RuleCorrector,
    verify: TextVerifier,
    rule: str = policy.PROOFREAD_SCORE_RULE,
) -> Scored | None:
    """The best verified correction of `source` from every source and combination.

    The pool: the model's verified drafts, each draft (verified or not) polished by the rule
    checkers, and the rule checkers' own corrections of the source. Each is verified by the
    same guards as a model draft; None when nothing passes. Without drafts this is the
    rules-only proofread (the fallback when the model cannot be trusted).
    """
    proposals = [Proposal(d.text, (Source.MODEL,)) for d in drafts if d.verified]
    for text in dict.fromkeys(d.text for d in drafts):
        proposals.extend(corrector.proposals(text, (Source.MODEL,)))
    proposals.extend(corrector.proposals(source))
    verified_texts = {d.text for d in drafts if d.verified}
    passing = [
        p
        for p in unique(proposals)
        if p.text != source and (p.text in verified_texts or verify(p.text) is None)
    ]
    if not passing:
        return None
    return choose([score(source, p, corrector.findings(p.text)) for p in passing], rule)


def to_edits(source: str, corrected: str, hints: list[lints.Hint]) -> list[Edit]:
    """Edits that turn `source` into `corrected`, each with a reason.

    The reason is the overlapping harper lint's kind where there is one (harper knows why a
    word is wrong even when its own suggestion is not the right fix), else the diff's shape.
    """
    lookup = lints.ReasonLookup(hints)
    return [
        _edit(change, reason_or_classified(change, lookup)) for change in diff(source, corrected)
    ]


def result_of(source: str, corrected: str, hints: list[lints.Hint]) -> WritingResult:
    """The proofread result for a corrected text, with its edits."""
    return WritingResult(
        operation=WritingOperation.PROOFREAD,
        text=corrected,
        edits=to_edits(source, corrected, hints),
    )


def harper_only(source: str, hints: list[lints.Hint]) -> WritingResult:
    """The conservative fallback: only harper's unambiguous fixes (possibly none)."""
    changes = lints.minimal_corrections(source, hints)
    corrected = apply_changes(source, changes)
    # Recompute through the diff so the spans are word-level like every other proofread.
    return result_of(source, corrected, hints)


def _edit(change: Change, reason: str) -> Edit:
    return Edit(
        start=change.start,
        end=change.end,
        original=change.original,
        replacement=change.replacement,
        reason=reason,
    )
