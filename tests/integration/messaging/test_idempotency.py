"""Idempotency per (tenant, feature, request_id), through the real broker and database.

The echo feature keeps this fast; tests/e2e/test_idempotency.py drives the real services.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.envelope import IDEMPOTENCY_CONFLICT
from shared.messaging import dlq
from shared.persistence.repository import ResultKey, ResultRepository
from tests.integration.messaging.conftest import StartEcho
from tests.support.echo import EchoHandler
from tests.support.events import consume_until, produce

pytestmark = pytest.mark.kafka

T0 = datetime.now(UTC)


def event(tenant: str, request_id: str, text: str, *, user: str | None = None) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "tenant_id": tenant,
        "user_id": user or f"{tenant}-user",
        "occurred_at": T0.isoformat(),
        "payload": {"text": text},
    }


# Same ids and near-duplicates across two tenants; texts in several languages.
FIRST = [
    event("tenant-a", "req-1", "Guten Morgen, die Lieferung kommt um 10 Uhr."),
    event("tenant-b", "req-1", "おはようございます。荷物は10時に届きます。"),
    event("tenant-b", "REQ-1", "Bonjour, la livraison arrive à 10 h."),
    event("tenant-a", "Req-1", "Buenos días, el paquete llega a las 10."),
    event("TENANT-A", "req-1", "Bom dia, a encomenda chega às 10h."),
]


async def _results(bootstrap: str, topic: str, count: int) -> list[Any]:
    records = await consume_until(bootstrap, f"{topic}.results", count=count, distinct_by=None)
    assert len(records) == count
    return records


async def test_same_ids_across_tenants_replays_and_conflicts(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str, repository: ResultRepository
) -> None:
    handler = EchoHandler()
    await start_echo(handler)
    await produce(kafka_bootstrap, topic, FIRST)
    first = await _results(kafka_bootstrap, topic, len(FIRST))
    by_key = {}
    for record in first:
        doc = json.loads(record.value)
        by_key[(doc["tenant_id"], doc["request_id"])] = record
        # Keyed like its request: the result reaches the asking user's partition.
        assert record.key == doc["user_id"].encode()
    for ev in FIRST:
        doc = json.loads(by_key[(ev["tenant_id"], ev["request_id"])].value)
        assert doc["status"] == "ok"
        assert doc["result"]["text"] == ev["payload"]["text"], "each tenant gets its own answer"
        assert doc["user_id"] == ev["user_id"]
        stored = await repository.get_output(ResultKey(ev["tenant_id"], "echo", ev["request_id"]))
        assert stored == doc
    assert await repository.count() == len(FIRST)

    original = FIRST[0]
    replay = {**original, "occurred_at": (T0 + timedelta(seconds=30)).isoformat()}
    conflict = event("tenant-a", "req-1", "Guten Abend, die Lieferung kommt morgen.")
    other_user = event("tenant-a", "req-1", original["payload"]["text"], user="intruder")
    spaced = event("tenant-a", "req-1 ", "mit Leerzeichen")
    await produce(kafka_bootstrap, topic, [replay, conflict, other_user, spaced])

    results = await _results(kafka_bootstrap, topic, len(FIRST) + 3)
    seen = {(r.partition, r.offset) for r in first}
    # Records come partition by partition; one user's are in order within its partition.
    later = sorted(
        (r for r in results if (r.partition, r.offset) not in seen),
        key=lambda r: (r.partition, r.offset),
    )
    assert len(later) == 3
    by_user: dict[str, list[Any]] = {}
    for record in later:
        by_user.setdefault(json.loads(record.value)["user_id"], []).append(record)

    # The replay: the stored envelope again, byte for byte, and no second execution.
    again = by_user["tenant-a-user"][0]
    assert again.value == by_key[("tenant-a", "req-1")].value
    conflicts = [json.loads(r.value) for r in later if r.value != again.value]
    assert len(conflicts) == 2
    for doc in conflicts:
        assert doc["status"] == "failed" and doc["error"] == IDEMPOTENCY_CONFLICT
        assert doc["result"] is None and doc["tenant_id"] == "tenant-a"
        assert doc["provenance"]["degraded_reason"] == IDEMPOTENCY_CONFLICT
    assert {d["user_id"] for d in conflicts} == {"tenant-a-user", "intruder"}
    assert handler.calls[("tenant-a", "req-1")] == 1, "neither replay nor conflict recomputed"
    assert sum(handler.calls.values()) == len(FIRST)

    # Nothing stored over the original; a request_id with a space is not an id at all.
    stored = await repository.get_output(ResultKey("tenant-a", "echo", "req-1"))
    assert stored is not None and stored["result"]["text"] == original["payload"]["text"]
    assert await repository.count() == len(FIRST)
    dead = await consume_until(kafka_bootstrap, f"{topic}.dlq", count=1, distinct_by=None)
    assert len(dead) == 1
    assert b"request_id" in dict(dead[0].headers)[dlq.ERROR_MESSAGE]


async def test_a_conflict_racing_the_original_never_gets_its_answer(
    start_echo: StartEcho, kafka_bootstrap: str, topic: str, repository: ResultRepository
) -> None:
    # Both in flight at once (one key, two users: two partitions), so both miss the lookup
    # and compute; the insert-once save decides, and the loser is told it conflicted.
    await start_echo(EchoHandler())
    a = event("tenant-a", "race-1", "Erste Fassung", user="user-1")
    a["payload"]["delay_ms"] = 300
    b = event("tenant-a", "race-1", "二番目の版", user="user-2")
    b["payload"]["delay_ms"] = 300
    await produce(kafka_bootstrap, topic, [a, b])
    docs = [json.loads(r.value) for r in await _results(kafka_bootstrap, topic, 2)]
    ok = [d for d in docs if d["status"] == "ok"]
    failed = [d for d in docs if d["status"] == "failed"]
    assert len(ok) == 1 and len(failed) == 1
    assert failed[0]["error"] == IDEMPOTENCY_CONFLICT and failed[0]["result"] is None
    assert ok[0]["user_id"] != failed[0]["user_id"]
    stored = await repository.get_output(ResultKey("tenant-a", "echo", "race-1"))
    assert stored == ok[0]
    assert await repository.count() == 1
