"""Proofreading from more than one source: the model, harper's safe fixes and quire-grammar.

Each source proposes a whole corrected text; the combinations chain them ("quire, then
harper", "the model's draft, then quire"). Every candidate is verified by the same guards as
a model draft, and `choose` keeps the best verified one by a rule picked by measurement on
JFLEG dev (docs/rewriter.md). The rule checkers are cheap next to the model: harper is a
few milliseconds, quire's rules microseconds, its DistilBERT edit tagger (int8 ONNX) tens of
milliseconds per sentence on one core.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import quire_grammar
from quire_grammar import model as quire_model

from services.rewriter import lints
from services.rewriter.edits import Change, apply_changes, edit_ratio

log = logging.getLogger(__name__)

QUIRE_MODEL = "quire-grammar"
HARPER_MODEL = "harper-py"

# Quire's style flags have no single fix, and "orphaned-letter" deletes a lone letter,
# which in chat is a word ("u" for "you"): neither is a correction to apply unasked.
_QUIRE_SKIPPED_CATEGORIES = ("style",)
_QUIRE_SKIPPED_RULES = frozenset({"orphaned-letter"})
# Quire's tagger is the slow step and one request asks about the same texts several times
# (each candidate as a correction source, then as a scored result): remember recent answers.
_QUIRE_MEMO_SIZE = 256


class Source(StrEnum):
    """Where a correction came from; a combination lists them in the order applied."""

    MODEL = "model"
    QUIRE = "quire"
    HARPER = "harper"  # harper's unambiguous fixes (the fallback's)
    HARPER_SUGGEST = "harper-suggest"  # harper's first suggestion for every lint


@dataclass(frozen=True)
class Proposal:
    """A whole corrected text and the sources that produced it, in order."""

    text: str
    sources: tuple[Source, ...]

    @property
    def uses_model(self) -> bool:
        return Source.MODEL in self.sources

    def label(self, generator_model: str | None = None) -> str:
        """The provenance model name: the generator, then the rule checkers applied."""
        names = []
        for source in self.sources:
            if source is Source.MODEL:
                names.append(generator_model or str(Source.MODEL))
            else:
                names.append(QUIRE_MODEL if source is Source.QUIRE else HARPER_MODEL)
        # harper's two modes are one checker to the reader of the provenance
        return "+".join(dict.fromkeys(names)) or HARPER_MODEL


@dataclass(frozen=True)
class Findings:
    """What the rule checkers still find in one text (used to score a candidate)."""

    harper: int  # harper lints of any kind
    spelling: int  # harper spelling/typo lints
    quire: int  # quire corrections with a fix


class RuleCorrector:
    """harper's safe corrections and quire-grammar's (rules plus its edit tagger).

    Loaded once per process. Quire's tagger loads lazily and, by quire's design, silently
    turns itself off when its files or runtime are missing; it is a pinned dependency here,
    so a missing tagger is a broken install and fails at start instead.
    """

    def __init__(self, checker: lints.LintChecker) -> None:
        self._checker = checker
        if not quire_model.is_available():
            raise RuntimeError(
                "quire-grammar's edit tagger is not available: install the pinned "
                "quire-grammar-model, onnxruntime and tokenizers (pyproject.toml)"
            )
        # One ONNX session serves every thread; the lock keeps the 2-core box from
        # running several tagger passes at once behind the model's back.
        self._quire_lock = threading.Lock()
        self._quire_memo: OrderedDict[str, tuple[Change, ...]] = OrderedDict()

    def quire_changes(self, text: str) -> list[Change]:
        """Quire's first suggestions that are fixes, non-overlapping, in text order."""
        with self._quire_lock:
            if (known := self._quire_memo.get(text)) is not None:
                self._quire_memo.move_to_end(text)
                return list(known)
            changes = self._quire_fixes(text)
            self._quire_memo[text] = tuple(changes)
            if len(self._quire_memo) > _QUIRE_MEMO_SIZE:
                self._quire_memo.popitem(last=False)
            return changes

    @staticmethod
    def _quire_fixes(text: str) -> list[Change]:
        found = quire_grammar.check(text, disable=_QUIRE_SKIPPED_CATEGORIES)
        changes: list[Change] = []
        last_end = -1
        for correction in sorted(found, key=lambda c: (c.start, c.end)):
            if (
                not correction.suggestions
                or correction.rule_id in _QUIRE_SKIPPED_RULES
                or correction.start < last_end
                or correction.suggestions[0] == text[correction.start : correction.end]
            ):
                continue
            changes.append(
                Change(
                    correction.start,
                    correction.end,
                    text[correction.start : correction.end],
                    correction.suggestions[0],
                )
            )
            last_end = correction.end
        return changes

    def quire(self, text: str) -> str:
        return apply_changes(text, self.quire_changes(text))

    def harper(self, text: str) -> str:
        return lints.apply_minimal(text, self._checker.hints(text))

    def harper_suggest(self, text: str) -> str:
        return apply_changes(text, lints.suggested_corrections(self._checker.hints(text), text))

    def findings(self, text: str) -> Findings:
        """What harper and quire's rules still flag. Quire's tagger is left out here: it is
        the one slow checker, and scoring asks about every candidate."""
        hints = self._checker.hints(text)
        spelling = sum(1 for h in hints if h.kind in lints.SPELLING_KINDS)
        flagged = quire_grammar.check(text, disable=(*_QUIRE_SKIPPED_CATEGORIES, "model"))
        fixable = sum(1 for c in flagged if c.suggestions and c.rule_id not in _QUIRE_SKIPPED_RULES)
        return Findings(harper=len(hints), spelling=spelling, quire=fixable)

    def proposals(self, text: str, base: Sequence[Source] = ()) -> list[Proposal]:
        """The rule corrections of `text` (itself the output of `base`): quire, harper's
        safe fixes, harper's suggestions, and quire then each harper mode. Unchanged results
        are left out: `text` itself is the caller's."""
        quired = self.quire(text)
        found = [
            Proposal(quired, (*base, Source.QUIRE)),
            Proposal(self.harper(text), (*base, Source.HARPER)),
            Proposal(self.harper_suggest(text), (*base, Source.HARPER_SUGGEST)),
            Proposal(self.harper(quired), (*base, Source.QUIRE, Source.HARPER)),
            Proposal(self.harper_suggest(quired), (*base, Source.QUIRE, Source.HARPER_SUGGEST)),
        ]
        return unique(p for p in found if p.text != text)


def unique(proposals: Iterable[Proposal]) -> list[Proposal]:
    """First proposal of each distinct text (the earlier, simpler chain wins)."""
    seen: set[str] = set()
    kept: list[Proposal] = []
    for proposal in proposals:
        if proposal.text not in seen:
            seen.add(proposal.text)
            kept.append(proposal)
    return kept


@dataclass(frozen=True)
class Scored:
    """A verified proposal with what its score is computed from."""

    proposal: Proposal
    findings: Findings
    edits: float  # edit_ratio(source, text)

    @property
    def remaining(self) -> int:
        return self.findings.harper + self.findings.quire


ScoreKey = Callable[[Scored], tuple[float, ...]]

# The scoring rules measured on JFLEG dev (docs/rewriter.md); higher wins.
SCORE_RULES: dict[str, ScoreKey] = {
    # fewest remaining lints (harper + quire), then fewest edits
    "lints-then-fewest-edits": lambda s: (-s.remaining, -s.edits),
    # fewest remaining lints, then most edits (the model's fuller correction)
    "lints-then-most-edits": lambda s: (-s.remaining, s.edits),
    # the single-source rule before: fewest spelling errors and edits together
    "spelling-and-edits": lambda s: (-s.findings.spelling - s.edits,),
    # the model's draft (polished by the rules) whenever one passes, then fewest lints
    "model-first": lambda s: (float(s.proposal.uses_model), -s.remaining, -s.edits),
}


def score(source: str, proposal: Proposal, findings: Findings) -> Scored:
    return Scored(proposal, findings, edit_ratio(source, proposal.text))


def choose(candidates: Sequence[Scored], rule: str) -> Scored:
    """The best candidate by `rule`; ties go to the earlier one (the model's greedy draft
    comes first, so it wins a tie)."""
    key = SCORE_RULES[rule]
    return max(enumerate(candidates), key=lambda item: (key(item[1]), -item[0]))[1]
