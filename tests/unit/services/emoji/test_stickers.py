"""Sticker composition and storage, with synthetic emoji images (no font, no model)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from services.emoji.blobs import BlobStore
from services.emoji.layout import Wearable, arrange, wearable
from services.emoji.stickers import StickerMaker, StickerPlan, variation_seed
from services.emoji.structure import Relation

from .conftest import ShapeGlyphs

WEARING = StickerPlan(Relation.WEARING, ("🐱", "🕶️"), base_is_face=True)


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image


@pytest.mark.parametrize("size_px", [160, 192, 256])
def test_sticker_png_has_the_size_and_transparency(
    tmp_path: Path, shape_glyphs: ShapeGlyphs, size_px: int
) -> None:
    maker = StickerMaker(shape_glyphs, BlobStore(tmp_path))
    (sticker,) = maker.make(WEARING, "req-1", 1, size_px)
    image = _open(maker.blobs.resolve(sticker.uri))
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    assert image.size == (size_px, size_px) == (sticker.width, sticker.height)
    alpha = image.getchannel("A")
    assert alpha.getpixel((0, 0)) == 0  # transparent background
    assert alpha.getpixel((size_px // 2, size_px // 2)) == 255
    assert sticker.components == ["🐱", "🕶️"]
    assert not sticker.generated


def test_sticker_has_a_white_outline(tmp_path: Path, shape_glyphs: ShapeGlyphs) -> None:
    maker = StickerMaker(shape_glyphs, BlobStore(tmp_path))
    (sticker,) = maker.make(StickerPlan(Relation.SINGLE, ("🐶",), True), "req", 1, 192)
    image = _open(maker.blobs.resolve(sticker.uri)).convert("RGBA")
    pixels = image.load()
    assert pixels is not None
    row: list[tuple[int, ...]] = [tuple(pixels[x, 96]) for x in range(192)]  # type: ignore[arg-type]
    first_opaque = next(x for x, px in enumerate(row) if px[3] == 255)
    # The silhouette's first opaque pixels from the left are the white die-cut border.
    assert row[first_opaque][:3] == (255, 255, 255)
    assert any(px[:3] == (150, 90, 40) for px in row)  # the emoji itself is inside


def test_stored_by_content_hash_write_once(tmp_path: Path, shape_glyphs: ShapeGlyphs) -> None:
    maker = StickerMaker(shape_glyphs, BlobStore(tmp_path))
    (sticker,) = maker.make(WEARING, "req-1", 1, 192)
    path = maker.blobs.resolve(sticker.uri)
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == sticker.sha256
    assert sticker.uri == f"blob://sha256/{sticker.sha256}"
    assert path == tmp_path / "sha256" / sticker.sha256[:2] / f"{sticker.sha256}.png"
    before = path.stat().st_mtime_ns
    assert maker.blobs.put(data).path == path
    assert path.stat().st_mtime_ns == before  # not rewritten
    assert not list(path.parent.glob("*.tmp"))


def test_identical_request_gives_identical_bytes(tmp_path: Path, shape_glyphs: ShapeGlyphs) -> None:
    first = StickerMaker(shape_glyphs, BlobStore(tmp_path / "a")).make(WEARING, "r", 3, 200)
    second = StickerMaker(shape_glyphs, BlobStore(tmp_path / "b")).make(WEARING, "r", 3, 200)
    assert [s.sha256 for s in first] == [s.sha256 for s in second]


@pytest.mark.parametrize(
    "plan",
    [
        WEARING,
        StickerPlan(Relation.SINGLE, ("🐶",), True),
        StickerPlan(Relation.WITH, ("🐶", "🎂"), True),
        StickerPlan(Relation.AND, ("🐱", "🐶"), True),
        StickerPlan(Relation.ON, ("🐱", "🎂"), True),
        StickerPlan(Relation.IN, ("🐱", "🎂"), True),
        StickerPlan(Relation.WITH, ("🐶", "🎂", "🐱"), True),
    ],
)
def test_variations_differ(tmp_path: Path, shape_glyphs: ShapeGlyphs, plan: StickerPlan) -> None:
    stickers = StickerMaker(shape_glyphs, BlobStore(tmp_path)).make(plan, "req-7", 4, 192)
    assert len({s.sha256 for s in stickers}) == 4


def test_other_request_ids_vary_differently(tmp_path: Path, shape_glyphs: ShapeGlyphs) -> None:
    maker = StickerMaker(shape_glyphs, BlobStore(tmp_path))
    a = maker.make(WEARING, "req-a", 2, 192)
    b = maker.make(WEARING, "req-b", 2, 192)
    assert a[0].sha256 == b[0].sha256  # variation 0 is the canonical layout
    assert a[1].sha256 != b[1].sha256
    assert variation_seed("req-a", 1) != variation_seed("req-b", 1)


def test_eyewear_sits_on_the_eye_line_of_a_face() -> None:
    assert wearable("🕶️") is Wearable.EYES and wearable("🎩") is Wearable.HEAD
    layout = arrange(Relation.WEARING, ["🐱", "🕶️", "🎩"], True, seed=1, variation=0)
    base, glasses, hat = layout.placements
    top = base.y - base.width / 2
    assert top < glasses.y < base.y  # upper half of the face
    assert hat.y < glasses.y
    assert glasses.width < base.width


def test_generated_image_is_fitted_and_stored(tmp_path: Path, shape_glyphs: ShapeGlyphs) -> None:
    out = io.BytesIO()
    Image.new("RGB", (1024, 768), (10, 200, 30)).save(out, format="PNG")
    sticker = StickerMaker(shape_glyphs, BlobStore(tmp_path)).store_generated(out.getvalue(), 160)
    image = _open(BlobStore(tmp_path).resolve(sticker.uri))
    assert image.size == (160, 160) and sticker.generated and sticker.components == []
    assert image.getchannel("A").getpixel((80, 5)) == 0  # letterboxed, transparent
