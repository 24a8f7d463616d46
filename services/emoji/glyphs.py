"""Emoji images: Noto Color Emoji glyphs drawn by Pillow at the font's native bitmap size."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageDraw, ImageFont

from services.emoji.constants import FONT_NATIVE_SIZE


class GlyphSource(Protocol):
    """Anything that turns an emoji into an RGBA image cropped to its drawing."""

    def render(self, emoji: str) -> Image.Image | None:
        """The emoji's image, or None when this source has no image for it."""
        ...


class FontGlyphs:
    """Draws emoji with a colour bitmap font (CBDT). Thread-safe; caches every glyph."""

    def __init__(self, font_path: Path) -> None:
        self.font_path = font_path
        self._font = ImageFont.truetype(str(font_path), FONT_NATIVE_SIZE)
        # One advance: a sequence the font lacks shapes into several glyphs, i.e. wider.
        self._advance = self._font.getlength("\U0001f600")
        # FreeType faces are not safe to use from several threads at once.
        self._lock = threading.Lock()
        self._cached = lru_cache(maxsize=512)(self._draw)

    def render(self, emoji: str) -> Image.Image | None:
        image = self._cached(emoji)
        return image.copy() if image is not None else None

    def _draw(self, emoji: str) -> Image.Image | None:
        with self._lock:
            if self._font.getlength(emoji) > self._advance * 1.2:
                return None
            right, bottom = self._font.getbbox(emoji)[2:]
            size = (int(right) + 8, int(bottom) + 8)
            canvas = Image.new("RGBA", size, (0, 0, 0, 0))
            ImageDraw.Draw(canvas).text((4, 4), emoji, font=self._font, embedded_color=True)
        box = canvas.getchannel("A").getbbox()
        # An empty drawing is the font's blank "missing glyph".
        return canvas.crop(box) if box else None
