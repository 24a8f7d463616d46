"""Drawing a sticker: place emoji images, fit them to the canvas, add the Genmoji outline.

Everything here is deterministic (fixed resampling filters, no timestamps or metadata in the
PNG), so the same layout always encodes to the same bytes and the content hash is stable.
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageFilter

from services.emoji.constants import (
    CONTENT_FRACTION,
    OUTLINE_FRACTION,
    SHADOW_OFFSET_FRACTION,
    SHADOW_OPACITY,
)
from services.emoji.layout import Layout

# Arrangement space: the unit square is drawn this many pixels wide before fitting. About
# twice the font's 136 px glyphs, so a 0.5-wide item is drawn near its native size.
_WORK_PX = 320


def _place(layout: Layout, images: list[Image.Image]) -> Image.Image:
    margin = _WORK_PX // 2  # room for items that stick out of the unit square
    canvas = Image.new("RGBA", (_WORK_PX + 2 * margin,) * 2, (0, 0, 0, 0))
    for p in layout.placements:
        glyph = images[p.component]
        width = max(1, round(p.width * _WORK_PX))
        height = max(1, round(glyph.height * width / glyph.width))
        item = glyph.resize((width, height), Image.Resampling.LANCZOS)
        if p.rotation:
            item = item.rotate(p.rotation, Image.Resampling.BICUBIC, expand=True)
        left = round(margin + p.x * _WORK_PX - item.width / 2)
        top = round(margin + p.y * _WORK_PX - item.height / 2)
        canvas.alpha_composite(item, (max(left, 0), max(top, 0)))
    box = canvas.getchannel("A").getbbox()
    if box is None:
        raise ValueError("nothing was drawn")
    drawing = canvas.crop(box)  # rotating only the drawing is ~10x cheaper than the canvas
    if layout.tilt:
        drawing = drawing.rotate(layout.tilt, Image.Resampling.BICUBIC, expand=True)
    return drawing


def _fit(drawing: Image.Image, size_px: int) -> Image.Image:
    """Crop to the drawing and scale it into the content box, centred."""
    box = drawing.getchannel("A").getbbox()
    if box is None:
        raise ValueError("nothing was drawn")
    drawing = drawing.crop(box)
    side = size_px * CONTENT_FRACTION
    scale = min(side / drawing.width, side / drawing.height)
    width = max(1, round(drawing.width * scale))
    height = max(1, round(drawing.height * scale))
    drawing = drawing.resize((width, height), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (size_px, size_px), (0, 0, 0, 0))
    canvas.alpha_composite(drawing, ((size_px - width) // 2, (size_px - height) // 2))
    return canvas


def _outline(drawing: Image.Image, size_px: int) -> Image.Image:
    """White die-cut border around the silhouette, and a soft shadow below it."""
    radius = max(2.0, size_px * OUTLINE_FRACTION)
    alpha = drawing.getchannel("A")
    # Blur + steep threshold = dilation with round corners (a square max-filter looks boxy).
    spread = alpha.filter(ImageFilter.GaussianBlur(radius / 2))
    border = spread.point(lambda v: min(255, v * 24)).filter(ImageFilter.GaussianBlur(0.8))
    shadow_alpha = border.filter(ImageFilter.GaussianBlur(radius / 2)).point(
        lambda v: v * SHADOW_OPACITY // 255
    )
    offset = math.ceil(size_px * SHADOW_OFFSET_FRACTION)
    result = Image.new("RGBA", drawing.size, (0, 0, 0, 0))
    shadow = Image.new("RGBA", drawing.size, (0, 0, 0, 0))
    shadow.putalpha(shadow_alpha)
    result.alpha_composite(shadow, (0, offset))
    white = Image.new("RGBA", drawing.size, (255, 255, 255, 0))
    white.putalpha(border)
    result.alpha_composite(white)
    result.alpha_composite(drawing)
    return result


def render_sticker(layout: Layout, images: list[Image.Image], size_px: int) -> Image.Image:
    """The finished sticker, `size_px` square, transparent outside the outline."""
    return _outline(_fit(_place(layout, images), size_px), size_px)


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes without metadata, so equal pixels give equal bytes."""
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()
