"""The handler end to end without Kafka: real MiniLM, real annotations and font, real Router."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from schemas.emoji import EmojiGenRequest, EmojiRequest
from schemas.envelope import ResultStatus
from services.emoji.assets import AssetPaths
from services.emoji.blobs import BlobStore
from services.emoji.handler import EmojiHandler, lifespan
from services.emoji.safety.gate import SafetyGate
from services.emoji.settings import EmojiSettings
from services.emoji.task import EmojiTask
from shared.config import CoreSettings
from shared.messaging.handler import ServiceContext
from shared.routing import EscalationReason, GeneratedImage, RoutedOutcome, Router, RoutingSettings

pytestmark = pytest.mark.model


def request(description: str, request_id: str = "req-1", **fields: Any) -> EmojiGenRequest:
    envelope = {key: fields.pop(key) for key in ("locale", "consent_external") if key in fields}
    return EmojiGenRequest(
        request_id=request_id,
        tenant_id="tenant-1",
        user_id="user-1",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        payload=EmojiRequest(description=description, **fields),
        **envelope,
    )


class ImageRouter:
    """Stands in for the images API: answers every no-match with a green square."""

    def __init__(self) -> None:
        self.calls = 0

    async def route_image(self, task: EmojiTask) -> RoutedOutcome[Any]:
        attempt = await task.run_local()
        if attempt.escalate is None:
            return RoutedOutcome(result=attempt.result, tier="local", model=attempt.model)
        self.calls += 1
        png = io.BytesIO()
        Image.new("RGBA", (512, 512), (0, 200, 0, 255)).save(png, format="PNG")
        image = GeneratedImage(png=png.getvalue(), model="gpt-image-1")
        return RoutedOutcome(
            result=task.image_result(image),
            tier="openai",
            model="gpt-image-1",
            reasons=[attempt.escalate],
            cost_usd=0.04,
        )


@asynccontextmanager
async def service(
    tmp_path: Path,
    asset_paths: AssetPaths,
    embedder_and_model: tuple[Any, str],
    router: Any,
    gate: SafetyGate | None = None,
) -> AsyncIterator[EmojiHandler]:
    embedder, model = embedder_and_model
    ctx = ServiceContext(
        core=CoreSettings(CAIRN_STATE_DIR=tmp_path),
        extras={
            "emoji_settings": EmojiSettings(
                EMOJI_ASSETS_DIR=asset_paths.root, EMOJI_LOCALES="en,de"
            ),
            "embedder": embedder,
            "embedding_model": model,
            "router": router,
            **({"safety_gate": gate} if gate is not None else {}),
        },
    )
    async with lifespan(ctx) as handler:
        yield handler


@pytest.fixture
async def handler(
    tmp_path: Path,
    asset_paths: AssetPaths,
    embedder_and_model: tuple[Any, str],
    safety_gate: SafetyGate,
) -> AsyncIterator[EmojiHandler]:
    # The real router with no API key: a fallback is wanted but not configured.
    router = Router(RoutingSettings(OPENAI_API_KEY=None, CAIRN_TIERS="local,openai"))
    async with service(tmp_path, asset_paths, embedder_and_model, router, safety_gate) as built:
        yield built


async def test_cat_wearing_sunglasses(handler: EmojiHandler, tmp_path: Path) -> None:
    out = await handler(request("a cat wearing sunglasses", variations=2, size_px=224))
    assert out.status is ResultStatus.OK
    assert out.result is not None and out.result.matched
    assert len(out.result.candidates) == 3
    assert out.provenance.tier == "local" and out.provenance.reasons == []
    stickers = out.result.stickers
    assert len(stickers) == 2 and stickers[0].sha256 != stickers[1].sha256
    for sticker in stickers:
        assert sticker.components == ["🐱", "🕶️"]
        path = BlobStore(tmp_path / "blobs").resolve(sticker.uri)
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == sticker.sha256
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (224, 224) and image.mode == "RGBA"
            assert image.getchannel("A").getextrema() == (0, 255)


async def test_identical_requests_give_identical_stickers(handler: EmojiHandler) -> None:
    first = await handler(request("dog with a birthday cake", "req-same"))
    second = await handler(request("dog with a birthday cake", "req-same"))
    assert first.result is not None and second.result is not None
    assert [s.sha256 for s in first.result.stickers] == [s.sha256 for s in second.result.stickers]
    assert first.result.stickers[0].components == ["🐕", "🎂"]


async def test_refused_requests_have_a_reason_and_no_image(handler: EmojiHandler) -> None:
    out = await handler(request("a gun pointed at a man"))
    assert out.status is ResultStatus.REFUSED
    assert out.result is not None
    assert out.result.refused_reason is not None
    assert out.result.refused_reason.startswith("weapon_at_person")
    assert out.result.stickers == [] and out.result.candidates == []


async def test_no_match_without_fallback_is_degraded(handler: EmojiHandler) -> None:
    out = await handler(request("the quarterly report is due", consent_external=True))
    assert out.status is ResultStatus.DEGRADED
    assert out.result is not None and not out.result.matched
    assert out.result.stickers and not out.result.stickers[0].generated  # best local guess
    assert out.provenance.reasons == [str(EscalationReason.NO_LOCAL_MATCH)]
    assert out.provenance.degraded_reason == "not_configured"
    assert out.provenance.tier == "local"


async def test_no_match_goes_to_the_image_fallback(
    tmp_path: Path,
    asset_paths: AssetPaths,
    embedder_and_model: tuple[Any, str],
    safety_gate: SafetyGate,
) -> None:
    router = ImageRouter()
    async with service(tmp_path, asset_paths, embedder_and_model, router, safety_gate) as handler:
        matched = await handler(request("a birthday cake", "req-a"))
        unmatched = await handler(request("the quarterly report is due", "req-b"))
    assert router.calls == 1
    assert matched.status is ResultStatus.OK and matched.provenance.tier == "local"
    assert unmatched.status is ResultStatus.OK and unmatched.provenance.tier == "openai"
    assert unmatched.provenance.reasons == ["no_local_match"]
    assert unmatched.result is not None and not unmatched.result.matched
    (sticker,) = unmatched.result.stickers
    assert sticker.generated and (sticker.width, sticker.height) == (192, 192)
    assert BlobStore(tmp_path / "blobs").resolve(sticker.uri).is_file()


async def test_emoji_only_and_fallback_switched_off(
    tmp_path: Path,
    asset_paths: AssetPaths,
    embedder_and_model: tuple[Any, str],
    safety_gate: SafetyGate,
) -> None:
    async with service(tmp_path, asset_paths, embedder_and_model, None, safety_gate) as handler:
        out = await handler(request("pizza party tonight", count=5, sticker=False))
        vague = await handler(request("the quarterly report is due"))
    assert out.status is ResultStatus.OK and out.result is not None
    assert out.result.stickers == []
    assert len(out.result.candidates) == 5 and out.result.candidates[0].emoji == "🍕"
    assert vague.status is ResultStatus.DEGRADED
    assert vague.provenance.degraded_reason == "no_local_match"


async def test_german_request(handler: EmojiHandler) -> None:
    out = await handler(request("Ich gehe zum Zahnarzt", locale="de-DE", sticker=False))
    assert out.result is not None
    assert "🦷" in [c.emoji for c in out.result.candidates]
    assert out.result.candidates[0].name  # German CLDR names


@pytest.mark.parametrize(
    ("description", "locale"),
    [
        ("eine Pistole auf einen Menschen richten und abdrücken", "de-DE"),
        ("une croix gammée sur un drapeau", "fr-FR"),
        ("自殺したい", "ja-JP"),
    ],
)
async def test_unsafe_in_any_language_is_refused_before_routing(
    tmp_path: Path,
    asset_paths: AssetPaths,
    embedder_and_model: tuple[Any, str],
    safety_gate: SafetyGate,
    description: str,
    locale: str,
) -> None:
    router = ImageRouter()
    async with service(tmp_path, asset_paths, embedder_and_model, router, safety_gate) as handler:
        out = await handler(request(description, locale=locale, consent_external=True))
    assert router.calls == 0, "the images fallback was asked"
    assert out.status is ResultStatus.REFUSED
    assert out.result is not None and out.result.refused_reason
    assert out.result.stickers == [] and out.result.candidates == []
    assert out.provenance.model == "emoji-safety-rules"  # the term lists decided


async def test_indexed_locales_are_served_locally(handler: EmojiHandler) -> None:
    # CAIRN_LOCAL_LANGUAGES is "en" by default; German has its own index, so it stays local.
    out = await handler(request("ein Geburtstagskuchen", locale="de-DE", consent_external=True))
    assert out.status is ResultStatus.OK and out.provenance.tier == "local"
    assert "unsupported_language" not in out.provenance.reasons
    assert handler.languages == frozenset({"en", "de"})
