"""Settings of the summarizer service (every variable declared once, here)."""

from __future__ import annotations

from pydantic import Field

from shared.config import CairnBaseSettings

AI_LABEL = "summarized-by-ai"
EXTRACTIVE_LABEL = "extractive-summary"
DISCLAIMER_PREFIX = "disclaimer:"


class SummarizerSettings(CairnBaseSettings):
    """How summaries are generated and labelled."""

    # None: the inference runtime's default generator (CAIRN_GENERATOR_MODEL).
    model: str | None = Field(
        None,
        alias="CAIRN_SUMMARIZER_MODEL",
        description="Generator for summaries; unset = CAIRN_GENERATOR_MODEL.",
    )
    # A notification summary is one sentence; ~60 tokens is ~250 characters.
    max_new_tokens: int = Field(
        60,
        ge=8,
        le=256,
        alias="CAIRN_SUMMARIZER_MAX_NEW_TOKENS",
        description="Cap on tokens of one summary (one sentence).",
    )
    candidates: int = Field(
        3,
        ge=1,
        le=8,
        alias="CAIRN_SUMMARIZER_CANDIDATES",
        description="Drafts per local round, generated as one batch (greedy + sampled) and each "
        "checked; the one most like the others among those that pass is served.",
    )
    # One stricter retry when the first local summary fails the faithfulness guard.
    regenerate: bool = Field(
        True,
        alias="CAIRN_SUMMARIZER_REGENERATE",
        description="One stricter retry when a draft fails the faithfulness guard.",
    )
    local_timeout_s: float | None = Field(
        None,
        gt=0,
        alias="CAIRN_SUMMARIZER_LOCAL_TIMEOUT_S",
        description="Timeout of one local draft; unset = the runtime's own.",
    )
    ai_label: str = Field(
        AI_LABEL,
        min_length=1,
        alias="CAIRN_SUMMARIZER_AI_LABEL",
        description="Label the app shows next to a generated summary.",
    )
    # Shown with every summary when set (as "disclaimer:<text>"), e.g. a legal notice.
    disclaimer: str | None = Field(
        None,
        alias="CAIRN_SUMMARIZER_DISCLAIMER",
        description="Text shown with every summary (as disclaimer:<text>) when set.",
    )

    def labels(self, *, extractive: bool) -> list[str]:
        """Labels the app must show next to a summary."""
        labels = [EXTRACTIVE_LABEL if extractive else self.ai_label]
        if self.disclaimer:
            labels.append(DISCLAIMER_PREFIX + self.disclaimer)
        return labels
