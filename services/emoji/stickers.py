"""From ranked emoji to stored sticker PNGs: pick the components, lay them out, store them."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from schemas.emoji import Sticker
from services.emoji.blobs import BlobStore
from services.emoji.compose import encode_png, render_sticker
from services.emoji.glyphs import GlyphSource
from services.emoji.layout import arrange, wearable
from services.emoji.retrieval import Match
from services.emoji.structure import Composition, Relation

log = logging.getLogger(__name__)

# A face variant ("cat face" for "cat") is preferred for a wearer when it ranks this close.
_FACE_MARGIN = 0.1


@dataclass(frozen=True)
class StickerPlan:
    """What to draw: the component emoji (main subject first) and how they relate."""

    relation: Relation
    components: tuple[str, ...]
    base_is_face: bool


def _is_face(match: Match) -> bool:
    return "face" in match.english_name.split()


def _first_drawable(ranking: Sequence[Match], glyphs: GlyphSource, used: set[str]) -> Match | None:
    for match in ranking:
        if match.emoji not in used and glyphs.render(match.emoji) is not None:
            return match
    return None


def plan_sticker(
    composition: Composition,
    full_ranking: Sequence[Match],
    part_rankings: Sequence[Sequence[Match]],
    glyphs: GlyphSource,
) -> StickerPlan | None:
    """Components for the composition, or None when no emoji can be drawn at all."""
    if composition.relation is Relation.SINGLE or len(part_rankings) < 2:
        best = _first_drawable(full_ranking, glyphs, set())
        if best is None:
            return None
        return StickerPlan(Relation.SINGLE, (best.emoji,), _is_face(best))
    used: set[str] = set()
    others: list[str] = []
    for ranking in part_rankings[1:]:
        found = _first_drawable(ranking, glyphs, used)
        if found is not None:
            others.append(found.emoji)
            used.add(found.emoji)
    base = _first_drawable(part_rankings[0], glyphs, used)
    if base is None:
        return None
    if any(wearable(e) for e in others):
        # Things are worn on a face: prefer "cat face" to the full-body "cat".
        for match in part_rankings[0]:
            if match.score < base.score - _FACE_MARGIN:
                break
            if _is_face(match) and match.emoji not in used and glyphs.render(match.emoji):
                base = match
                break
    return StickerPlan(composition.relation, (base.emoji, *others), _is_face(base))


def variation_seed(request_id: str, variation: int) -> int:
    """Stable across processes and runs (unlike `hash()`)."""
    digest = hashlib.sha256(f"{request_id}:{variation}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class StickerMaker:
    """Draws and stores the variations of a plan. CPU-bound: call it from a worker thread."""

    def __init__(self, glyphs: GlyphSource, blobs: BlobStore) -> None:
        self.glyphs = glyphs
        self.blobs = blobs

    def make(
        self, plan: StickerPlan, request_id: str, variations: int, size_px: int
    ) -> list[Sticker]:
        images: list[Image.Image] = []
        for e in plan.components:
            image = self.glyphs.render(e)
            if image is None:
                raise ValueError(f"no image for {e!r}")  # plan_sticker checked: a bug
            images.append(image)
        stickers: list[Sticker] = []
        for variation in range(variations):
            layout = arrange(
                plan.relation,
                list(plan.components),
                plan.base_is_face,
                variation_seed(request_id, variation),
                variation,
            )
            png = encode_png(render_sticker(layout, images, size_px))
            stored = self.blobs.put(png)
            stickers.append(
                Sticker(
                    sha256=stored.sha256,
                    uri=stored.uri,
                    width=size_px,
                    height=size_px,
                    components=list(plan.components),
                )
            )
        return stickers

    def store_generated(self, png: bytes, size_px: int) -> Sticker:
        """An images-API picture, scaled to the requested size and stored like the others."""
        with Image.open(io.BytesIO(png)) as opened:
            picture = opened.convert("RGBA")
        picture.thumbnail((size_px, size_px), Image.Resampling.LANCZOS)
        canvas = Image.new("RGBA", (size_px, size_px), (0, 0, 0, 0))
        canvas.alpha_composite(
            picture, ((size_px - picture.width) // 2, (size_px - picture.height) // 2)
        )
        stored = self.blobs.put(encode_png(canvas))
        return Sticker(
            sha256=stored.sha256,
            uri=stored.uri,
            width=size_px,
            height=size_px,
            components=[],
            generated=True,
        )
