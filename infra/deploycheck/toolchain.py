"""kustomize and the KEDA CRDs, fetched once into the tools dir through the Go module proxy."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

from infra.deploycheck.constants import (
    DEFAULT_TOOLS_DIR,
    KEDA_MODULE,
    KEDA_VERSION,
    KUSTOMIZE_MODULE,
    KUSTOMIZE_VERSION,
    TOOLS_ENV,
)

log = logging.getLogger(__name__)


def tools_dir() -> Path:
    return Path(os.environ.get(TOOLS_ENV) or DEFAULT_TOOLS_DIR).resolve()


def _go_env() -> dict[str, str]:
    root = tools_dir()
    return {
        **os.environ,
        "GOPATH": str(root / "gopath"),
        "GOBIN": str(root / "bin"),
        "GOFLAGS": "-modcacherw",
    }


def _go() -> str:
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        raise RuntimeError("the Go toolchain is needed to build kustomize (go install)")
    return go


def kustomize() -> Path:
    """The pinned kustomize binary, built with `go install` the first time (about a minute)."""
    binary = tools_dir() / "bin" / "kustomize"
    stamp = binary.with_name("kustomize.version")
    if binary.is_file() and stamp.is_file() and stamp.read_text() == KUSTOMIZE_VERSION:
        return binary
    log.info("building kustomize %s (go install)", KUSTOMIZE_VERSION)
    subprocess.run(
        [_go(), "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"], env=_go_env(), check=True
    )
    stamp.write_text(KUSTOMIZE_VERSION)
    return binary


def keda_crd_dir() -> Path:
    """config/crd/bases of the pinned KEDA module (go mod download, no build)."""
    done = subprocess.run(
        [_go(), "mod", "download", "-json", f"{KEDA_MODULE}@{KEDA_VERSION}"],
        env=_go_env(),
        check=True,
        capture_output=True,
        text=True,
        cwd=tools_dir().parent if tools_dir().parent.is_dir() else None,
    )
    module_dir = Path(json.loads(done.stdout)["Dir"])
    return module_dir / "config" / "crd" / "bases"
