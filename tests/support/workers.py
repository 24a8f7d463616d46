"""The echo service as a real process, for tests that kill or signal workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def spawn_worker(
    topic: str, bootstrap: str, db_url: str, log: Path, **env: str
) -> subprocess.Popen[bytes]:
    """The echo service as its own process (`python -m tests.support.echo_worker`)."""
    environ = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_PARTITIONS": "4",
        "DATABASE_URL": db_url,
        "CAIRN_GROUP_ID": f"group-{topic}",
        "CAIRN_DLQ_TOPIC": f"{topic}.dlq",
        "CAIRN_COMMIT_INTERVAL_S": "0.2",
        "CAIRN_SESSION_TIMEOUT_MS": "6000",
        "CAIRN_RETRY_INITIAL_S": "0.05",
        "CAIRN_RETRY_MAX_S": "0.5",
        "CAIRN_SHUTDOWN_GRACE_S": "5",
        "CAIRN_HEALTH_PORT": "0",
        **env,
    }
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.echo_worker", topic],
            cwd=REPO_ROOT,
            env=environ,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
