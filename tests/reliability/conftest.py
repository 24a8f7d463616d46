"""Shared machinery of the fault scenarios: load, workers, read-back and the tally.

Every scenario ends with the same accounting, printed as one line:
`sent=<n> stored=<n> duplicates=<n> lost=<n> dlq=<n> published_dupes=<n>`, where
- sent: distinct request_ids the broker acknowledged,
- stored / duplicates: distinct request_ids in the database / rows beyond the first per id
  (0 by construction: the unique constraint; counted anyway so a schema change would show),
- lost: sent but never stored,
- dlq: records on the dead-letter topic,
- published_dupes: result records beyond the first per request_id (informational: redelivery
  after a crash or a failed commit re-publishes the stored result, by design),
- runs / recomputed: handler runs in all, and runs beyond the first per request_id: work
  begun again because a worker died before storing it (tests/support/runs.py). A redelivered
  event whose result is stored is answered from the database and does not run the handler.

Scenarios use PostgreSQL (a fresh database each), the production database; without it they
skip, or fail under CAIRN_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition
from sqlalchemy.engine import make_url

from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.messaging.app import ServiceRuntime
from shared.messaging.handler import Handler
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.conftest import _postgres_database
from tests.integration.messaging.conftest import echo_spec, runtime_settings
from tests.support.echo import EchoHandler
from tests.support.runs import CountingHandler, Runs

Record = ConsumerRecord[bytes, bytes]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for one scenario."""
    async for url in _postgres_database():
        yield url


def with_port(url: str, port: int) -> str:
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def echo_runtime(
    kafka: KafkaSettings,
    topic: str,
    db_url: str,
    state_dir: Path,
    *,
    handler: Handler | None = None,
    **overrides: Any,
) -> ServiceRuntime:
    """The echo service in the test's own process (its loop state can be inspected)."""
    return ServiceRuntime(
        echo_spec(topic),
        core=CoreSettings(CAIRN_STATE_DIR=str(state_dir)),
        kafka=kafka,
        runtime=runtime_settings(topic, **overrides),
        database=DatabaseSettings(DATABASE_URL=db_url),
        handler=handler or EchoHandler(),
    )


def counting_echo() -> CountingHandler:
    """The echo handler, its runs counted in memory (in-process scenarios)."""
    return CountingHandler(EchoHandler())


# -- load ------------------------------------------------------------------------------


def echo_event(i: int, *, keys: int = 17, **payload: Any) -> dict[str, Any]:
    return {
        "request_id": f"rel-{uuid.uuid4().hex[:12]}-{i}",
        "tenant_id": "tenant-r",
        "user_id": f"user-{i % keys}",
        "occurred_at": "2025-01-01T00:00:00+00:00",
        "payload": {"text": f"event {i}", **payload},
    }


# Short texts: on a 2-core machine a SmolLM2 batch of four takes seconds, and the scenarios
# are about what the runtime does with that work, not about long generations.
REWRITE_TEXTS = [
    "hey, review moved to thursday 3pm",
    "Das Treffen ist am Freitag um 10 Uhr.",
    "je serai en retard ce matin, désolé",
    "pls send the invoice before friday",
]


def rewrite_event(i: int, *, keys: int = 17) -> dict[str, Any]:
    """A short writing-tools request (rewrite, concise tone): a real model call each."""
    return {
        "request_id": f"rel-{uuid.uuid4().hex[:12]}-{i}",
        "tenant_id": "tenant-r",
        "user_id": f"user-{i % keys}",
        "occurred_at": "2025-01-01T00:00:00+00:00",
        "locale": ["en-US", "de-DE", "fr-FR", "en-GB"][i % 4],
        "payload": {
            "operation": "rewrite",
            "tone": "concise",
            "text": f"{REWRITE_TEXTS[i % len(REWRITE_TEXTS)]} #{i}",
        },
    }


@dataclass
class Load:
    """A producer that offers events at a steady rate and keeps what the broker acknowledged.

    Idempotent and acks=all, like the services' producers. A send that fails (broker gone
    longer than the request timeout) is retried with the same request_id: a second copy on
    the input topic is the runtime's to deduplicate.
    """

    bootstrap: str
    topic: str
    sent: set[str] = field(default_factory=set)
    failures: int = 0

    async def run(
        self,
        events: list[dict[str, Any] | bytes],
        *,
        rate_per_s: float,
        deadline_s: float = 120.0,
        key: Callable[[dict[str, Any] | bytes], bytes] | None = None,
    ) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=15_000,
            max_request_size=1024 * 1024,
        )
        await producer.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        pending: list[tuple[dict[str, Any] | bytes, asyncio.Future[Any]]] = []
        try:
            for i, ev in enumerate(events):
                # Pace by schedule, not by sleeping per event: the rate holds under jitter.
                delay = started + i / rate_per_s - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                pending.append((ev, await self._send(producer, ev, key)))
            for ev, fut in pending:
                await self._settle(producer, ev, fut, key, started + deadline_s)
        finally:
            await producer.stop()

    async def _send(
        self,
        producer: AIOKafkaProducer,
        ev: dict[str, Any] | bytes,
        key: Callable[[dict[str, Any] | bytes], bytes] | None,
    ) -> asyncio.Future[Any]:
        if isinstance(ev, bytes):
            value, k = ev, b"raw"
        else:
            value, k = json.dumps(ev).encode(), str(ev["user_id"]).encode()
        return await producer.send(self.topic, value, key=key(ev) if key else k)

    async def _settle(
        self,
        producer: AIOKafkaProducer,
        ev: dict[str, Any] | bytes,
        fut: asyncio.Future[Any],
        key: Callable[[dict[str, Any] | bytes], bytes] | None,
        deadline: float,
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await fut
                break
            except Exception:
                self.failures += 1
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.5)
                fut = await self._send(producer, ev, key)
        if isinstance(ev, dict):
            self.sent.add(ev["request_id"])


# -- reading back ---------------------------------------------------------------------


async def read_topic(bootstrap: str, topic: str, *, timeout_s: float = 60) -> list[Record]:
    """Every record of `topic` up to its end offsets as of now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[Record] = []
        deadline = time.monotonic() + timeout_s
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end in {timeout_s}s")
            for recs in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def wait_stored(
    repo: ResultRepository, expected: set[str], *, timeout_s: float, what: str = ""
) -> float:
    """Until every expected request_id is stored; returns the seconds it took."""
    started = time.monotonic()
    missing = len(expected)
    while time.monotonic() - started < timeout_s:
        missing = len(expected - set(await repo.request_ids()))
        if not missing:
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what}: {missing} of {len(expected)} not stored after {timeout_s}s")


@dataclass
class Tally:
    sent: set[str]
    stored: Counter[str]
    published: Counter[str]
    dlq: int
    runs: Runs

    @classmethod
    async def collect(
        cls, bootstrap: str, topic: str, db_url: str, sent: set[str], runs: Runs
    ) -> Tally:
        engine = create_engine(db_url)
        try:
            stored = Counter(await ResultRepository(engine).request_ids())
        finally:
            await engine.dispose()
        results = await read_topic(bootstrap, f"{topic}.results")
        published = Counter(json.loads(r.value)["request_id"] for r in results if r.value)
        dead = await read_topic(bootstrap, f"{topic}.dlq")
        return cls(set(sent), stored, published, len(dead), runs)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.stored.values())

    @property
    def lost(self) -> int:
        return len(self.sent - set(self.stored))

    @property
    def recomputed(self) -> int:
        return self.runs.recomputed

    @property
    def published_dupes(self) -> int:
        return sum(n - 1 for n in self.published.values())

    def line(self) -> str:
        return (
            f"sent={len(self.sent)} stored={len(self.stored)} duplicates={self.duplicates} "
            f"lost={self.lost} dlq={self.dlq} published_dupes={self.published_dupes} "
            f"runs={sum(self.runs.started.values())} recomputed={self.recomputed}"
        )

    def report(self, scenario: str, **extra: object) -> None:
        details = " ".join(f"{k}={v}" for k, v in extra.items())
        print(f"\n[{scenario}] {self.line()}{' ' + details if details else ''}", flush=True)

    def assert_nothing_lost(self, *, dlq: int = 0) -> None:
        assert self.lost == 0, f"lost {self.lost}: {sorted(self.sent - set(self.stored))[:5]}"
        assert self.duplicates == 0
        assert set(self.stored) <= self.sent, "stored something never sent"
        unpublished = self.sent - set(self.published)
        assert not unpublished, f"{len(unpublished)} stored but never published"
        assert self.dlq == dlq


# -- worker processes -------------------------------------------------------------------


def stop_worker(proc: subprocess.Popen[bytes], timeout_s: float = 20) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Belt and braces: whatever lives here is slow, so `make test` (-m "not slow") never runs
    it even if a new scenario forgets its marker. Runs before `-m` deselects."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in item.path.resolve().parents and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
