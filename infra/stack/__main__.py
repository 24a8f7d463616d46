"""`python -m infra.stack up|down|status|logs` — the native local stack behind `make up`.

`up` starts a broker (Apache Kafka in KRaft mode, or Tansu with BROKER=tansu), runs the
database migrations, and starts every feature service in the background with a log file and
a PID file under .cairn/stack/. `down` stops exactly what those PID files name.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from infra.stack.kafka import KafkaCluster, pid_alive
from infra.stack.tansu import start_tansu
from shared.config import REPO_ROOT, CoreSettings

SERVICES = ("summarizer", "rewriter", "emoji")
HEALTH_BASE_PORT = 9101


def stack_dir() -> Path:
    d = CoreSettings().state_dir / "stack"
    (d / "logs").mkdir(parents=True, exist_ok=True)
    (d / "pids").mkdir(parents=True, exist_ok=True)
    return d


def _pid_file(name: str) -> Path:
    return stack_dir() / "pids" / f"{name}.pid"


def _running(name: str) -> int | None:
    f = _pid_file(name)
    if f.exists():
        pid = int(f.read_text().split()[0])
        if pid_alive(pid):
            return pid
        f.unlink()
    return None


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_broker(kind: str, port: int) -> None:
    if _running("broker"):
        print(f"broker already running on 127.0.0.1:{port}")
        return
    if _port_open(port):
        sys.exit(f"port {port} is taken by another process; set KAFKA_PORT")
    log = stack_dir() / "logs" / "broker.log"
    if kind == "tansu":
        proc = start_tansu(port, log)
    else:
        cluster = KafkaCluster(stack_dir() / "kafka", ports=[port], heap_mb=768)
        cluster.format()
        node = cluster.nodes[0]
        cluster.start_node(node)
        assert node.process is not None
        proc = node.process
    _pid_file("broker").write_text(f"{proc.pid} {kind} {port}\n")
    deadline = time.monotonic() + 90
    while not _port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"broker did not start; see {log}")
        time.sleep(0.2)
    print(f"broker ({kind}) up on 127.0.0.1:{port}")


def run_migrations() -> None:
    subprocess.run([sys.executable, "-m", "shared.persistence.migrate", "upgrade"], check=True)


def start_services(names: list[str], env: dict[str, str]) -> list[tuple[str, int]]:
    started = []
    for i, name in enumerate(names):
        if not (REPO_ROOT / "services" / name / "__main__.py").exists():
            print(f"skipping {name}: services/{name} is not there")
            continue
        port = HEALTH_BASE_PORT + i
        if _running(name):
            print(f"{name} already running")
            started.append((name, port))
            continue
        log = stack_dir() / "logs" / f"{name}.log"
        with log.open("ab") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                cwd=REPO_ROOT,
                env={**env, "CAIRN_HEALTH_PORT": str(port)},
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _pid_file(name).write_text(f"{proc.pid} service {port}\n")
        started.append((name, port))
        print(f"started {name} (pid {proc.pid}, health http://127.0.0.1:{port}/readyz)")
    return started


def wait_ready(services: list[tuple[str, int]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for name, port in services:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        print(f"{name} ready")
                        break
            except OSError:
                pass
            if not _running(name):
                log = stack_dir() / "logs" / f"{name}.log"
                tail = log.read_text()[-2000:] if log.exists() else ""
                sys.exit(f"{name} exited during start-up; last log lines:\n{tail}")
            if time.monotonic() > deadline:
                sys.exit(
                    f"{name} not ready after {timeout_s:.0f}s; see .cairn/stack/logs/{name}.log"
                )
            time.sleep(0.5)


def stop(name: str, timeout_s: float = 30) -> None:
    pid = _running(name)
    if not pid:
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    _pid_file(name).unlink(missing_ok=True)
    print(f"stopped {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status", "logs", "broker"])
    parser.add_argument("--services", default=",".join(SERVICES))
    parser.add_argument("--ready-timeout", type=float, default=600)
    args = parser.parse_args()
    kind = os.environ.get("BROKER", "kafka")
    port = int(os.environ.get("KAFKA_PORT", "9092"))
    names = [s for s in args.services.split(",") if s]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}
    if kind == "tansu":
        env["KAFKA_IDEMPOTENT_PRODUCER"] = "false"

    if args.action in ("up", "broker"):
        start_broker(kind, port)
        if args.action == "broker":
            return
        run_migrations()
        wait_ready(start_services(names, env), args.ready_timeout)
        print("stack is up; `make logs` to follow, `make down` to stop")
    elif args.action == "down":
        for name in reversed(names):
            stop(name)
        stop("broker")
    elif args.action == "status":
        status = {n: _running(n) for n in ["broker", *names]}
        print(json.dumps(status, indent=2))
    elif args.action == "logs":
        logs = sorted((stack_dir() / "logs").glob("*.log"))
        os.execvp("tail", ["tail", "-n", "50", "-F", *map(str, logs)])


if __name__ == "__main__":
    main()
