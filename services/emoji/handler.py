"""The emoji service: a description -> ranked emoji and Genmoji-style stickers.

safety gate, every locale (term lists, then the multilingual probe) ──refuse──▶ refused
    ▼
structure ("cat wearing sunglasses") + retrieval of the whole text and of each part
    ▼
router.route_image(task): local = compose stickers from emoji images;
    best similarity under EMOJI_MATCH_THRESHOLD ──▶ no_local_match ──▶ images API
    (consent, key, budget permitting; the provider's moderation must clear the prompt
    first: flagged ──▶ refused, moderation failing ──▶ no image, the local answer degraded),
    else the local answer flagged degraded
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from schemas.emoji import EmojiGenRequest, EmojiResult
from schemas.envelope import Provenance, ResultStatus
from services.emoji.assets import AssetPaths
from services.emoji.blobs import BlobStore
from services.emoji.constants import LOCAL_MODEL_LABEL
from services.emoji.glyphs import FontGlyphs, GlyphSource
from services.emoji.loading import load_indexes, start_embedder
from services.emoji.retrieval import Retriever
from services.emoji.safety import Refusal
from services.emoji.safety.gate import SafetyGate
from services.emoji.settings import EmojiSettings
from services.emoji.stickers import StickerMaker, plan_sticker
from services.emoji.structure import Relation, parse
from services.emoji.task import EmojiTask
from shared.config import CoreSettings
from shared.errors import ConfigurationError
from shared.messaging.handler import HandlerResult, ServiceContext
from shared.routing import DegradedReason, RoutedOutcome, Router
from shared.routing.constants import LOCAL_TIER
from shared.routing.policy import language_of
from shared.routing.router import start_router

log = logging.getLogger(__name__)

# Ranked per text: enough to skip emoji without an image and to find a face variant.
_POOL = 10


class EmojiHandler:
    """Handles one `EmojiGenRequest`. Built by `lifespan`; `retriever` is public for the eval."""

    def __init__(
        self,
        retriever: Retriever,
        maker: StickerMaker,
        router: Router | None,
        settings: EmojiSettings,
        model: str,
        gate: SafetyGate,
    ) -> None:
        self.retriever = retriever
        self.maker = maker
        self.router = router
        self.settings = settings
        self.model = f"{LOCAL_MODEL_LABEL}:{model}"
        self.gate = gate
        # Every language with its own index is served locally (no unsupported_language).
        self.languages = frozenset(language_of(locale) for locale in retriever.locales)

    async def __call__(self, request: EmojiGenRequest) -> HandlerResult[EmojiResult]:
        started = time.perf_counter()
        payload = request.payload
        # First, for every locale: nothing below (retrieval, drawing, the images API) runs
        # for a description the gate refuses.
        refusal = await self.gate.check(payload.description)
        if refusal is not None:
            log.info(
                "refused emoji request %s: %s (%s)",
                request.request_id,
                refusal.category,
                refusal.source,
            )
            return _refused(request, refusal.reason, self.gate.model_of(refusal), started)

        composition = parse(payload.description, request.locale)
        texts = [payload.description]
        if composition.relation is not Relation.SINGLE:
            texts += composition.parts
        rankings = await self.retriever.rank(texts, request.locale, k=max(payload.count, _POOL))
        best = rankings[0][0]
        plan = None
        if payload.sticker:
            plan = plan_sticker(composition, rankings[0], rankings[1:], self.maker.glyphs)
        task = EmojiTask(
            request=request,
            ranking=rankings[0],
            plan=plan,
            matched=best.cosine >= self.settings.match_threshold,
            maker=self.maker,
            model=self.model,
            image_fallback=self.settings.image_fallback and self.router is not None,
            languages=self.languages,
        )
        outcome = await self._route(task)
        return _handler_result(outcome, task, started)

    async def _route(self, task: EmojiTask) -> RoutedOutcome[EmojiResult]:
        if self.router is not None:
            return await self.router.route_image(task)
        # No router (fallback switched off): the local attempt is the answer.
        attempt = await task.run_local()
        return RoutedOutcome(result=attempt.result, tier=LOCAL_TIER, model=attempt.model)


def _refused(
    request: EmojiGenRequest, reason: str, model: str, started: float, tier: str = LOCAL_TIER
) -> HandlerResult[EmojiResult]:
    return HandlerResult(
        status=ResultStatus.REFUSED,
        provenance=Provenance(tier=tier, model=model, verified=True, latency_ms=_ms_since(started)),
        result=EmojiResult(candidates=[], matched=False, refused_reason=reason),
        input_text=request.payload.description,
    )


def _handler_result(
    outcome: RoutedOutcome[EmojiResult], task: EmojiTask, started: float
) -> HandlerResult[EmojiResult]:
    flagged = next(
        (a for a in outcome.attempts if a.degraded_reason is DegradedReason.CONTENT_FLAGGED),
        None,
    )
    if flagged is not None:
        # The provider's moderation refused it before any image was generated.
        reason = Refusal("moderation", flagged.detail or "flagged", flagged.tier).reason
        return _refused(task.request, reason, flagged.model or "moderation", started, flagged.tier)
    result = outcome.result
    degraded_reason = str(outcome.degraded_reason) if outcome.degraded_reason else None
    if result is None:
        status = ResultStatus.FAILED
    elif outcome.degraded or (outcome.tier == LOCAL_TIER and not result.matched):
        # Nothing similar enough and no generated image: the best guess, flagged.
        status = ResultStatus.DEGRADED
        degraded_reason = degraded_reason or "no_local_match"
    else:
        status = ResultStatus.OK
    return HandlerResult(
        status=status,
        provenance=Provenance(
            tier=outcome.tier or LOCAL_TIER,
            model=outcome.model or task.model,
            reasons=[str(r) for r in outcome.reasons],
            verified=result is not None,
            degraded_reason=degraded_reason,
            latency_ms=_ms_since(started),
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            cost_usd=outcome.cost_usd,
        ),
        result=result,
        error=None if result is not None else "no acceptable answer from any tier",
        input_text=task.request.payload.description,
    )


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _glyphs(paths: AssetPaths, settings: EmojiSettings) -> GlyphSource:
    font = paths.font_file(settings.font_path)
    if font is None:
        raise ConfigurationError(
            "no emoji font: run `python -m services.emoji.assets` or set EMOJI_FONT_PATH"
        )
    return FontGlyphs(font)


@asynccontextmanager
async def lifespan(ctx: ServiceContext) -> AsyncIterator[EmojiHandler]:
    """Loads the embedder, the indexes and the font once; yields the handler.

    `ctx.extras` may supply "emoji_settings" (EmojiSettings), "embedder" plus
    "embedding_model" (a started embedder, left open), "router" (a Router, or None to
    switch the fallback off), "glyphs" (a GlyphSource) and "safety_gate" (a SafetyGate) -
    for tests and the eval.
    """
    extras: dict[str, Any] = ctx.extras
    settings: EmojiSettings = extras.get("emoji_settings") or EmojiSettings()
    core: CoreSettings = ctx.core
    paths = AssetPaths(settings.resolved_assets_dir(core))
    async with AsyncExitStack() as stack:
        if "embedder" in extras:
            embedder, model = extras["embedder"], str(extras["embedding_model"])
        else:
            embedder, model = await start_embedder(settings, core, stack)
        indexes = await load_indexes(paths, settings.locales, model, embedder)
        retriever = Retriever(embedder, indexes, settings.lexical_boost, settings.popularity_weight)
        glyphs: GlyphSource = extras.get("glyphs") or _glyphs(paths, settings)
        router: Router | None
        if "router" in extras:
            router = extras["router"]
        elif settings.image_fallback:
            router = await start_router(stack, budget_store=ctx.budget_store)
        else:
            router = None
        gate: SafetyGate = extras.get("safety_gate") or await SafetyGate.start(
            semantic=settings.safety_semantic, threshold=settings.safety_threshold
        )
        maker = StickerMaker(glyphs, BlobStore(ctx.blob_dir))
        log.info("emoji service ready: locales %s, model %s", ",".join(retriever.locales), model)
        yield EmojiHandler(retriever, maker, router, settings, model, gate)
