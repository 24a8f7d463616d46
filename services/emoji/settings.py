"""Settings of the emoji service (every variable declared once, here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from services.emoji.constants import (
    DEFAULT_LEXICAL_BOOST,
    DEFAULT_LOCALES,
    DEFAULT_MATCH_THRESHOLD,
    DEFAULT_POPULARITY_WEIGHT,
    DEFAULT_SAFETY_THRESHOLD,
)
from shared.config import CairnBaseSettings, CoreSettings


class EmojiSettings(CairnBaseSettings):
    """What the emoji service retrieves with and how it composes stickers."""

    match_threshold: float = Field(
        DEFAULT_MATCH_THRESHOLD,
        ge=-1.0,
        le=1.0,
        alias="EMOJI_MATCH_THRESHOLD",
        description="Cosine similarity under which no emoji matches (no_local_match).",
    )
    lexical_boost: float = Field(
        DEFAULT_LEXICAL_BOOST,
        ge=0.0,
        le=1.0,
        alias="EMOJI_LEXICAL_BOOST",
        description="Score added when a keyword matches the description.",
    )
    popularity_weight: float = Field(
        DEFAULT_POPULARITY_WEIGHT,
        ge=0.0,
        le=0.1,
        alias="EMOJI_POPULARITY_WEIGHT",
        description="Weight of the popularity prior in the ranking.",
    )
    # NoDecode: the environment gives "en,de,fr", not JSON.
    locales: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_LOCALES,
        alias="EMOJI_LOCALES",
        description="CLDR locales indexed (English always). Their languages are the emoji "
        "service's local languages: served locally whatever CAIRN_LOCAL_LANGUAGES says.",
    )
    # None: the inference runtime's default embedder (CAIRN_EMBEDDING_MODEL).
    embedding_model: str | None = Field(
        None,
        alias="EMOJI_EMBEDDING_MODEL",
        description="Encoder for retrieval; unset = CAIRN_EMBEDDING_MODEL.",
    )
    # None: <state_dir>/assets, where `python -m services.emoji.assets` provisions.
    assets_dir: Path | None = Field(
        None,
        alias="EMOJI_ASSETS_DIR",
        description="Provisioned emoji assets; unset = <state_dir>/assets.",
    )
    # None: the provisioned Noto Color Emoji, else the system's copy.
    font_path: Path | None = Field(
        None,
        alias="EMOJI_FONT_PATH",
        description="Color emoji font; unset = the provisioned Noto Color Emoji.",
    )
    # Ask the router's image tier for a sticker when nothing matches (needs consent + a key).
    image_fallback: bool = Field(
        True,
        alias="EMOJI_IMAGE_FALLBACK",
        description="Ask the image tier for a sticker when nothing matches.",
    )
    safety_semantic: bool = Field(
        True,
        alias="EMOJI_SAFETY_SEMANTIC",
        description="Run the multilingual semantic safety check (multilingual-e5-small, "
        "offline) after the term lists; off leaves only the term lists locally.",
    )
    safety_threshold: float = Field(
        DEFAULT_SAFETY_THRESHOLD,
        gt=0.0,
        lt=1.0,
        alias="EMOJI_SAFETY_THRESHOLD",
        description="Probability of unsafe at which the semantic check refuses; lower "
        "catches more paraphrases and refuses more safe look-alikes.",
    )

    @field_validator("locales", mode="before")
    @classmethod
    def _parse_locales(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def resolved_assets_dir(self, core: CoreSettings) -> Path:
        return self.assets_dir or core.state_dir / "assets"
