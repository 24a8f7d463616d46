"""One emoji request as the router sees it (`ImageTask`): local composition, image fallback.

Retrieval has already run when the task is built (its ranking is needed whatever tier ends
up drawing); `run_local` draws the stickers and says NO_LOCAL_MATCH when the best emoji is
under the threshold, which lets the router ask the images API instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import UnidentifiedImageError

from schemas.emoji import EmojiCandidate, EmojiGenRequest, EmojiResult, Sticker
from schemas.envelope import RequestEnvelope
from services.emoji.retrieval import Match
from services.emoji.stickers import StickerMaker, StickerPlan
from shared.routing import EscalationReason, GeneratedImage, LocalAttempt
from shared.routing.errors import ProviderResponseError
from shared.routing.task import EnvelopeFields

log = logging.getLogger(__name__)

_IMAGE_PROMPT = (
    "One emoji-style sticker on a transparent background: {description}. Glossy, rounded "
    "3D emoji art style, a single centred subject, a thick white die-cut outline, no text, "
    "no real people."
)


@dataclass
class EmojiTask(EnvelopeFields):
    """Implements `shared.routing.ImageTask[EmojiResult]` for one request."""

    request: EmojiGenRequest
    ranking: Sequence[Match]
    plan: StickerPlan | None
    matched: bool
    maker: StickerMaker
    model: str
    image_fallback: bool
    # The languages with their own index: served locally, not escalated as unsupported.
    languages: frozenset[str] | None = None
    feature: str = "emoji"

    @property
    def local_languages(self) -> frozenset[str] | None:
        return self.languages

    @property
    def envelope(self) -> RequestEnvelope[Any]:
        return self.request

    def pre_reasons(self) -> Sequence[EscalationReason]:
        return ()

    def candidates(self) -> list[EmojiCandidate]:
        count = self.request.payload.count
        return [
            EmojiCandidate(emoji=m.emoji, name=m.name, score=round(m.cosine, 4))
            for m in self.ranking[:count]
        ]

    async def run_local(self) -> LocalAttempt[EmojiResult]:
        payload = self.request.payload
        stickers: list[Sticker] = []
        if payload.sticker and self.plan is not None:
            stickers = await asyncio.to_thread(
                self.maker.make, self.plan, self.request_id, payload.variations, payload.size_px
            )
        result = EmojiResult(candidates=self.candidates(), stickers=stickers, matched=self.matched)
        best = self.ranking[0].cosine if self.ranking else 0.0
        # Only a sticker can come back from the images API; without one, nothing to gain.
        wants_image = not self.matched and payload.sticker and self.image_fallback
        return LocalAttempt(
            result=result,
            model=self.model,
            escalate=EscalationReason.NO_LOCAL_MATCH if wants_image else None,
            detail=f"best similarity {best:.3f}",
        )

    async def verify(self, result: EmojiResult) -> str | None:
        if self.request.payload.sticker and self.plan is not None and not result.stickers:
            return "no sticker was drawn"
        return None

    def remote_image_prompt(self) -> str:
        return _IMAGE_PROMPT.format(description=self.request.payload.description)

    def image_result(self, image: GeneratedImage) -> EmojiResult:
        try:
            sticker = self.maker.store_generated(image.png, self.request.payload.size_px)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ProviderResponseError(f"unreadable image: {exc}", endpoint=image.model) from exc
        return EmojiResult(candidates=self.candidates(), stickers=[sticker], matched=self.matched)
