"""Echo services on the real broker and database, started in-process per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.messaging.app import ServiceRuntime
from shared.messaging.handler import ServiceSpec
from shared.messaging.settings import RuntimeSettings
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.support.echo import ECHO_SPEC, EchoHandler

pytestmark = pytest.mark.kafka

StartEcho = Callable[..., Awaitable[ServiceRuntime]]


def runtime_settings(topic: str, **overrides: Any) -> RuntimeSettings:
    values: dict[str, Any] = {
        "CAIRN_GROUP_ID": f"group-{topic}",
        "CAIRN_DLQ_TOPIC": f"{topic}.dlq",
        "CAIRN_RETRY_INITIAL_S": 0.05,
        "CAIRN_RETRY_MAX_S": 0.5,
        "CAIRN_COMMIT_INTERVAL_S": 0.2,
        "CAIRN_SHUTDOWN_GRACE_S": 5,
        "CAIRN_SESSION_TIMEOUT_MS": 6000,
    }
    values.update(overrides)
    return RuntimeSettings(**values)


def echo_spec(topic: str) -> ServiceSpec[Any, Any]:
    return ECHO_SPEC.with_topics(topic, f"{topic}.results")


@pytest.fixture
async def start_echo(
    kafka_bootstrap: str, database_url: str, topic: str, tmp_path: object
) -> AsyncIterator[StartEcho]:
    started: list[ServiceRuntime] = []

    async def start(handler: EchoHandler | None = None, **overrides: Any) -> ServiceRuntime:
        runtime = ServiceRuntime(
            echo_spec(topic),
            core=CoreSettings(CAIRN_STATE_DIR=str(tmp_path)),
            kafka=KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PARTITIONS=4),
            runtime=runtime_settings(topic, **overrides),
            database=DatabaseSettings(DATABASE_URL=database_url),
            handler=handler or EchoHandler(),
        )
        await runtime.start()
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        await runtime.stop()


@pytest.fixture
async def repository(database_url: str) -> AsyncIterator[ResultRepository]:
    engine = create_engine(database_url)
    yield ResultRepository(engine)
    await engine.dispose()
