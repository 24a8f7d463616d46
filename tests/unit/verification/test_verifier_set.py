"""The verifiers on the labelled set (tests/eval/data/verifiers_*.jsonl): both error rates
stay under 5%, and the set keeps its size and its mix of cases."""

from __future__ import annotations

from collections import Counter

from services.rewriter.lints import LintChecker
from tests.eval import verifiers


def test_labelled_set_has_every_kind_of_case() -> None:
    cases = verifiers.load()
    assert len(cases) >= 150
    kinds = Counter(str(c["kind"]) for c in cases)
    for kind in verifiers.VERIFIER_OF_KIND:
        assert kinds[kind] >= 2, kind
    assert {c["expect"] for c in cases} == {"accept", "reject"}


def test_false_reject_and_false_accept_rates_stay_under_five_percent() -> None:
    checker = LintChecker()
    verdicts = [verifiers.judge(case, checker) for case in verifiers.load()]
    false_reject, false_accept, lines = verifiers.report(verdicts)
    detail = "\n".join(lines)
    assert false_reject < verifiers.TARGET, detail
    assert false_accept < verifiers.TARGET, detail
