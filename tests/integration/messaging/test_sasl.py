"""SASL/SCRAM-SHA-512 against a real broker (the authentication Amazon MSK offers).

A one-node KRaft broker whose client port requires SCRAM; the user is created at format time.
Settings come from the environment, as in a deployment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError

from infra.stack.kafka import KafkaCluster
from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.messaging.app import ServiceRuntime
from shared.messaging.clients import connection_kwargs, make_producer
from shared.messaging.topics import ensure_topics
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.integration.messaging.conftest import echo_spec, runtime_settings
from tests.support.echo import EchoHandler
from tests.support.events import echo_event

pytestmark = pytest.mark.kafka

USER = "cairn"
PASSWORD = "scram-pw-41c7e2"


@pytest.fixture(scope="module")
def scram_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cluster = KafkaCluster(
        tmp_path_factory.mktemp("kafka-scram"), heap_mb=384, scram_users={USER: PASSWORD}
    )
    cluster.start()
    try:
        yield cluster.bootstrap
    finally:
        cluster.stop()


def sasl_env(monkeypatch: pytest.MonkeyPatch, bootstrap: str, password: str) -> KafkaSettings:
    """Settings the way a deployment gets them: environment variables only."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", USER)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", password)
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", "2")
    return KafkaSettings()


def echo_runtime(
    kafka: KafkaSettings, topic: str, database_url: str, state: Path
) -> ServiceRuntime:
    return ServiceRuntime(
        echo_spec(topic),
        core=CoreSettings(CAIRN_STATE_DIR=str(state)),
        kafka=kafka,
        runtime=runtime_settings(topic),
        database=DatabaseSettings(DATABASE_URL=database_url),
        handler=EchoHandler(),
    )


async def read_results(kafka: KafkaSettings, topic: str, count: int) -> list[dict[str, object]]:
    consumer = AIOKafkaConsumer(
        topic, auto_offset_reset="earliest", enable_auto_commit=False, **connection_kwargs(kafka)
    )
    await consumer.start()
    docs: list[dict[str, object]] = []
    deadline = time.monotonic() + 60
    try:
        while len(docs) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                docs.extend(json.loads(r.value) for r in records if r.value)
    finally:
        await consumer.stop()
    return docs


async def test_echo_round_trip_over_scram(
    scram_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
    topic: str,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kafka = sasl_env(monkeypatch, scram_bootstrap, PASSWORD)
    runtime = echo_runtime(kafka, topic, database_url, tmp_path)
    events = [echo_event(i) for i in range(20)]
    engine = create_engine(database_url)
    await runtime.start()
    try:
        producer = make_producer(kafka, client_id="test-producer")
        await producer.start()
        try:
            for ev in events:
                await producer.send(topic, json.dumps(ev).encode(), key=ev["user_id"].encode())
            await producer.flush()
        finally:
            await producer.stop()
        results = await read_results(kafka, f"{topic}.results", len(events))
        stored = await ResultRepository(engine).request_ids()
    finally:
        await runtime.stop()
        await engine.dispose()
    expected = {e["request_id"] for e in events}
    assert {r["request_id"] for r in results} == expected
    assert set(stored) == expected
    assert all(PASSWORD not in rec.getMessage() for rec in caplog.records)


async def test_wrong_password_fails_fast_and_says_why(
    scram_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
    topic: str,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-the-password"
    runtime = echo_runtime(
        sasl_env(monkeypatch, scram_bootstrap, wrong), topic, database_url, tmp_path
    )
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    try:
        with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
            await asyncio.wait_for(runtime.start(), 30)
    finally:
        await runtime.stop()
    assert time.monotonic() - started < 15, "it must fail, not retry forever"
    # The raised error is generic; the client logs the broker's precise answer at ERROR.
    reasons = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(
        "SaslAuthenticationFailed" in m and "invalid credentials" in m and "SCRAM-SHA-512" in m
        for m in reasons
    ), reasons
    assert all(wrong not in rec.getMessage() for rec in caplog.records)


async def test_unauthenticated_client_is_refused(scram_bootstrap: str) -> None:
    # The client port speaks SASL only: a PLAINTEXT client gets no metadata at all.
    plain = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=scram_bootstrap)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(ensure_topics(plain, ["never-created"]), 30)
