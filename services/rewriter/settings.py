"""Settings of the writing-tools service (every variable declared once, here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.config import CairnBaseSettings


class RewriterSettings(CairnBaseSettings):
    """How the rewriter drives the local model and its checks."""

    # None: the inference runtime's default generator (CAIRN_GENERATOR_MODEL).
    generator_model: str | None = Field(
        None,
        alias="REWRITER_GENERATOR_MODEL",
        description="Generator for writing tools; unset = CAIRN_GENERATOR_MODEL.",
    )
    # Local drafts per request before escalating with the verifier's reason: the first try
    # plus one retry by default.
    local_attempts: int = Field(
        2,
        ge=1,
        le=4,
        alias="REWRITER_LOCAL_ATTEMPTS",
        description="Local drafts per request before escalating with the reason.",
    )
    candidates: int = Field(
        3,
        ge=1,
        le=8,
        alias="REWRITER_CANDIDATES",
        description="Candidates per local round, generated as one batch (greedy + sampled) and "
        "each verified; the best that passes is served. 1 = one greedy draft per round.",
    )
    # Worked examples before the text (services/rewriter/examples.py): the tone eval measured
    # what they change (docs/quality.md); off sends the bare instruction.
    demonstrations: bool = Field(
        True,
        alias="REWRITER_DEMONSTRATIONS",
        description="Show the local model worked examples before tone rewrites.",
    )
    # Cap on generated tokens per draft; the per-operation budget is usually lower.
    max_new_tokens: int = Field(
        512,
        ge=16,
        le=4096,
        alias="REWRITER_MAX_NEW_TOKENS",
        description="Cap on generated tokens per draft.",
    )
    # Per-draft timeout of the local generation, seconds (None: the runtime's own).
    local_timeout_s: float | None = Field(
        None,
        gt=0,
        alias="REWRITER_LOCAL_TIMEOUT_S",
        description="Timeout of one local draft; unset = the runtime's own.",
    )
    # English dialect for the harper lints (reasons and the harper-only fallback).
    dialect: Literal["american", "british", "australian", "canadian", "indian"] = Field(
        "american", alias="REWRITER_DIALECT", description="English dialect of the harper lints."
    )
