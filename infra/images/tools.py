"""podman / buildah invocations that work on the project's machines (no Docker engine).

Every command takes the same storage options, so images built by buildah are the ones podman
runs. `podman run` needs runc with cgroupfs and rlimits within the sandbox's own limits.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence

from infra.images.constants import STORAGE_DRIVER_ENV

log = logging.getLogger(__name__)

ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
RUN_FLAGS = ("--cgroup-manager", "cgroupfs", "--runtime", "runc", *ULIMITS)


def have(*tools: str) -> bool:
    return all(shutil.which(t) for t in tools)


def storage_flags() -> list[str]:
    # The system default (overlay where the kernel allows it); vfs works everywhere but copies
    # every layer in full.
    driver = os.environ.get(STORAGE_DRIVER_ENV, "")
    return ["--storage-driver", driver] if driver else []


def podman(*args: str) -> list[str]:
    return ["podman", *storage_flags(), *args]


def buildah(*args: str) -> list[str]:
    return ["buildah", *storage_flags(), *args]


def run(cmd: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    log.info("$ %s", " ".join(cmd))
    return subprocess.run(list(cmd), check=check, text=True)


def output(cmd: Sequence[str]) -> str:
    done = subprocess.run(list(cmd), check=False, text=True, capture_output=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def image_labels(tag: str) -> dict[str, str] | None:
    """The image's labels, or None when there is no such image."""
    raw = output(podman("image", "inspect", "--format", "{{json .Labels}}", tag))
    if not raw:
        return None
    labels = json.loads(raw)
    return dict(labels) if isinstance(labels, dict) else {}


def image_size(tag: str) -> int:
    raw = output(podman("image", "inspect", "--format", "{{.Size}}", tag))
    return int(raw) if raw.isdigit() else 0


def image_id(tag: str) -> str:
    return output(podman("image", "inspect", "--format", "{{.Id}}", tag))
