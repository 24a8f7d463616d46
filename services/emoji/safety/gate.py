"""The local safety decision, run first for every request whatever its locale."""

from __future__ import annotations

import asyncio
import logging

from services.emoji.constants import SAFETY_MODEL_LABEL, SAFETY_PROBE_LABEL
from services.emoji.safety.categories import Refusal
from services.emoji.safety.rules import check as rules_check
from services.emoji.safety.semantic import SOURCE as SEMANTIC_SOURCE
from services.emoji.safety.semantic import E5Encoder, Encoder, SemanticCheck

log = logging.getLogger(__name__)


class SafetyGate:
    """Rules, then (when enabled) the semantic probe; the first refusal wins."""

    def __init__(self, semantic: SemanticCheck | None) -> None:
        self.semantic = semantic

    @classmethod
    async def start(
        cls, *, semantic: bool, threshold: float, encoder: Encoder | None = None
    ) -> SafetyGate:
        """Load the encoder and train the probe off the event loop (both take ~1 s)."""
        if not semantic:
            log.warning("semantic safety check switched off: only the term lists run locally")
            return cls(None)

        def build() -> SemanticCheck:
            return SemanticCheck(encoder or E5Encoder(), threshold)

        check = await asyncio.to_thread(build)
        log.info("safety gate ready: rules + %s probe at %.2f", check.encoder.name, threshold)
        return cls(check)

    def model_of(self, refusal: Refusal) -> str:
        """What provenance names as the deciding model: the term lists, or the probe."""
        if refusal.source == SEMANTIC_SOURCE and self.semantic is not None:
            return f"{SAFETY_PROBE_LABEL}:{self.semantic.encoder.name}"
        return SAFETY_MODEL_LABEL

    async def check(self, description: str) -> Refusal | None:
        refusal = rules_check(description)
        if refusal is None and self.semantic is not None:
            refusal = await self.semantic.check(description)
        return refusal
