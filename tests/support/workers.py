"""Services as real processes, for tests that kill or signal workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ECHO_WORKER = "tests.support.echo_worker"
REWRITER_WORKER = "tests.support.rewriter_worker"

# The rewriter on the small plumbing model, on CPU with one torch thread (two spinning OpenMP
# threads on a 2-core machine shared with the broker were measured many times slower), local
# tier only, no warm-up: a worker must be serving soon after a restart. One local draft per
# request (a rejected draft is served as `degraded`, there being no fallback tier): the
# scenarios count handler runs, and a second draft would double each run's cost, not its
# number.
SMOLLM2_REWRITER_ENV = {
    "REWRITER_LOCAL_ATTEMPTS": "1",
    # One draft per event: the scenario is about faults, and best-of-N would triple the work
    # in flight that a kill or a rebalance can throw away.
    "REWRITER_CANDIDATES": "1",
    "CAIRN_GENERATOR_MODEL": "smollm2-135m-instruct",
    "INFERENCE_DEVICE": "cpu",
    "INFERENCE_TORCH_THREADS": "1",
    "INFERENCE_WARMUP": "false",
    "INFERENCE_MAX_BATCH_SIZE": "8",
    "INFERENCE_MAX_WAIT_MS": "20",
    "CAIRN_TIERS": "local",
    "CAIRN_LATENCY_BUDGET_MS": "0",
}


def spawn_worker(
    topic: str,
    bootstrap: str,
    db_url: str,
    log: Path,
    *,
    runs: Path | None = None,
    module: str = ECHO_WORKER,
    **env: str,
) -> subprocess.Popen[bytes]:
    """A service as its own process (`python -m <module> TOPIC [RUNS]`).

    `runs`: the file the worker appends each handler run to (tests/support/runs.py).
    """
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
    args = [topic] if runs is None else [topic, str(runs)]
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO_ROOT,
            env=environ,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
