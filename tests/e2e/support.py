"""The e2e harness: the three services as one deployment, realistic requests, and checks.

`Cairn` is what a test drives: it produces request events to each service's topic, waits for
their results on the results topic and reads the rows the services stored, so every assertion
is made on what really crossed Kafka and landed in the database.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.demo.events import notification_stack
from services.emoji.blobs import BlobStore
from services.emoji.settings import EmojiSettings
from services.emoji.spec import SPEC as EMOJI_SPEC
from services.rewriter.spec import SPEC as REWRITER_SPEC
from services.summarizer.spec import SPEC as SUMMARIZER_SPEC
from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.inference.runtime import LocalEmbedder, LocalGenerator
from shared.messaging.app import ServiceRuntime
from shared.messaging.handler import ServiceContext, ServiceSpec
from shared.messaging.settings import RuntimeSettings
from shared.persistence.engine import create_engine
from shared.persistence.models import ResultRecord
from shared.persistence.repository import ResultRepository
from shared.routing import Router
from tests.fakes.openai_server import JSON, prompt_text
from tests.support.events import consume_until, produce

SMOL = "smollm2-135m-instruct"
MINILM = "all-minilm-l6-v2"

SPECS: dict[str, ServiceSpec[Any, Any]] = {
    "summarize": SUMMARIZER_SPEC,
    "rewrite": REWRITER_SPEC,
    "emoji": EMOJI_SPEC,
}

# Bounded waits: generous for a loaded 2-core machine, far below the suite's timeout.
RESULT_TIMEOUT_S = 240.0


# --- the deployment ----------------------------------------------------------------------


@dataclass
class Delivered:
    """One request's result: the envelope as published on Kafka and the row as stored."""

    request: dict[str, Any]
    published: dict[str, Any]
    row: ResultRecord

    @property
    def status(self) -> str:
        return str(self.published["status"])

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self.published["provenance"])

    @property
    def result(self) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.published["result"]
        return result


@dataclass
class Cairn:
    """The three services of one test, started on their own topics and the test's database."""

    bootstrap: str
    base_topic: str
    repository: ResultRepository
    blobs: BlobStore
    runtimes: dict[str, ServiceRuntime]
    sent: Counter[str] = field(default_factory=Counter)

    def input_topic(self, feature: str) -> str:
        return self.runtimes[feature].spec.input_topic

    def output_topic(self, feature: str) -> str:
        return self.runtimes[feature].spec.output_topic

    async def request(
        self, feature: str, events: Sequence[dict[str, Any]], *, timeout_s: float = RESULT_TIMEOUT_S
    ) -> dict[str, Delivered]:
        """Produce `events` to the feature's request topic; return their results by request id.

        Checks on the way what the runtime promises for every request: exactly one result
        published, exactly one row stored, and the row is the published envelope.
        """
        ids = [e["request_id"] for e in events]
        assert len(set(ids)) == len(ids), "request ids must be unique"
        await produce(self.bootstrap, self.input_topic(feature), events)
        self.sent[feature] += len(events)
        wanted = set(ids)
        records = await consume_until(
            self.bootstrap,
            self.output_topic(feature),
            count=self.sent[feature],
            timeout_s=timeout_s,
        )
        published: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            assert record.value is not None
            envelope = json.loads(record.value)
            published.setdefault(envelope["request_id"], []).append(envelope)
        missing = wanted - set(published)
        assert not missing, f"{feature}: no result within {timeout_s:.0f}s for {sorted(missing)}"
        for request_id in ids:
            assert len(published[request_id]) == 1, f"{request_id} published more than once"

        # Rows are keyed by (tenant, feature, request_id): another tenant's or feature's row
        # with the same id is not this request's.
        keys = [(e["tenant_id"], e["request_id"]) for e in events]
        rows = [
            r
            for r in await self.rows(ids)
            if r.feature == feature and (r.tenant_id, r.request_id) in set(keys)
        ]
        assert Counter((r.tenant_id, r.request_id) for r in rows) == Counter(keys), (
            "one stored row per request"
        )
        by_id = {r.request_id: r for r in rows}
        delivered: dict[str, Delivered] = {}
        for event in events:
            envelope = published[event["request_id"]][0]
            row = by_id[event["request_id"]]
            # The stored output is the envelope exactly as published; the audit columns agree.
            assert row.output == envelope
            assert row.feature == envelope["feature"] == feature
            assert row.status == envelope["status"]
            assert row.tier == envelope["provenance"]["tier"]
            assert row.model == envelope["provenance"]["model"]
            assert row.reasons == envelope["provenance"]["reasons"]
            assert row.degraded_reason == envelope["provenance"]["degraded_reason"]
            assert (row.tenant_id, row.user_id) == (event["tenant_id"], event["user_id"])
            delivered[event["request_id"]] = Delivered(event, envelope, row)
        return delivered

    async def rows(self, request_ids: Sequence[str] | None = None) -> list[ResultRecord]:
        sessions = async_sessionmaker(self.repository.engine, expire_on_commit=False)
        stmt = select(ResultRecord)
        if request_ids is not None:
            stmt = stmt.where(ResultRecord.request_id.in_(list(request_ids)))
        async with sessions() as session:
            return list((await session.scalars(stmt)).all())

    async def assert_one_row_per_request(self) -> None:
        """Nothing stored twice, nothing stored that was not asked for."""
        for feature, sent in self.sent.items():
            assert await self.repository.count(feature) == sent, feature


async def start_cairn(
    stack: AsyncExitStack,
    *,
    generator: LocalGenerator,
    embedder: LocalEmbedder,
    router: Router,
    bootstrap: str,
    database_url: str,
    state_dir: Path,
) -> Cairn:
    """Start the three services in-process; `stack` stops them (runtimes, then lifespans)."""
    base = f"e2e.{uuid.uuid4().hex[:10]}"
    core = CoreSettings(CAIRN_STATE_DIR=str(state_dir))
    engine = create_engine(database_url)
    stack.push_async_callback(engine.dispose)
    repository = ResultRepository(engine)
    extras: dict[str, Any] = {
        "generator": generator,
        "router": router,
        "embedder": embedder,
        "embedding_model": MINILM,
        # The provisioned assets (`make models`); English is the locale these requests use.
        "emoji_settings": EmojiSettings(
            EMOJI_ASSETS_DIR=str(CoreSettings().state_dir / "assets"), EMOJI_LOCALES="en"
        ),
    }
    runtimes: dict[str, ServiceRuntime] = {}
    for feature, spec in SPECS.items():
        # The service's real lifespan builds its handler around the shared models and router.
        ctx = ServiceContext(core=core, state=repository, extras=extras)
        handler = await stack.enter_async_context(spec.lifespan(ctx))
        topic = f"{base}.{feature}"
        runtimes[feature] = ServiceRuntime(
            spec.with_topics(f"{topic}.requests", f"{topic}.results"),
            core=core,
            kafka=KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap, KAFKA_TOPIC_PARTITIONS=2),
            runtime=RuntimeSettings(
                CAIRN_GROUP_ID=f"{topic}.group",
                CAIRN_DLQ_TOPIC=f"{topic}.dlq",
                CAIRN_COMMIT_INTERVAL_S=0.2,
                CAIRN_SHUTDOWN_GRACE_S=5,
                CAIRN_SESSION_TIMEOUT_MS=10_000,
                CAIRN_RETRY_INITIAL_S=0.05,
                CAIRN_RETRY_MAX_S=0.5,
                # A generation on a busy CPU must not be timed out and recomputed.
                CAIRN_HANDLER_TIMEOUT_S=RESULT_TIMEOUT_S,
            ),
            database=DatabaseSettings(DATABASE_URL=database_url),
            handler=handler,
        )
    started = list(runtimes.values())
    for runtime in started:
        stack.push_async_callback(runtime.stop)
    await asyncio.gather(*(runtime.start() for runtime in started))
    return Cairn(bootstrap, base, repository, BlobStore(core.state_dir / "blobs"), runtimes)


# --- requests ----------------------------------------------------------------------------


def envelope(
    payload: dict[str, Any],
    *,
    user: str,
    locale: str = "en-US",
    consent: bool = False,
    quality: str = "balanced",
) -> dict[str, Any]:
    """A request event as an app produces it."""
    return {
        "request_id": f"e2e-{uuid.uuid4().hex[:12]}",
        "tenant_id": "e2e-tenant",
        "user_id": user,
        "occurred_at": datetime.now(UTC).isoformat(),
        "locale": locale,
        "consent_external": consent,
        "quality_hint": quality,
        "payload": payload,
    }


def fresh(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a (demo) event with a new request id and envelope fields changed."""
    out = copy.deepcopy(event)
    out["request_id"] = f"e2e-{uuid.uuid4().hex[:12]}"
    out.update(changes)
    return out


def stack(
    app: str, category: str, items: Sequence[tuple[str, str, str, int]], **extra: Any
) -> dict[str, Any]:
    """A notification stack with a fresh id: (sender, title, body, minutes ago) each."""
    return notification_stack(f"{app}-{uuid.uuid4().hex[:8]}", app, category, items, **extra)


# Contact details that must never reach the provider (the router redacts them).
EMAIL = "anna.k@example.com"
PHONE = "+1 415 555 0134"
EMAIL_2 = "maria.lopez@example.com"
PHONE_2 = "415-555-0188"
PII = (EMAIL, PHONE, EMAIL_2, PHONE_2, "anna.k", "maria.lopez", "555 0134", "555-0188")


def family_stack_with_contacts() -> dict[str, Any]:
    """A family chat whose messages carry an e-mail address and a phone number."""
    return stack(
        "messages",
        "message",
        [
            ("Mom", "Family", f"Send the party photos to {EMAIL} or call me at {PHONE}.", 45),
            ("Dad", "Family", "I'll pick up the cake from Rosie's Bakery.", 30),
            ("Anna", "Family", "Dinner is at 7pm on Saturday at Grandma's.", 10),
        ],
    )


def german_stack() -> dict[str, Any]:
    """A German team chat: outside CAIRN_LOCAL_LANGUAGES (en), so it escalates."""
    return stack(
        "teamchat",
        "message",
        [
            ("Lena", "Projekt", "Das Meeting ist am Montag um 10 Uhr.", 40),
            ("Jonas", "Projekt", "Ich bringe die Folien mit.", 20),
            ("Lena", "Projekt", "Bitte bestätigt bis Freitag.", 5),
        ],
    )


INSTRUCTION_TEXT = (
    f"pls send the signed lease to {EMAIL_2} or text me at {PHONE_2} before friday, "
    "the landlord needs it by monday."
)
PROOFREAD_TEXT = f"Pls email me at {EMAIL_2}, i will be their at 5pm tomorow."
# What the provider corrects in it (word -> correction).
PROOFREAD_FIXES = {"i": "I", "their": "there", "tomorow": "tomorrow"}
# Nothing in the emoji set is close to these (best cosine well under the 0.35 threshold).
NO_MATCH = "a retirement annuity amortization schedule"
NO_MATCH_WITH_CONTACTS = f"the invoice {EMAIL} sent, call {PHONE}"


# --- the provider ------------------------------------------------------------------------

_USER_TEXT = re.compile(r"<user_text>\n(.*)\n</user_text>", re.S)


def provider_answer(body: JSON) -> JSON:
    """What a competent model answers, from the (redacted) prompt it was sent.

    A summary quotes the newest notification listed (faithful by construction); a proofread
    fixes the mistakes in PROOFREAD_FIXES; other writing answers return the user's text as
    given. Placeholders are kept, so the router's rehydration puts the contact details back.
    """
    schema = body["response_format"]["json_schema"]["schema"]
    fields = set(schema.get("properties", {}))
    prompt = prompt_text(body)
    if fields == {"summary"}:
        listed = [ln[2:] for ln in prompt.splitlines() if ln.startswith("- ")]
        assert listed, "the summarizer's prompt lists the notifications"
        return {"summary": listed[-1]}
    if fields == {"text"}:
        match = _USER_TEXT.search(prompt)
        assert match, "the rewriter's prompt fences the user's text"
        text = match.group(1)
        system = " ".join(m["content"] for m in body["messages"] if m["role"] == "system")
        if "Proofread the text" in system:
            for wrong, right in PROOFREAD_FIXES.items():
                text = re.sub(rf"\b{wrong}\b", right, text)
        return {"text": text}
    raise AssertionError(f"unexpected response schema {sorted(fields)}")


# --- checks ------------------------------------------------------------------------------


def assert_sticker_stored(blobs: BlobStore, sticker: dict[str, Any], size_px: int) -> None:
    """The sticker's PNG is on disk under its content hash, and is the promised size."""
    assert sticker["uri"] == f"blob://sha256/{sticker['sha256']}"
    path = blobs.resolve(sticker["uri"])
    assert path == blobs.path_of(sticker["sha256"])
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == sticker["sha256"]
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (size_px, size_px) == (sticker["width"], sticker["height"])
