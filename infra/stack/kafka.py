"""Apache Kafka in KRaft mode, run natively from the Maven Central jars (Java 17).

One node is the local default; `KafkaCluster(n=3)` runs a three-broker quorum on one machine
(separate ports and log dirs) to test replication and broker loss. `scram_users` puts the client
port behind SASL/SCRAM-SHA-512 (what Amazon MSK offers), to test authenticated clients.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

KAFKA_DIR = Path(__file__).resolve().parent.parent / "kafka"
LIB_DIR = KAFKA_DIR / "lib"
READY_TIMEOUT_S = 90.0
SCRAM_MECHANISM = "SCRAM-SHA-512"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_jars() -> None:
    """Resolve the broker classpath from Maven Central once (cached in infra/kafka/lib)."""
    marker = LIB_DIR / ".complete"
    if marker.exists():
        return
    if shutil.which("java") is None or shutil.which("mvn") is None:
        raise RuntimeError("Apache Kafka needs Java 17 and Maven; or use BROKER=tansu")
    log.info("resolving Apache Kafka jars from Maven Central...")
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(KAFKA_DIR / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={LIB_DIR}",
            "-DincludeScope=runtime",
        ],
        check=True,
    )
    marker.write_text("ok\n")


@dataclass
class BrokerNode:
    node_id: int
    port: int
    controller_port: int
    data_dir: Path
    extra_config: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    # With SCRAM, `port` (the one clients bootstrap from) needs SASL; brokers talk to each
    # other on this unauthenticated loopback port, so no broker credentials are needed.
    internal_port: int | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def properties(self, voters: str, replication: int) -> str:
        min_isr = 2 if replication >= 3 else 1
        config = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            **self._listeners(),
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": "6",
            "default.replication.factor": str(replication),
            "min.insync.replicas": str(min_isr),
            "offsets.topic.replication.factor": str(replication),
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": str(replication),
            "transaction.state.log.min.isr": str(min_isr),
            # Tests create groups constantly; the default 3 s delay only slows them down.
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "24",
        }
        config.update(self.extra_config)
        return "".join(f"{k}={v}\n" for k, v in config.items())

    def _listeners(self) -> dict[str, str]:
        controller = f"CONTROLLER://127.0.0.1:{self.controller_port}"
        if self.internal_port is None:
            return {
                "listeners": f"PLAINTEXT://127.0.0.1:{self.port},{controller}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
                "inter.broker.listener.name": "PLAINTEXT",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            }
        client = f"SASL_PLAINTEXT://127.0.0.1:{self.port}"
        internal = f"INTERNAL://127.0.0.1:{self.internal_port}"
        return {
            "listeners": f"{client},{internal},{controller}",
            "advertised.listeners": f"{client},{internal}",
            "inter.broker.listener.name": "INTERNAL",
            "listener.security.protocol.map": (
                "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT"
            ),
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            # The server side of SCRAM needs a login module but no credentials of its own:
            # users live in the cluster metadata (added at format time).
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
        }


class KafkaCluster:
    """`n` KRaft nodes, each broker and controller, on loopback ports."""

    def __init__(
        self,
        base_dir: Path,
        *,
        nodes: int = 1,
        ports: list[int] | None = None,
        heap_mb: int = 512,
        extra_config: dict[str, str] | None = None,
        scram_users: dict[str, str] | None = None,
    ) -> None:
        self.base_dir = base_dir
        self.heap_mb = heap_mb
        self.scram_users = dict(scram_users or {})
        ports = ports or [free_port() for _ in range(nodes)]
        self.nodes = [
            BrokerNode(
                node_id=i + 1,
                port=ports[i],
                controller_port=free_port(),
                data_dir=base_dir / f"node{i + 1}",
                extra_config=dict(extra_config or {}),
                internal_port=free_port() if self.scram_users else None,
            )
            for i in range(nodes)
        ]
        self.voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes)

    def _java(self, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap_mb}m",
            f"-Xms{min(self.heap_mb, 256)}m",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",  # C1 only: faster start-up, plenty for tests
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
            "-cp",
            f"{LIB_DIR}/*",
            *args,
        ]

    def format(self) -> None:
        ensure_jars()
        cluster_id = uuid.uuid4().hex[:22]
        # Kafka wants a base64 UUID; StorageTool validates it, so ask it for one.
        out = subprocess.run(
            self._java("kafka.tools.StorageTool", "random-uuid"),
            check=True,
            capture_output=True,
            text=True,
        )
        cluster_id = out.stdout.strip().splitlines()[-1]
        replication = min(3, len(self.nodes))
        for node in self.nodes:
            node.data_dir.mkdir(parents=True, exist_ok=True)
            props = node.data_dir / "server.properties"
            props.write_text(node.properties(self.voters, replication))
            if (node.data_dir / "logs" / "meta.properties").exists():
                continue
            # KRaft stores SCRAM credentials in the cluster metadata; formatting is the one
            # moment they can be added without a running broker.
            scram = [
                arg
                for name, password in self.scram_users.items()
                for arg in ("--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]")
            ]
            subprocess.run(
                self._java(
                    "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), *scram
                ),
                check=True,
                capture_output=True,
            )

    def start_node(self, node: BrokerNode) -> None:
        log_fh = node.log_file.open("ab")
        node.process = subprocess.Popen(
            self._java("kafka.Kafka", str(node.data_dir / "server.properties")),
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the test runner must not kill it mid-write
        )
        log_fh.close()

    def start(self) -> None:
        self.format()
        for node in self.nodes:
            self.start_node(node)
        self.wait_ready()

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until every broker answers a metadata request with all brokers registered."""
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            while not _port_open(node.port):
                if node.process and node.process.poll() is not None:
                    raise RuntimeError(
                        f"Kafka node {node.node_id} exited; see {node.log_file}:\n"
                        + node.log_file.read_text()[-3000:]
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Kafka node {node.node_id} not up in {timeout_s}s")
                time.sleep(0.2)

    def stop_node(self, node: BrokerNode, *, kill: bool = False) -> None:
        if node.process is None or node.process.poll() is not None:
            return
        node.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            node.process.wait(30)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(10)

    def stop(self) -> None:
        for node in self.nodes:
            self.stop_node(node)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
