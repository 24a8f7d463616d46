"""Idempotency as an app sees it, through Kafka, the real services and the database.

Two tenants use the same request ids (and near-duplicates of them) with texts in several
languages: each gets its own answer, on its own message key, in its own row. A tenant that
resends a request gets the stored result again, byte for byte, with no second compute; one
that reuses an id for other content gets `idempotency_conflict`, and the stored answer stays
as it was. The same id in two features (a proofread and an emoji request) names two requests.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from schemas.envelope import IDEMPOTENCY_CONFLICT
from shared.messaging import dlq
from shared.messaging.idempotency import request_fingerprint
from shared.persistence.models import ResultRecord
from shared.persistence.repository import ResultKey
from tests.e2e.checks import check_emoji
from tests.e2e.conftest import RouterFactory, StartCairn
from tests.e2e.support import SPECS, Cairn, Delivered
from tests.support.events import consume_until, produce

pytestmark = [pytest.mark.kafka, pytest.mark.model, pytest.mark.timeout(600)]

T0 = datetime.now(UTC)
TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}

GERMAN = "Ich habe die Rechnung gestern bezahlt, bitte schicken sie mir die Quittung."
JAPANESE = "昨日請求書を支払いました。領収書を送ってください。"
FRENCH = "J'ai payé la facture hier, merci de m'envoyer le reçu."
SPANISH = "Pagué la factura ayer, por favor envíeme el recibo."


def event(
    tenant: str,
    request_id: str,
    payload: dict[str, Any],
    *,
    user: str | None = None,
    locale: str = "en-US",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "tenant_id": tenant,
        "user_id": user or f"{tenant}-user",
        "occurred_at": T0.isoformat(),
        "locale": locale,
        "payload": payload,
        **extra,
    }


def proofread(text: str) -> dict[str, Any]:
    return {"operation": "proofread", "text": text}


def emoji(description: str) -> dict[str, Any]:
    return {"description": description, "count": 3, "variations": 2}


class Exchange:
    """Produces events to a feature and returns the results they caused, one per event."""

    def __init__(self, services: Cairn) -> None:
        self.services = services
        self.seen: dict[str, set[tuple[int, int]]] = {}

    async def send(
        self, feature: str, events: list[dict[str, Any]]
    ) -> list[ConsumerRecord[bytes, bytes]]:
        seen = self.seen.setdefault(feature, set())
        await produce(self.services.bootstrap, self.services.input_topic(feature), events)
        records = await consume_until(
            self.services.bootstrap,
            self.services.output_topic(feature),
            count=len(seen) + len(events),
            timeout_s=300,
            distinct_by=None,
        )
        new = [r for r in records if (r.partition, r.offset) not in seen]
        seen.update((r.partition, r.offset) for r in new)
        return new


def by_key(records: list[ConsumerRecord[bytes, bytes]]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for record in records:
        doc = json.loads(record.value)
        key = (doc["tenant_id"], doc["request_id"])
        assert key not in out, f"{key} published twice in one exchange"
        out[key] = record
    return out


def assert_edits_of(d: Delivered) -> None:
    """A proofread of this request's own text: its edits are spans of that text and,
    applied to it, give exactly the published text (whatever the model or fallback did)."""
    assert d.status in ("ok", "degraded"), d.published
    source = d.request["payload"]["text"]
    result = d.result
    assert result is not None and result["operation"] == "proofread"
    rebuilt = source
    for edit in sorted(result["edits"], key=lambda e: e["start"], reverse=True):
        assert source[edit["start"] : edit["end"]] == edit["original"]
        rebuilt = rebuilt[: edit["start"]] + edit["replacement"] + rebuilt[edit["end"] :]
    assert rebuilt == result["text"]


async def rows(services: Cairn) -> list[ResultRecord]:
    sessions = async_sessionmaker(services.repository.engine, expire_on_commit=False)
    async with sessions() as session:
        return list((await session.scalars(select(ResultRecord).order_by(ResultRecord.id))).all())


async def test_same_ids_across_tenants_and_features_replays_and_conflicts(
    cairn: StartCairn, make_router: RouterFactory
) -> None:
    services = await cairn(make_router(CAIRN_TIERS="local"))
    exchange = Exchange(services)

    # --- first requests: one id (and its near-duplicates) across tenants and features ---
    writing = [
        event("acme", "req-1", proofread(GERMAN), locale="de-DE"),
        event("globex", "req-1", proofread(JAPANESE), locale="ja-JP"),
        event("globex", "REQ-1", proofread(FRENCH), locale="fr-FR"),
        event("acme", "Req-1", proofread(SPANISH), locale="es-ES"),
    ]
    # 'req-1 ' is not an id (spaces are outside the contract): rejected, never merged.
    spaced = event("acme", "req-1 ", proofread(GERMAN), locale="de-DE")
    stickers = [
        event("acme", "req-1", emoji("a cat wearing sunglasses")),
        event("globex", "req-1", emoji("birthday cake with candles")),
    ]
    written, drawn = await asyncio.gather(
        exchange.send("rewrite", [*writing, spaced]), exchange.send("emoji", stickers)
    )
    dead = await consume_until(
        services.bootstrap, f"{services.base_topic}.rewrite.dlq", count=1, distinct_by=None
    )
    assert len(dead) == 1 and dict(dead[0].headers)[dlq.ERROR_TYPE] == b"InvalidEventError"
    assert b"request_id" in dict(dead[0].headers)[dlq.ERROR_MESSAGE]
    assert len(written) == len(writing) and len(drawn) == len(stickers)

    stored = {(r.tenant_id, r.feature, r.request_id): r for r in await rows(services)}
    assert len(stored) == len(writing) + len(stickers), "one row per (tenant, feature, id)"
    first: dict[tuple[str, str, str], Any] = {}
    for feature, sent, got in (("rewrite", writing, written), ("emoji", stickers, drawn)):
        published = by_key(got)
        for ev in sent:
            record = published[(ev["tenant_id"], ev["request_id"])]
            doc = json.loads(record.value)
            row = stored[(ev["tenant_id"], feature, ev["request_id"])]
            # Its own answer, to its own user's key, stored as published, under its own key.
            assert record.key == ev["user_id"].encode()
            assert (doc["tenant_id"], doc["user_id"], doc["feature"]) == (
                ev["tenant_id"],
                ev["user_id"],
                feature,
            )
            assert row.output == doc and row.user_id == ev["user_id"]
            spec = SPECS[feature]
            request = spec.request_model.model_validate(ev)
            assert row.request_fingerprint == request_fingerprint(feature, request)
            delivered = Delivered(ev, doc, row)
            if feature == "rewrite":
                assert_edits_of(delivered)
            else:
                assert doc["status"] == "ok" and doc["result"]["matched"] is True
                check_emoji(delivered, services.blobs)
            first[(ev["tenant_id"], feature, ev["request_id"])] = record
    cat = json.loads(first[("acme", "emoji", "req-1")].value)["result"]["candidates"]
    cake = json.loads(first[("globex", "emoji", "req-1")].value)["result"]["candidates"]
    assert cake[0]["emoji"] == "🎂" and cat[0]["emoji"] != "🎂"
    texts = {
        k: json.loads(r.value)["result"]["text"] for k, r in first.items() if k[1] == "rewrite"
    }
    assert len(set(texts.values())) == len(texts), "four texts, four answers"
    generated = await services.repository.count()

    # --- resends and reused ids ------------------------------------------------------
    later = (T0 + timedelta(minutes=2)).isoformat()
    replays = {
        "rewrite": [
            {**writing[0], "occurred_at": later, "trace": TRACE},  # an app retry, re-stamped
            writing[2],  # a redelivery, byte for byte
        ],
        "emoji": [{**stickers[1], "occurred_at": later}],
    }
    conflicts = {
        "rewrite": [
            event("acme", "req-1", proofread(JAPANESE), locale="ja-JP"),  # another text
            event("globex", "REQ-1", proofread(FRENCH), locale="fr-FR", consent_external=True),
            event("acme", "Req-1", proofread(SPANISH), user="acme-other", locale="es-ES"),
        ],
        "emoji": [event("acme", "req-1", emoji("a dog with a party hat"))],
    }
    again_written, again_drawn = await asyncio.gather(
        exchange.send("rewrite", replays["rewrite"] + conflicts["rewrite"]),
        exchange.send("emoji", replays["emoji"] + conflicts["emoji"]),
    )
    for feature, got in (("rewrite", again_written), ("emoji", again_drawn)):
        assert len(got) == len(replays[feature]) + len(conflicts[feature])
        replayed = Counter(r.value for r in got)
        originals = set()
        for ev in replays[feature]:
            original = first[(ev["tenant_id"], feature, ev["request_id"])]
            originals.add(original.value)
            # The stored envelope again, byte for byte (same produced_at, same latency).
            assert replayed[original.value] == 1, f"{feature} {ev['request_id']} not replayed"
            match = next(r for r in got if r.value == original.value)
            assert match.key == original.key
        failed = [json.loads(r.value) for r in got if r.value not in originals]
        assert len(failed) == len(conflicts[feature])
        asked = {(ev["tenant_id"], ev["user_id"], ev["request_id"]) for ev in conflicts[feature]}
        assert {(d["tenant_id"], d["user_id"], d["request_id"]) for d in failed} == asked
        for doc in failed:
            assert doc["status"] == "failed" and doc["error"] == IDEMPOTENCY_CONFLICT
            assert doc["result"] is None, "never the stored answer"
            assert doc["provenance"]["degraded_reason"] == IDEMPOTENCY_CONFLICT
            assert doc["provenance"]["prompt_tokens"] == 0 and doc["provenance"]["cost_usd"] == 0

    # No second compute and nothing stored over an original: the rows are those of the
    # first requests, unchanged (output, fingerprint, provenance columns).
    after = {(r.tenant_id, r.feature, r.request_id): r for r in await rows(services)}
    assert await services.repository.count() == generated == len(after) == len(stored)
    for key, row in stored.items():
        now = after[key]
        assert now.output == row.output == json.loads(first[key].value)
        assert (now.id, now.request_fingerprint, now.model, now.latency_ms) == (
            row.id,
            row.request_fingerprint,
            row.model,
            row.latency_ms,
        )
        assert now.prompt_tokens == row.prompt_tokens
    acme = await services.repository.get_output(ResultKey("acme", "rewrite", "req-1"))
    assert acme is not None and acme["result"]["text"] == texts[("acme", "rewrite", "req-1")]
    assert JAPANESE not in json.dumps(acme, ensure_ascii=False)
