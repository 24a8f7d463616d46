"""Proofreading from several sources: real quire-grammar (rules and its ONNX tagger), real
harper, the real guards; the best verified correction per sentence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from quire_grammar import model as quire_model

from schemas.rewrite import WritingOperation
from services.rewriter import guards, proofread
from services.rewriter.edits import Change, apply_changes
from services.rewriter.lints import LintChecker
from services.rewriter.sources import (
    SCORE_RULES,
    Findings,
    Proposal,
    RuleCorrector,
    Scored,
    Source,
    choose,
)

AGREEMENT = "They was going to there own house with the the dog."
TYPOS = "I will see you tmrw at teh office, their is a problem."


@pytest.fixture(scope="module")
def corrector(checker: LintChecker) -> RuleCorrector:
    return RuleCorrector(checker)


def _verifier(checker: LintChecker, source: str) -> proofread.TextVerifier:
    def verify(text: str) -> str | None:
        return guards.verify(
            WritingOperation.PROOFREAD, None, source, text, checker.spelling_errors
        )

    return verify


def test_quire_tagger_is_loaded_and_fixes_what_harper_leaves(
    corrector: RuleCorrector, checker: LintChecker
) -> None:
    assert quire_model.is_available()  # the pinned tagger, not quire's silent rules-only mode
    assert corrector.quire(AGREEMENT) == "They were going to their own house with the dog."
    # harper alone only removes the doubled word
    assert corrector.harper(AGREEMENT) == "They was going to there own house with the dog."
    assert corrector.findings(AGREEMENT).quire >= 2
    assert corrector.findings(corrector.quire(AGREEMENT)) == Findings(0, 0, 0)


def test_proposals_chain_the_sources_and_leave_out_no_ops(corrector: RuleCorrector) -> None:
    proposals = corrector.proposals(TYPOS)
    by_sources = {p.sources: p.text for p in proposals}
    assert by_sources[(Source.QUIRE,)] == "I will see you tmrw at teh office, there is a problem."
    assert by_sources[(Source.HARPER,)] == "I will see you tmrw at the office, their is a problem."
    chained = by_sources[(Source.QUIRE, Source.HARPER)]
    assert chained == "I will see you tmrw at the office, there is a problem."
    assert all(p.text != TYPOS for p in proposals)
    assert len({p.text for p in proposals}) == len(proposals)
    clean = "The meeting is on Friday at noon."
    assert corrector.proposals(clean) == []


def test_rules_only_best_is_the_verified_combination(
    corrector: RuleCorrector, checker: LintChecker
) -> None:
    best = proofread.best_verified(TYPOS, [], corrector, _verifier(checker, TYPOS))
    assert best is not None
    assert best.proposal.text == "I will see you tmrw at the office, there is a problem."
    assert best.proposal.sources == (Source.QUIRE, Source.HARPER)
    assert best.proposal.label() == "quire-grammar+harper-py"
    # harper's first suggestion for "tmrw" is "thaw": a candidate, rejected by the guards
    suggested = {p.text for p in corrector.proposals(TYPOS)}
    assert any("thaw" in text for text in suggested)
    assert "thaw" not in best.proposal.text
    assert guards.verify(WritingOperation.PROOFREAD, None, TYPOS, best.proposal.text) is None


def test_model_draft_polished_by_the_rules_beats_each_alone(
    corrector: RuleCorrector, checker: LintChecker
) -> None:
    # The model expands "tmrw" (no rule checker can) but misses "their is".
    draft = "I will see you tomorrow at the office, their is a problem."
    drafts = [proofread.ModelDraft(draft, verified=True)]
    best = proofread.best_verified(TYPOS, drafts, corrector, _verifier(checker, TYPOS))
    assert best is not None
    assert best.proposal.text == "I will see you tomorrow at the office, there is a problem."
    assert best.proposal.sources[0] is Source.MODEL and Source.QUIRE in best.proposal.sources
    assert best.proposal.label("qwen") == "qwen+quire-grammar"


def test_unverified_draft_is_never_served_unpolished(
    corrector: RuleCorrector, checker: LintChecker
) -> None:
    # A draft that changed a word's meaning: neither it nor its polish may win.
    draft = "I will see you tmrw at the house, their is a problem."
    drafts = [proofread.ModelDraft(draft, verified=False)]
    best = proofread.best_verified(TYPOS, drafts, corrector, _verifier(checker, TYPOS))
    assert best is not None
    assert "house" not in best.proposal.text
    assert Source.MODEL not in best.proposal.sources


def test_no_source_turns_a_name_into_an_acronym(
    corrector: RuleCorrector, checker: LintChecker
) -> None:
    # harper suggests "SAM" for "Sam"; its suggestions mode must not apply that guess
    text = "Hi Sam, i will be in new york on the the weekend."
    assert all("SAM" not in p.text for p in corrector.proposals(text))
    best = proofread.best_verified(text, [], corrector, _verifier(checker, text))
    assert best is not None and best.proposal.text.startswith("Hi Sam, I will")


def test_nothing_passes_gives_none(corrector: RuleCorrector) -> None:
    best = proofread.best_verified(TYPOS, [], corrector, lambda text: "rejected")
    assert best is None


def _scored(text: str, harper: int, edits: float, *sources: Source) -> Scored:
    return Scored(Proposal(text, sources), Findings(harper, 0, 0), edits)


def test_score_rules_rank_as_named() -> None:
    few_lints_many_edits = _scored("a", 0, 0.4, Source.MODEL)
    more_lints_few_edits = _scored("b", 1, 0.1, Source.HARPER)
    same_lints_fewer_edits = _scored("c", 0, 0.2, Source.QUIRE)
    pool = [few_lints_many_edits, more_lints_few_edits, same_lints_fewer_edits]
    assert choose(pool, "lints-then-fewest-edits") is same_lints_fewer_edits
    assert choose(pool, "lints-then-most-edits") is few_lints_many_edits
    assert choose(pool, "model-first") is few_lints_many_edits
    assert set(SCORE_RULES) >= {"lints-then-fewest-edits", "spelling-and-edits", "model-first"}
    # ties go to the earlier candidate (the model's greedy draft comes first)
    twin = _scored("d", 0, 0.2, Source.HARPER)
    assert choose([same_lints_fewer_edits, twin], "lints-then-fewest-edits") is (
        same_lints_fewer_edits
    )


# fmt: off
_WORDS = st.sampled_from([
    "they", "was", "there", "their", "teh", "the", "the", "a", "an", "apple", "tmrw", "i",
    "dont", "its", "it's", "better", "then", "than", "house", ",", ".", "going", "to", "too",
])
# fmt: on


# No deadline: quire's tagger shares 2 cores with the model tests.
@settings(deadline=None, max_examples=30)
@given(st.lists(_WORDS, min_size=1, max_size=14))
def test_any_combined_correction_keeps_the_edits_contract(
    corrector: RuleCorrector, checker: LintChecker, words: list[str]
) -> None:
    source = " ".join(words)
    best = proofread.best_verified(source, [], corrector, _verifier(checker, source))
    corrected = best.proposal.text if best is not None else source
    edits = proofread.to_edits(source, corrected, checker.hints(source))
    assert all(source[e.start : e.end] == e.original for e in edits)
    changes = [Change(e.start, e.end, e.original, e.replacement) for e in edits]
    assert apply_changes(source, changes) == corrected
