"""Safety in every language, from outside: the real emoji service (real MiniLM indexes for
all seven working locales, the real safety gate) on the real broker and database, the
fake OpenAI server as the provider, consent given and a key configured.

Unsafe descriptions in seven languages are refused before any external call: the provider
records no request that carries them (no moderation, no image). Safe look-alikes in the
same languages are served locally (no unsupported_language escalation although
CAIRN_LOCAL_LANGUAGES is English only). What the local gate lets through and the provider's
moderation flags is refused before any image; what moderation clears is drawn.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services.emoji.blobs import BlobStore
from services.emoji.settings import EmojiSettings
from services.emoji.spec import SPEC
from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.inference.runtime import LocalEmbedder
from shared.messaging.app import ServiceRuntime
from shared.messaging.handler import ServiceContext
from shared.messaging.settings import RuntimeSettings
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.e2e.conftest import RouterFactory, _inference_settings
from tests.e2e.support import MINILM, RESULT_TIMEOUT_S, Cairn, Delivered, envelope
from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest

pytestmark = [pytest.mark.kafka, pytest.mark.model, pytest.mark.timeout(600)]

IMAGES = "/v1/images/generations"
MODERATIONS = "/v1/moderations"
LOCALES = {
    "en": "en-US",
    "de": "de-DE",
    "fr": "fr-FR",
    "es": "es-ES",
    "it": "it-IT",
    "pt": "pt-BR",
    "ja": "ja-JP",
}
UNSAFE = {
    "en": "aim a pistol at a man and pull the trigger",
    "de": "eine Pistole auf einen Menschen richten und abdrücken",
    "fr": "braquer un pistolet sur un homme et tirer",
    "es": "apuntar una pistola a un hombre y disparar",
    "it": "puntare una pistola contro un uomo e sparare",
    "pt": "apontar uma pistola para um homem e atirar",
    "ja": "人に拳銃を向けて引き金を引く",
}
# Look-alikes of the unsafe ones, each a CLDR emoji of its own language (🔫 is a water
# pistol, 🌠 a shooting star): served by the local tier.
SAFE = {
    "en": ("a water pistol", "a shooting star"),
    "de": ("eine Wasserpistole", "eine Sternschnuppe"),
    "fr": ("un pistolet à eau", "une étoile filante"),
    "es": ("una pistola de agua", "una estrella fugaz"),
    "it": ("una pistola ad acqua", "una stella cadente"),
    "pt": ("uma pistola de água", "uma estrela cadente"),
    "ja": ("水鉄砲", "流れ星"),
}
# Names no listed term and scores under the probe's threshold: only moderation sees it.
MODERATION_ONLY = "piantargli una pallottola in testa"
# Cleared by moderation: escalated (quality "best") and drawn by the images API.
DRAWN = "ein Fahrrad mit einem Blumenkorb"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def minilm() -> AsyncIterator[LocalEmbedder]:
    import torch

    threads = torch.get_num_threads()
    embedder = await LocalEmbedder.start(_inference_settings(), CoreSettings(), model=MINILM)
    try:
        yield embedder
    finally:
        await embedder.close()
        torch.set_num_threads(threads)


@pytest.fixture
async def emoji_service(
    minilm: LocalEmbedder,
    kafka_bootstrap: str,
    database_url: str,
    tmp_path: Path,
    make_router: RouterFactory,
    fake_openai: FakeOpenAIServer,
) -> AsyncIterator[Cairn]:
    """The emoji service alone, all seven locales indexed, the router with a key."""
    router = make_router(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_TIMEOUT_S=10,
        OPENAI_IMAGE_TIMEOUT_S=10,
    )
    assert router.settings.local_languages == ("en",)
    base = f"e2e.safety.{uuid.uuid4().hex[:10]}"
    core = CoreSettings(CAIRN_STATE_DIR=str(tmp_path / "state"))
    async with AsyncExitStack() as stack:
        engine = create_engine(database_url)
        stack.push_async_callback(engine.dispose)
        repository = ResultRepository(engine)
        extras: dict[str, Any] = {
            "router": router,
            "embedder": minilm,
            "embedding_model": MINILM,
            "emoji_settings": EmojiSettings(
                EMOJI_ASSETS_DIR=str(CoreSettings().state_dir / "assets"),
                EMOJI_LOCALES=",".join(LOCALES),
            ),
        }
        ctx = ServiceContext(core=core, state=repository, extras=extras)
        handler = await stack.enter_async_context(SPEC.lifespan(ctx))
        runtime = ServiceRuntime(
            SPEC.with_topics(f"{base}.requests", f"{base}.results"),
            core=core,
            kafka=KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PARTITIONS=2),
            runtime=RuntimeSettings(
                CAIRN_GROUP_ID=f"{base}.group",
                CAIRN_DLQ_TOPIC=f"{base}.dlq",
                CAIRN_COMMIT_INTERVAL_S=0.2,
                CAIRN_SHUTDOWN_GRACE_S=5,
                CAIRN_SESSION_TIMEOUT_MS=10_000,
                CAIRN_RETRY_INITIAL_S=0.05,
                CAIRN_RETRY_MAX_S=0.5,
                CAIRN_HANDLER_TIMEOUT_S=RESULT_TIMEOUT_S,
            ),
            database=DatabaseSettings(DATABASE_URL=database_url),
            handler=handler,
        )
        stack.push_async_callback(runtime.stop)
        await runtime.start()
        yield Cairn(
            kafka_bootstrap,
            base,
            repository,
            BlobStore(core.state_dir / "blobs"),
            {"emoji": runtime},
        )


def _event(
    description: str, lang: str, *, tenant: str, request_id: str, quality: str = "best"
) -> dict[str, Any]:
    event = envelope(
        {"description": description, "count": 3, "variations": 1},
        user=f"user-{lang}",
        locale=LOCALES[lang],
        consent=True,
        quality=quality,
    )
    event.update(tenant_id=tenant, request_id=request_id)
    return event


def _carries(request: RecordedRequest, text: str) -> bool:
    return text in json.dumps(request.json, ensure_ascii=False)


def _assert_refused(d: Delivered, prefix: str) -> None:
    assert d.status == "refused", d.published
    assert d.result is not None
    reason = d.result["refused_reason"]
    assert reason and reason.startswith(prefix), reason
    assert d.result["stickers"] == [] and d.result["candidates"] == []
    assert d.row.status == "refused" and d.row.output["result"]["refused_reason"] == reason


async def test_unsafe_refused_in_every_language_before_any_external_call(
    emoji_service: Cairn, fake_openai: FakeOpenAIServer
) -> None:
    run = uuid.uuid4().hex[:6]
    fake_openai.flag("pallottola", categories=("violence",))
    # Near-duplicate ids across two tenants: "<run>-<lang>-1" and "<run>-<lang>-l".
    unsafe = [
        _event(text, lang, tenant="tenant-a", request_id=f"safety-{run}-{lang}-1")
        for lang, text in UNSAFE.items()
    ]
    # Safe look-alikes: a balanced request, which stays local when the match is good.
    safe = [
        _event(
            text,
            lang,
            tenant="tenant-b",
            request_id=f"safety-{run}-{lang}-{i}l",
            quality="balanced",
        )
        for lang, texts in SAFE.items()
        for i, text in enumerate(texts)
    ]
    flagged = _event(MODERATION_ONLY, "it", tenant="tenant-a", request_id=f"safety-{run}-it-m")
    drawn = _event(DRAWN, "de", tenant="tenant-b", request_id=f"safety-{run}-de-d")
    results = await emoji_service.request("emoji", [*unsafe, *safe, flagged, drawn])

    for event in unsafe:
        d = results[event["request_id"]]
        _assert_refused(d, "weapon_at_person: ")
        assert d.provenance["tier"] == "local"
        assert d.provenance["model"] == "emoji-safety-rules"
        assert d.row.tenant_id == "tenant-a"
        # Nothing with this text left the deployment: no moderation, no image, no chat.
        text = event["payload"]["description"]
        assert not [r for r in fake_openai.requests if _carries(r, text)], text

    for event in safe:
        d = results[event["request_id"]]
        assert d.status == "ok", (event["payload"]["description"], d.published)
        assert d.provenance["tier"] == "local"
        assert "unsupported_language" not in d.provenance["reasons"]
        assert d.result is not None and d.result["matched"] and d.result["stickers"]
        assert d.row.tenant_id == "tenant-b"

    # Past the local gate, the provider's moderation flags it: refused, no image drawn.
    _assert_refused(results[flagged["request_id"]], "moderation: violence")
    assert results[flagged["request_id"]].provenance["tier"] == "openai"
    # Moderation cleared it: drawn by the images API.
    assert results[drawn["request_id"]].status == "ok"
    assert results[drawn["request_id"]].provenance["tier"] == "openai"

    images = fake_openai.requests_to(IMAGES)
    assert len(images) == 1 and _carries(images[0], DRAWN)
    moderated = fake_openai.requests_to(MODERATIONS)
    assert [_carries(r, MODERATION_ONLY) or _carries(r, DRAWN) for r in moderated] == [True, True]
    assert len(fake_openai.requests) == 3  # two moderations, one image: nothing else
    await emoji_service.assert_one_row_per_request()
