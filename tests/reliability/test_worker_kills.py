"""Scenario 3: worker processes killed with SIGKILL again and again during a 2,000-event run.

Two echo workers share the consumer group. While the events arrive, one of them is killed
every few seconds (no shutdown, no commit, work in hand lost) and a replacement started at
once. Whatever was in flight is redelivered to whoever owns the partition next: re-published
from the database if it was stored, processed otherwise. Nothing may be lost or stored twice.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.reliability.conftest import (
    Load,
    Tally,
    echo_event,
    log_tail,
    stop_worker,
    wait_stored,
)
from tests.support.workers import spawn_worker

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.postgres]

EVENTS = 2000
RATE_PER_S = 60.0  # arrivals over ~33 s, all of it under fire
# A killed member holds its partitions until its session times out (6 s, the broker's
# minimum), so kills closer together than that would only hit a group that is stalled anyway.
KILL_EVERY_S = 6.5
KILLS = 5
WORKERS = 2


async def test_repeated_sigkill_of_workers_loses_nothing(
    kafka_bootstrap: str, pg_url: str, topic: str, tmp_path: Path
) -> None:
    logs = [tmp_path / f"worker{i}.log" for i in range(WORKERS)]
    workers = [spawn_worker(topic, kafka_bootstrap, pg_url, log) for log in logs]
    engine = create_engine(pg_url)
    repo = ResultRepository(engine)
    load = Load(kafka_bootstrap, topic)
    events = [echo_event(i, delay_ms=5) for i in range(EVENTS)]
    kills: list[tuple[float, int]] = []  # (seconds into the run, rows stored at that moment)
    started = time.monotonic()
    try:
        await asyncio.sleep(3)  # both up before the first event: the test is about kills
        producing = asyncio.create_task(load.run(events, rate_per_s=RATE_PER_S))
        for n in range(KILLS):
            await asyncio.sleep(KILL_EVERY_S)
            victim = n % WORKERS
            workers[victim].send_signal(signal.SIGKILL)
            await asyncio.to_thread(workers[victim].wait, 10)
            kills.append((time.monotonic() - started, await repo.count()))
            workers[victim] = spawn_worker(topic, kafka_bootstrap, pg_url, logs[victim])
        await producing
        try:
            drain_s = await wait_stored(repo, load.sent, timeout_s=180, what="after the kills")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log_tail(logs[0])}\n{log_tail(logs[1])}") from exc
    finally:
        codes = [await asyncio.to_thread(stop_worker, w) for w in workers]
        await engine.dispose()
    total_s = time.monotonic() - started

    tally = await Tally.collect(kafka_bootstrap, topic, pg_url, load.sent)
    tally.report(
        "worker-sigkill",
        kills=len(kills),
        rows_at_kills=[rows for _, rows in kills],
        drain_after_last_event_s=f"{drain_s:.1f}",
        total_s=f"{total_s:.1f}",
    )
    tally.assert_nothing_lost()
    assert len(kills) == KILLS
    # The kills hit a run in progress: rows were being written when they came.
    assert 0 < kills[0][1] < kills[-1][1] < EVENTS
    assert codes == [0] * WORKERS, "the survivors still stop cleanly on SIGTERM"
