"""The verifiers against a labelled set: how often each rejects a right answer or passes a
wrong one.

    .venv/bin/python -m tests.eval.verifiers

tests/eval/data/verifiers_*.jsonl hold hand-written cases: a source (a text, or the messages
of a notification stack), an output, whether a careful reader would publish it, and the kind
of case (faithful rewrites that write numbers, dates and times another way; real drops and
inventions; swapped roles; requests reported as done; flipped negations; repetitions;
first-person leakage; prompt leakage). Each case runs through the production verifier of its
feature (the rewriter's guards with harper's spelling check, the summarizer's guard).

Rates: false reject = right answers rejected / right answers; false accept = wrong answers
published / wrong answers. Per verifier: false rejects are the right answers that verifier
rejected; false accepts are the wrong answers of the kinds that verifier exists for that the
whole chain still passed. The last line is `eval verifiers: false_reject=<x> false_accept=<x>
baseline=<fr>/<fa>` (the baseline: the guards before shared/verification on the same set).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from schemas.rewrite import Tone, WritingOperation
from schemas.summarize import Notification
from services.rewriter import guards, prompts
from services.rewriter.lints import LintChecker
from services.summarizer.stack import sources_of
from services.summarizer.task import verify_summary

DATA = Path(__file__).parent / "data"
SUMMARY_CAP = 400
TARGET = 0.05
# The same set through the guards that came before shared/verification (commit fad6f54: the
# rewriter's lexical fact guard, the summarizer's names-and-numbers guard); docs/quality.md
# says how to re-measure them. Constants here: that code no longer exists in the tree.
BASELINE_FALSE_REJECT = 0.235
BASELINE_FALSE_ACCEPT = 0.660

# Which verifier exists for which kind of wrong answer (for per-verifier false accepts).
VERIFIER_OF_KIND = {
    "dropped_fact": "facts",
    "invented_fact": "facts",
    "role_swap": "roles",
    "negation_flip": "polarity",
    "prompt_leak": "leakage",
    "no_change": "tone",
    "no_tone_shift": "tone",
    "repetition": "fluency",
    "meaning_change": "proofread",
    "request_as_done": "attribution",
    "plan_as_done": "attribution",
    "wrong_actor": "attribution",
    "first_person": "perspective",
    "question_answered": "questions",
    "question_as_statement": "questions",
    "prohibition_lifted": "polarity",
    "invented_sentence": "support",
    "question_dropped": "questions",
    "correction_swapped": "polarity",
    "wrong_addressee": "addressee",
    "detail_moved": "swaps",
    "hedge_dropped": "certainty",
    "contradiction": "contradiction",
}


@dataclass(frozen=True)
class Verdict:
    case: dict[str, object]
    reason: str | None

    @property
    def published(self) -> bool:
        return self.reason is None

    @property
    def right(self) -> bool:
        return self.published == (self.case["expect"] == "accept")


def verifier_of(reason: str) -> str:
    """Which verifier a rejection reason comes from."""
    table = (
        (("invented", "dropped", "not in the notifications"), "facts"),
        (("speaker roles",), "roles"),
        (("addresses a person",), "addressee"),
        (("into another statement",), "swaps"),
        (("only estimates",), "certainty"),
        (("opposite of the text",), "contradiction"),
        (("negation", "prohibition", "value it corrects"), "polarity"),
        (("answers the text", "question became", "drops a question"), "questions"),
        (("scaffolding", "instructions copied", "worked example"), "leakage"),
        (("unchanged", "shift", "concise"), "tone"),
        (("repeats",), "fluency"),
        (("proofread", "rewrote", "spelling"), "proofread"),
        (("request as done", "plan as done", "wrong person"), "attribution"),
        (("first person", "second-person"), "perspective"),
        (("does not support",), "support"),
        (("grounded", "drops the input"), "grounding"),
        (("length", "characters"), "length"),
    )
    for needles, name in table:
        if any(n in reason for n in needles):
            return name
    return "other"


def load() -> list[dict[str, object]]:
    cases = []
    for path in sorted(DATA.glob("verifiers_*.jsonl")):
        cases += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return cases


def judge(case: dict[str, object], checker: LintChecker) -> Verdict:
    output = str(case["output"])
    if case["feature"] == "summarize":
        messages = case["messages"]
        assert isinstance(messages, list)
        stack = [
            Notification(
                id=f"n{i}",
                app_id="chat",
                sender=m["sender"],
                body=m["body"],
                timestamp=datetime(2026, 1, 5, 9, i, tzinfo=UTC),
            )
            for i, m in enumerate(messages)
        ]
        return Verdict(case, verify_summary(output, sources_of(stack), SUMMARY_CAP))
    tone = Tone(str(case["tone"])) if case.get("tone") else None
    reason = guards.verify(
        WritingOperation(str(case["operation"])),
        tone,
        str(case["source"]),
        output,
        checker.spelling_errors,
        instructions=prompts.INSTRUCTION_TEXTS,
        # As the handler decides it: the English word lists apply to English requests only.
        english=str(case.get("locale", "en")).lower().startswith("en"),
    )
    return Verdict(case, reason)


def report(verdicts: list[Verdict]) -> tuple[float, float, list[str]]:
    good = [v for v in verdicts if v.case["expect"] == "accept"]
    bad = [v for v in verdicts if v.case["expect"] == "reject"]
    false_reject = sum(not v.published for v in good) / max(1, len(good))
    false_accept = sum(v.published for v in bad) / max(1, len(bad))
    lines = [f"{len(verdicts)} cases: {len(good)} right answers, {len(bad)} wrong ones"]
    rejected_by: Counter[str] = Counter(verifier_of(v.reason) for v in good if v.reason)
    bad_by: dict[str, list[Verdict]] = defaultdict(list)
    for v in bad:
        bad_by[VERIFIER_OF_KIND.get(str(v.case["kind"]), "other")].append(v)
    lines.append(f"{'verifier':<12} {'false_reject':>12} {'false_accept':>12} {'wrong cases':>11}")
    for name in sorted(set(rejected_by) | set(bad_by)):
        cases = bad_by.get(name, [])
        fa = sum(v.published for v in cases) / len(cases) if cases else 0.0
        fr = rejected_by.get(name, 0) / max(1, len(good))
        lines.append(f"{name:<12} {fr:>12.3f} {fa:>12.3f} {len(cases):>11}")
    for v in verdicts:
        if not v.right:
            what = "rejected" if v.reason else "published"
            lines.append(f"  miss {v.case['id']} ({v.case['kind']}): {what} {v.reason or ''}")
    return false_reject, false_accept, lines


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    checker = LintChecker()
    verdicts = [judge(case, checker) for case in load()]
    false_reject, false_accept, lines = report(verdicts)
    print("\n".join(lines))
    print(
        f"baseline (guards before shared/verification, commit fad6f54): false_reject="
        f"{BASELINE_FALSE_REJECT:.3f} false_accept={BASELINE_FALSE_ACCEPT:.3f}; target < {TARGET}"
    )
    print(
        f"eval verifiers: false_reject={false_reject:.3f} false_accept={false_accept:.3f} "
        f"baseline={BASELINE_FALSE_REJECT:.3f}/{BASELINE_FALSE_ACCEPT:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
