"""The numbers behind every guard and budget, in one place.

Ratios are output characters over input characters. They were chosen from what a faithful
answer looks like, not tuned on the eval set: a proofread barely changes the length, a
concise rewrite is shorter, a summary much shorter, a table adds markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.rewrite import Tone, WritingOperation


@dataclass(frozen=True)
class LengthBounds:
    """Allowed output length as a ratio of the input's, with absolute slack for short texts."""

    min_ratio: float
    max_ratio: float
    slack_chars: int = 0

    def allows(self, source_chars: int, output_chars: int) -> bool:
        low = self.min_ratio * source_chars - self.slack_chars
        high = self.max_ratio * source_chars + self.slack_chars
        return low <= output_chars <= high


@dataclass(frozen=True)
class Grounding:
    """Content-word overlap a faithful output keeps with its input.

    `support`: share of the output's content words found in the input (an injected poem has
    almost none). `coverage`: share of the input's content words still in the output.
    """

    support: float
    coverage: float


PROOFREAD_BOUNDS: Final = LengthBounds(0.8, 1.2, slack_chars=8)
TONE_BOUNDS: Final[dict[Tone, LengthBounds]] = {
    Tone.FRIENDLY: LengthBounds(0.5, 2.0, slack_chars=40),
    Tone.PROFESSIONAL: LengthBounds(0.5, 2.0, slack_chars=40),
    # Concise must really be shorter; no slack on the upper side.
    Tone.CONCISE: LengthBounds(0.15, 0.95),
}
# A chat line of a dozen words (shared.verification.tone.CONCISE_SHORT) is already concise:
# spelling out "u" or "min" may lengthen it a little while it loses words. The tone check
# still requires no more words than before.
CONCISE_SHORT_BOUNDS: Final = LengthBounds(0.15, 1.2)
OPERATION_BOUNDS: Final[dict[WritingOperation, LengthBounds]] = {
    WritingOperation.SUMMARY: LengthBounds(0.02, 0.6, slack_chars=20),
    WritingOperation.KEY_POINTS: LengthBounds(0.05, 1.0, slack_chars=40),
    WritingOperation.LIST: LengthBounds(0.2, 1.5, slack_chars=40),
    WritingOperation.TABLE: LengthBounds(0.2, 2.5, slack_chars=80),
    WritingOperation.INSTRUCTION: LengthBounds(0.0, 4.0, slack_chars=400),
}

GROUNDING: Final[dict[WritingOperation, Grounding]] = {
    WritingOperation.PROOFREAD: Grounding(support=0.6, coverage=0.7),
    # A tone rewrite brings its own words ("unable to attend" for "cant make it"); spelling
    # variants count (see guards), and an injected poem still shares under 0.15 of them.
    WritingOperation.REWRITE: Grounding(support=0.2, coverage=0.3),
    WritingOperation.SUMMARY: Grounding(support=0.5, coverage=0.0),
    WritingOperation.KEY_POINTS: Grounding(support=0.5, coverage=0.0),
    WritingOperation.LIST: Grounding(support=0.5, coverage=0.2),
    WritingOperation.TABLE: Grounding(support=0.4, coverage=0.2),
    # A free-form instruction may legitimately produce new words (translate, expand).
    WritingOperation.INSTRUCTION: Grounding(support=0.0, coverage=0.0),
}

# A proofread that changes more than this share of the words is a rewrite, not a proofread.
MAX_PROOFREAD_EDIT_RATIO: Final = 0.5

# How the best verified proofread is chosen among the model's drafts, the rule checkers'
# corrections and their combinations (services/rewriter/sources.py SCORE_RULES; the rules
# measured on JFLEG dev are compared in docs/rewriter.md).
PROOFREAD_SCORE_RULE: Final = "model-first"

# Operations whose output must keep every number, date and name of the input.
KEEPS_ALL_FACTS: Final = frozenset({WritingOperation.PROOFREAD, WritingOperation.REWRITE})

# Generation budgets, in tokens: proportional to the input, with a floor for short texts.
NEW_TOKENS_PER_INPUT_TOKEN: Final[dict[WritingOperation, float]] = {
    WritingOperation.PROOFREAD: 1.3,
    WritingOperation.REWRITE: 1.6,
    WritingOperation.SUMMARY: 0.5,
    WritingOperation.KEY_POINTS: 0.8,
    WritingOperation.LIST: 1.3,
    WritingOperation.TABLE: 2.0,
    WritingOperation.INSTRUCTION: 2.0,
}
MIN_NEW_TOKENS: Final = 32

# The retry after a rejected first draft samples a little, so it is not the same draft.
RETRY_TEMPERATURE: Final = 0.3
