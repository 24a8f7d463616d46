"""Where each emoji of a sticker goes, per relation and variation.

Positions are in a unit square (x right, y down) and widths are shares of its side; the
composer scales the whole arrangement to the sticker afterwards, so only proportions matter.
Variation 0 is the canonical arrangement; later ones pick alternatives and jitter rotation,
scale and offset from a generator seeded by request id + variation, so they are reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import StrEnum

from services.emoji.structure import Relation

_VS16 = "\ufe0f"


class Wearable(StrEnum):
    EYES = "eyes"
    HEAD = "head"
    NECK = "neck"


_WEARABLES: dict[str, Wearable] = {
    **dict.fromkeys("👓🕶🥽", Wearable.EYES),
    **dict.fromkeys(["🎩", "👒", "🧢", "⛑", "👑", "🎓", "🪖", "🎀"], Wearable.HEAD),
    **dict.fromkeys(["🧣", "👔", "📿", "🏅", "🥇", "🥈", "🥉"], Wearable.NECK),
}
# Where a face's features sit in Noto's face glyphs, as shares of the glyph's box.
_EYE_LINE = 0.43
_NON_FACE_EYE_LINE = 0.22  # full-body animals: the head is usually in the top quarter


def wearable(emoji: str) -> Wearable | None:
    return _WEARABLES.get(emoji.replace(_VS16, ""))


@dataclass(frozen=True)
class Placement:
    """One emoji image: which component, centre, width, rotation (degrees, counter-clockwise)."""

    component: int
    x: float
    y: float
    width: float
    rotation: float = 0.0


def _wearing(components: list[str], base_is_face: bool, variation: int) -> list[Placement]:
    base = Placement(0, 0.5, 0.55, 0.8)
    top, height = base.y - base.width / 2, base.width
    placed = [base]
    used: set[Wearable] = set()
    for i, e in enumerate(components[1:], start=1):
        kind = wearable(e)
        if kind is None or kind in used:
            # Not wearable (or a second of a kind): held at the side instead.
            side = 0.82 if (i + variation) % 2 else 0.18
            placed.append(Placement(i, side, 0.78, 0.38))
            continue
        used.add(kind)
        if kind is Wearable.EYES:
            line = _EYE_LINE if base_is_face else _NON_FACE_EYE_LINE
            width = 0.8 if base_is_face else 0.45
            placed.append(Placement(i, 0.5, top + line * height, base.width * width))
        elif kind is Wearable.HEAD:
            placed.append(Placement(i, 0.5, top + 0.02, base.width * 0.62, 4.0))
        else:
            placed.append(Placement(i, 0.5, top + 0.92 * height, base.width * 0.5))
    return placed


def _arrangements(
    relation: Relation, n: int, base_is_face: bool, components: list[str], variation: int
) -> list[list[Placement]]:
    """Alternative arrangements for a relation; variation picks one (round robin)."""
    if n == 1:
        return [[Placement(0, 0.5, 0.5, 0.9)]]
    wears = relation in (Relation.WEARING, Relation.WITH) and any(
        wearable(e) for e in components[1:]
    )
    if wears:
        return [_wearing(components, base_is_face, variation)]
    if relation in (Relation.ON,):
        # The second thing is the surface: wide, at the bottom; the subject sits on it.
        return [
            [Placement(1, 0.5, 0.8, 0.85), Placement(0, 0.5, 0.42, 0.62)],
            [Placement(1, 0.5, 0.78, 0.95), Placement(0, 0.45, 0.4, 0.55, -6.0)],
        ]
    if relation is Relation.IN:
        # Peeking out of a container, or standing in front of a backdrop.
        return [
            [Placement(0, 0.5, 0.3, 0.62), Placement(1, 0.5, 0.74, 0.8)],
            [Placement(1, 0.5, 0.5, 1.0), Placement(0, 0.5, 0.58, 0.55)],
        ]
    if relation is Relation.AND or (n == 3 and relation is Relation.SINGLE):
        if n == 2:
            return [
                [Placement(0, 0.3, 0.5, 0.55), Placement(1, 0.7, 0.5, 0.55)],
                [Placement(1, 0.68, 0.4, 0.52, -5.0), Placement(0, 0.32, 0.6, 0.55, 5.0)],
            ]
        return [
            [
                Placement(0, 0.5, 0.32, 0.5),
                Placement(1, 0.25, 0.7, 0.48),
                Placement(2, 0.75, 0.7, 0.48),
            ],
            [
                Placement(1, 0.22, 0.5, 0.45),
                Placement(2, 0.78, 0.5, 0.45),
                Placement(0, 0.5, 0.55, 0.55),
            ],
        ]
    # WITH / HOLDING: the subject large, the other things in front at its lower side(s).
    extra = [Placement(i, 0.78 if i == 1 else 0.22, 0.74, 0.42) for i in range(1, n)]
    mirrored = [replace(p, x=1.0 - p.x) for p in extra]
    return [
        [Placement(0, 0.42, 0.45, 0.75), *extra],
        [Placement(0, 0.58, 0.45, 0.75), *mirrored],
    ]


@dataclass(frozen=True)
class Layout:
    """Placements in draw order, and a tilt of the whole sticker (degrees)."""

    placements: list[Placement]
    tilt: float = 0.0


def arrange(
    relation: Relation,
    components: list[str],
    base_is_face: bool,
    seed: int,
    variation: int,
) -> Layout:
    """The layout of one variation."""
    options = _arrangements(relation, len(components), base_is_face, components, variation)
    chosen = options[variation % len(options)]
    if variation == 0:
        return Layout(chosen)
    rng = random.Random(seed)
    # The whole sticker tilts (so a worn item stays on its wearer); the items get a small
    # jitter of their own so that two variations never coincide.
    tilt = rng.choice((-1.0, 1.0)) * rng.uniform(5.0, 12.0)
    scale = rng.uniform(0.92, 1.08)
    jittered = [
        replace(
            p,
            x=p.x + (rng.uniform(-0.02, 0.02) if i else 0.0),
            y=p.y + (rng.uniform(-0.015, 0.015) if i else 0.0),
            width=p.width * (scale if i else 1.0),
            rotation=p.rotation + rng.uniform(-2.0, 2.0),
        )
        for i, p in enumerate(chosen)
    ]
    return Layout(jittered, tilt)
