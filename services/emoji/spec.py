"""The deployable emoji service: its contracts, topics and lifespan."""

from __future__ import annotations

from schemas.emoji import EmojiGenRequest, EmojiGenResult, EmojiRequest, EmojiResult
from schemas.topics import Feature
from services.emoji.handler import lifespan
from shared.messaging.handler import ServiceSpec

SPEC: ServiceSpec[EmojiRequest, EmojiResult] = ServiceSpec(
    name="emoji",
    feature=str(Feature.EMOJI),
    request_model=EmojiGenRequest,
    result_model=EmojiGenResult,
    lifespan=lifespan,
)
