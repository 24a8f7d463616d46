"""No user text in logs at INFO or above, over a full in-process run.

Valid events, invalid ones and failing ones all carry a distinctive phrase; the JSON log lines
the runtime writes (the production formatter, `configure_logging`) are captured and searched.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from schemas.envelope import RequestEnvelope
from shared.config import CoreSettings, DatabaseSettings, KafkaSettings
from shared.messaging.app import ServiceRuntime
from shared.messaging.handler import HandlerResult
from shared.observability.logging import configure_logging
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.integration.messaging.conftest import echo_spec, runtime_settings
from tests.support.echo import EchoHandler
from tests.support.events import consume_until, echo_event, produce

pytestmark = pytest.mark.kafka

PHRASE = "Zanzibar-7 cardamom overdraft"
LOUD = logging.INFO


class LeakyLibraryHandler(EchoHandler):
    """Echo, except that some inputs make it raise the way libraries do: quoting the input.
    Like the real services it hands back the raw input text (stored where opted in)."""

    async def __call__(self, request: RequestEnvelope[Any]) -> HandlerResult[Any]:
        text: str = request.payload.text
        if text.startswith("parse:"):
            int(text)  # ValueError: invalid literal for int() with base 10: 'parse: ...'
        return replace(await super().__call__(request), input_text=text)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """The production JSON logging, writing into a buffer instead of stderr."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("aiokafka").level, sys.stderr)
    buffer = io.StringIO()
    sys.stderr = buffer  # configure_logging binds its handler to sys.stderr as it is now
    try:
        configure_logging("INFO", json_lines=True)
    finally:
        sys.stderr = saved[3]
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("aiokafka").setLevel(saved[2])


def events_with_the_phrase() -> tuple[list[dict[str, Any]], list[dict[str, Any] | bytes]]:
    valid = [echo_event(i, key=f"user-{i % 3}") for i in range(20)]
    for i, ev in enumerate(valid):
        ev["payload"]["text"] = f"{PHRASE} {i}"

    def mutated(**changes: Any) -> dict[str, Any]:
        ev = echo_event(0)
        ev["payload"]["text"] = PHRASE
        for name, value in changes.items():
            if name.startswith("payload_"):
                ev["payload"][name.removeprefix("payload_")] = value
            else:
                ev[name] = value
        return ev

    failing: list[dict[str, Any] | bytes] = [
        # Invalid in every way a reason could be tempted to quote the input.
        b"{not json " + PHRASE.encode(),
        PHRASE.encode(),
        PHRASE.encode("utf-16"),
        mutated(note=PHRASE),
        mutated(locale=PHRASE),
        mutated(request_id=PHRASE),
        mutated(occurred_at=PHRASE),
        mutated(quality_hint=PHRASE),
        mutated(payload_fail=PHRASE),
        mutated(payload_text=PHRASE * 40),  # over the 1000-character limit
        mutated(payload_text=PHRASE * 10_000),  # over the event byte limit
        mutated(payload=PHRASE),
        # Valid, but the handler fails: permanently, transiently past the attempts, and by
        # raising a library error whose message quotes the input.
        mutated(payload_fail="permanent"),
        mutated(payload_fail="transient", payload_fail_times=100),
        mutated(payload_text=f"parse: {PHRASE}"),
    ]
    return valid, failing


@pytest.mark.parametrize("store_input_text", [False, True])
async def test_user_text_never_logged_at_info_or_above(
    captured_logs: io.StringIO,
    kafka_bootstrap: str,
    any_database_url: str,
    topic: str,
    tmp_path: Path,
    store_input_text: bool,
) -> None:
    valid, failing = events_with_the_phrase()
    dead_count = len(failing)
    if store_input_text and any_database_url.startswith("postgresql"):
        # PostgreSQL refuses NUL in text: the insert fails for good, and SQLAlchemy's error
        # would carry the bound input text into the log unless parameters are hidden.
        nul = echo_event(99)
        nul["payload"]["text"] = f"{PHRASE}\x00"
        failing.append(nul)
        dead_count += 1
    runtime = ServiceRuntime(
        echo_spec(topic),
        core=CoreSettings(CAIRN_STATE_DIR=str(tmp_path)),
        kafka=KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, KAFKA_TOPIC_PARTITIONS=2),
        runtime=runtime_settings(topic, CAIRN_MAX_ATTEMPTS=2),
        database=DatabaseSettings(
            DATABASE_URL=any_database_url, CAIRN_STORE_INPUT_TEXT=store_input_text
        ),
        handler=LeakyLibraryHandler(),
    )
    engine = create_engine(any_database_url)
    repo = ResultRepository(engine)
    await runtime.start()
    try:
        await produce(kafka_bootstrap, topic, [*failing, *valid])
        dead = await consume_until(
            kafka_bootstrap, f"{topic}.dlq", count=dead_count, distinct_by=None, timeout_s=60
        )
        for _ in range(100):
            if await repo.count() >= len(valid):
                break
            await asyncio.sleep(0.2)
        stored = await repo.request_ids()
    finally:
        await runtime.stop()
        await engine.dispose()

    assert len(dead) == dead_count
    assert sorted(stored) == sorted(e["request_id"] for e in valid)
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines() if line.strip()]
    loud = [ln for ln in lines if logging.getLevelName(ln["level"]) >= LOUD]
    # The capture really holds the runtime's log: its start, every rejection, every failure.
    assert any(ln["msg"].startswith("starting echo") for ln in loud)
    assert sum("invalid event" in ln["msg"] for ln in loud) == 12
    assert sum(ln["level"] == "ERROR" for ln in loud) >= 3
    leaks = [ln for ln in loud if PHRASE in json.dumps(ln, ensure_ascii=False)]
    assert not leaks, "user text logged:\n" + "\n".join(json.dumps(ln) for ln in leaks)
