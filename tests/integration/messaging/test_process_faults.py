"""Worker processes killed with SIGKILL or stopped with SIGTERM, on the real broker and DB."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.support.events import committed_total, echo_event, produce
from tests.support.workers import spawn_worker

pytestmark = pytest.mark.kafka


async def rows(repo: ResultRepository) -> int:
    return await repo.count()


async def wait_rows(repo: ResultRepository, at_least: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    n = await rows(repo)
    while n < at_least and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        n = await rows(repo)
    return n


async def test_kill_9_mid_batch_then_restart_loses_nothing_stores_nothing_twice(
    kafka_bootstrap: str, database_url: str, topic: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    repo = ResultRepository(engine)
    events = [echo_event(i, delay_ms=20) for i in range(300)]
    await produce(kafka_bootstrap, topic, events)
    log = tmp_path / "worker.log"
    try:
        for _ in range(2):
            worker = spawn_worker(topic, kafka_bootstrap, database_url, log)
            before = await rows(repo)
            await wait_rows(repo, before + 40, 60)
            worker.send_signal(signal.SIGKILL)  # mid-batch: work in flight is lost
            worker.wait(10)
        worker = spawn_worker(topic, kafka_bootstrap, database_url, log)
        try:
            assert await wait_rows(repo, 300, 120) == 300, log.read_text()[-3000:]
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        stored = Counter(await repo.request_ids())
        assert stored == Counter(e["request_id"] for e in events)
        assert max(stored.values()) == 1
    finally:
        await engine.dispose()


async def test_sigterm_drains_and_commits_within_the_bound(
    kafka_bootstrap: str, database_url: str, topic: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    repo = ResultRepository(engine)
    grace_s = 5.0
    events = [echo_event(i, delay_ms=300) for i in range(200)]
    await produce(kafka_bootstrap, topic, events)
    log = tmp_path / "worker.log"
    worker = spawn_worker(
        topic, kafka_bootstrap, database_url, log, CAIRN_SHUTDOWN_GRACE_S=str(grace_s)
    )
    try:
        await wait_rows(repo, 20, 60)
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(worker.wait, grace_s + 15)
        elapsed = time.monotonic() - started
    finally:
        if worker.poll() is None:
            worker.kill()
    assert code == 0, log.read_text()[-3000:]
    assert elapsed < grace_s + 10
    stored = await rows(repo)
    committed = await committed_total(kafka_bootstrap, f"group-{topic}", topic)
    # In-flight work was finished and committed: nothing committed that is not stored, and
    # everything stored in order of each partition is acknowledged.
    assert 0 < committed <= stored
    assert stored - committed <= 4, "only out-of-order work past a gap may stay uncommitted"
    assert stored < len(events), "it stopped instead of draining the whole topic"
    await engine.dispose()
