"""A service process's exit status tells a crash from a shutdown, so a supervisor that
restarts on failure restarts a dead consumer: real worker processes, real broker."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from infra.stack.kafka import free_port
from shared.messaging.exits import ExitCode
from shared.persistence.engine import create_engine
from shared.persistence.repository import ResultRepository
from tests.support.events import echo_event, produce
from tests.support.probes import wait_probe
from tests.support.workers import spawn_worker

pytestmark = pytest.mark.kafka


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


async def exit_code(worker: subprocess.Popen[bytes], timeout_s: float = 40) -> int:
    try:
        return await asyncio.to_thread(worker.wait, timeout_s)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(5)


async def ready_worker(
    topic: str, bootstrap: str, db_url: str, log: Path
) -> tuple[subprocess.Popen[bytes], int]:
    health = free_port()
    worker = spawn_worker(topic, bootstrap, db_url, log, CAIRN_HEALTH_PORT=str(health))
    for _ in range(300):  # the port opens early in start-up
        try:
            status, _ = await wait_probe(health, "/readyz", lambda s, _: s == 200, timeout_s=60)
            break
        except OSError:
            await asyncio.sleep(0.2)
    assert status == 200, tail(log)
    return worker, health


async def test_sigterm_exits_0_after_its_work(
    kafka_bootstrap: str, database_url: str, topic: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    worker, _ = await ready_worker(topic, kafka_bootstrap, database_url, log)
    await produce(kafka_bootstrap, topic, [echo_event(i) for i in range(20)])
    engine = create_engine(database_url)
    try:
        repo = ResultRepository(engine)
        for _ in range(150):
            if await repo.count() == 20:
                break
            await asyncio.sleep(0.2)
        assert await repo.count() == 20
    finally:
        await engine.dispose()
    worker.send_signal(signal.SIGTERM)
    assert await exit_code(worker) == ExitCode.STOPPED == 0, tail(log)


async def test_a_consume_loop_that_dies_exits_70_and_says_why(
    kafka_bootstrap: str, database_url: str, topic: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    worker, _ = await ready_worker(topic, kafka_bootstrap, database_url, log)
    worker.send_signal(signal.SIGUSR1)  # its Kafka client is closed under the running loop
    code = await exit_code(worker)
    assert code == ExitCode.LOOP_CRASHED == 70, tail(log)
    text = tail(log, 100_000)
    assert "consumer loop crashed: ConsumerStoppedError" in text
    assert "exit status 70" in text


async def test_an_unreachable_broker_at_start_exits_69(
    database_url: str, topic: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    nothing_there = f"127.0.0.1:{free_port()}"
    worker = spawn_worker(topic, nothing_there, database_url, log)
    code = await exit_code(worker, timeout_s=90)
    assert code == ExitCode.START_FAILED == 69, tail(log)
    assert "failed to start: KafkaConnectionError" in tail(log, 100_000)


async def test_sigterm_during_start_up_exits_0(
    database_url: str, topic: str, tmp_path: Path
) -> None:
    # Nothing answers on the broker address: start-up is still retrying the bootstrap when
    # the orchestrator gives up on the pod. A requested stop is a stop, not a failure.
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        log = tmp_path / "worker.log"
        worker = spawn_worker(topic, address, database_url, log)
        for _ in range(100):
            if "starting echo" in tail(log):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        assert worker.poll() is None, tail(log)
        worker.send_signal(signal.SIGTERM)
        code = await exit_code(worker)
    assert code == ExitCode.STOPPED, tail(log)
