"""Emoji generation: a description → the best emoji and small Genmoji-style stickers."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from schemas.envelope import RequestEnvelope, ResultEnvelope, StrictModel
from schemas.limits import (
    MAX_EMOJI_COUNT,
    MAX_EMOJI_DESCRIPTION_CHARS,
    MAX_STICKER_PX,
    MAX_STICKER_VARIATIONS,
    MIN_STICKER_PX,
)


class EmojiRequest(StrictModel):
    description: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_EMOJI_DESCRIPTION_CHARS)
    ]
    count: int = Field(3, ge=1, le=MAX_EMOJI_COUNT, description="How many emoji to return.")
    sticker: bool = Field(True, description="Also compose sticker images.")
    variations: int = Field(2, ge=1, le=MAX_STICKER_VARIATIONS)
    size_px: int = Field(192, ge=MIN_STICKER_PX, le=MAX_STICKER_PX)


class EmojiCandidate(StrictModel):
    emoji: str
    name: str
    score: float = Field(description="Cosine similarity of description and emoji annotation.")


class Sticker(StrictModel):
    sha256: str = Field(description="Content hash of the PNG; also its storage key.")
    uri: str = Field(description="Where the PNG is stored (content-addressed).")
    width: int
    height: int
    components: list[str] = Field(description="Emoji the sticker was composed from.")
    generated: bool = Field(False, description="Made by an image model, not composed.")


class EmojiResult(StrictModel):
    candidates: list[EmojiCandidate]
    stickers: list[Sticker] = Field(default_factory=list)
    matched: bool = Field(description="Best similarity reached the match threshold.")
    refused_reason: str | None = None


EmojiGenRequest = RequestEnvelope[EmojiRequest]
EmojiGenResult = ResultEnvelope[EmojiResult]
