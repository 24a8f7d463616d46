"""The compose file: it must parse and interpolate (podman-compose config), and the services
must use the configuration names the Kubernetes manifests use."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

CAIRN_SERVICES = ("summarizer", "rewriter", "emoji", "migrate")
# Only meaningful against Amazon MSK (SASL_SSL); the local broker speaks PLAINTEXT.
K8S_ONLY = {"KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "OPENAI_API_KEY"}


def kubernetes_names(kustomization: Path) -> set[str]:
    """ConfigMap literals and Secret keys the base manifests give the services."""
    data = yaml.safe_load(kustomization.read_text())
    names = {
        literal.split("=", 1)[0]
        for gen in data.get("configMapGenerator") or []
        if gen["name"] == "cairn-config"
        for literal in gen.get("literals") or []
    }
    for doc in kustomization.parent.glob("*.yaml"):
        for obj in yaml.safe_load_all(doc.read_text()):
            for item in _env_items(obj):
                if "secretKeyRef" in item.get("valueFrom", {}):
                    names.add(item["name"])
    return names


def _env_items(obj: Any) -> list[dict[str, Any]]:
    if not isinstance(obj, dict) or obj.get("kind") not in {"Deployment", "Job"}:
        return []
    spec = obj["spec"]["template"]["spec"]
    return [e for c in spec.get("containers", []) for e in c.get("env") or []]


def rendered(compose_file: Path) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("podman-compose")
    # podman-compose asks `podman version` before any command, even `config`, which only
    # parses and interpolates and never runs podman. Where podman is not installed (CI's bare
    # machine), echo answers that question so the file is still checked.
    podman = shutil.which("podman") or shutil.which("echo") or "/bin/echo"
    done = subprocess.run(
        [str(exe), "--podman-path", podman, "-f", str(compose_file), "config"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ValueError(f"podman-compose config failed: {done.stderr.strip()[-500:]}")
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def check(compose_file: Path, kustomization: Path) -> list[str]:
    try:
        config = rendered(compose_file)
    except ValueError as exc:
        return [str(exc)]
    k8s = kubernetes_names(kustomization)
    problems = []
    for name in CAIRN_SERVICES:
        service = (config.get("services") or {}).get(name)
        if service is None:
            problems.append(f"no service {name!r}")
            continue
        env = service.get("environment") or {}
        names = set(env if isinstance(env, dict) else (e.split("=", 1)[0] for e in env))
        for extra in sorted(names - k8s):
            problems.append(f"{name}: {extra} is not a name the Kubernetes manifests use")
        for missing in sorted(k8s - names - K8S_ONLY):
            problems.append(f"{name}: {missing} is set in Kubernetes but not here")
        if str(env.get("INFERENCE_AUTO_INSTALL", "")).lower() != "false":
            problems.append(f"{name}: INFERENCE_AUTO_INSTALL is not false")
        if name != "migrate" and not service.get("healthcheck"):
            problems.append(f"{name}: no healthcheck")
        if ":latest" in str(service.get("image", "")) or ":" not in str(service.get("image", "")):
            problems.append(f"{name}: image {service.get('image')!r} is not pinned")
    return problems
