"""Proofreading edits with harper reasons, and the harper-only fallback."""

from __future__ import annotations

import itertools

from schemas.rewrite import Edit, WritingOperation
from services.rewriter.edits import Change, apply_changes
from services.rewriter.lints import LintChecker, minimal_corrections
from services.rewriter.proofread import harper_only, to_edits

SOURCE = "i will see you tmrw at teh office, their is a problem with the the printer."
CORRECTED = "I will see you tomorrow at the office; there is a problem with the printer."


def _apply(source: str, edits: list[Edit]) -> str:
    return apply_changes(source, [Change(e.start, e.end, e.original, e.replacement) for e in edits])


def test_edits_index_the_original_and_reproduce_the_correction(checker: LintChecker) -> None:
    edits = to_edits(SOURCE, CORRECTED, checker.hints(SOURCE))
    for edit in edits:
        assert SOURCE[edit.start : edit.end] == edit.original
    assert _apply(SOURCE, edits) == CORRECTED


def test_reasons_come_from_overlapping_lints_else_from_the_diff(checker: LintChecker) -> None:
    edits = {
        e.original.strip(): e.reason for e in to_edits(SOURCE, CORRECTED, checker.hints(SOURCE))
    }
    # Harper flags these words; its reason is used even though its own suggestion for
    # "tmrw" ("thaw") is not the correction the model made.
    assert edits["i"] == "capitalization"
    assert edits["tmrw"] == "spelling"
    assert edits["their"] == "grammar"
    # No lint covers the comma -> semicolon change: the diff's shape names it.
    assert edits[","] == "punctuation"


def test_harper_only_applies_unambiguous_fixes_and_skips_guesses(checker: LintChecker) -> None:
    hints = checker.hints(SOURCE)
    result = harper_only(SOURCE, hints)
    assert result.operation is WritingOperation.PROOFREAD
    assert result.text.startswith("I will see you tmrw at the office")  # "thaw" not applied
    assert "the the" not in result.text
    assert _apply(SOURCE, result.edits) == result.text


def test_harper_only_changes_are_independent(checker: LintChecker) -> None:
    text = "teh teh cat sat on on the mat"
    changes = minimal_corrections(text, checker.hints(text))
    spans = sorted((c.start, c.end) for c in changes)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_clean_text_has_no_edits(checker: LintChecker) -> None:
    text = "The meeting is on Friday at noon."
    assert checker.hints(text) == []
    assert harper_only(text, []).edits == []
    assert to_edits(text, text, []) == []


def test_harper_only_raises_first_letters_but_never_guesses_acronyms(
    checker: LintChecker,
) -> None:
    # Harper suggests "SAM" for the name "Sam"; an acronym is a guess, not a mechanical fix.
    text = "Hi Sam, i will be in new york on the the weekend."
    result = harper_only(text, checker.hints(text))
    assert result.text == "Hi Sam, I will be in New York on the weekend."
