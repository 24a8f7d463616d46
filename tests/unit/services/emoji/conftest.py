"""Shared fixtures: provisioned assets, one embedder and one retriever for the whole session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any, ClassVar

import pytest
from PIL import Image, ImageDraw

from services.emoji.assets import AssetPaths
from services.emoji.glyphs import FontGlyphs
from services.emoji.loading import load_indexes, start_embedder
from services.emoji.retrieval import Retriever
from services.emoji.safety.gate import SafetyGate
from services.emoji.settings import EmojiSettings
from shared.config import CoreSettings

TEST_LOCALES = ("en", "de")
PROVISION = "run `python -m services.emoji.assets` (make assets)"


@pytest.fixture(scope="session")
def asset_paths() -> AssetPaths:
    """The provisioned assets; tests that need them skip (saying why) when they are absent."""
    paths = AssetPaths(EmojiSettings().resolved_assets_dir(CoreSettings()))
    if not all(paths.has_locale(loc) for loc in TEST_LOCALES):
        pytest.skip(f"CLDR annotations not provisioned under {paths.root}: {PROVISION}")
    return paths


@pytest.fixture(scope="session")
def font_glyphs(asset_paths: AssetPaths) -> FontGlyphs:
    font = asset_paths.font_file()
    if font is None:
        pytest.skip(f"emoji font not provisioned: {PROVISION}")
    return FontGlyphs(font)


@pytest.fixture(scope="session")
async def embedder_and_model() -> AsyncIterator[tuple[Any, str]]:
    """The real MiniLM embedder from the inference runtime, started once."""
    async with AsyncExitStack() as stack:
        yield await start_embedder(EmojiSettings(), CoreSettings(), stack)


@pytest.fixture(scope="session")
async def safety_gate() -> SafetyGate:
    """The real gate (term lists + the multilingual-e5 probe), trained once."""
    settings = EmojiSettings()
    return await SafetyGate.start(
        semantic=settings.safety_semantic, threshold=settings.safety_threshold
    )


@pytest.fixture(scope="session")
async def retriever(asset_paths: AssetPaths, embedder_and_model: tuple[Any, str]) -> Retriever:
    embedder, model = embedder_and_model
    indexes = await load_indexes(asset_paths, TEST_LOCALES, model, embedder)
    settings = EmojiSettings()
    return Retriever(embedder, indexes, settings.lexical_boost, settings.popularity_weight)


class ShapeGlyphs:
    """Synthetic emoji images (coloured discs and bars) for composition tests without a font."""

    COLOURS: ClassVar[dict[str, tuple[int, int, int]]] = {
        "🐱": (240, 170, 30),
        "🕶️": (20, 20, 20),
        "🎂": (250, 120, 160),
        "🐶": (150, 90, 40),
    }

    def render(self, emoji: str) -> Image.Image | None:
        colour = self.COLOURS.get(emoji)
        if colour is None:
            return None
        image = Image.new("RGBA", (136, 128), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        if emoji == "🕶️":
            draw.rectangle((4, 50, 132, 80), fill=(*colour, 255))
        else:
            draw.ellipse((4, 0, 132, 127), fill=(*colour, 255))
            draw.ellipse((40, 40, 60, 60), fill=(255, 255, 255, 255))
        return image


@pytest.fixture
def shape_glyphs() -> ShapeGlyphs:
    return ShapeGlyphs()
