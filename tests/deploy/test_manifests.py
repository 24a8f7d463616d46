"""`make deploy-check` on the real overlays, and on deliberately broken ones.

Every overlay renders with the pinned kustomize and passes schema validation and policy; a
broken overlay (made in a temporary directory on top of the real base) fails with the rule
named, through the same command CI runs.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.deploycheck import __main__ as deploycheck
from infra.deploycheck import compose, policy, schemas, toolchain
from infra.deploycheck.constants import COMPOSE_FILE, K8S_DIR, OVERLAYS, ROOT

BASE = K8S_DIR / "base"


@pytest.fixture(scope="module")
def kustomize() -> Path:
    return toolchain.kustomize()


@pytest.fixture(scope="module")
def keda() -> Path:
    return toolchain.keda_crd_dir()


@pytest.fixture(scope="module")
def cpu_objects(kustomize: Path) -> list[dict[str, Any]]:
    return deploycheck.render(kustomize, K8S_DIR / "overlays" / "cpu")


def deployment(objs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == name)


def rules(findings: list[policy.Finding]) -> set[str]:
    return {f.rule for f in findings}


def broken_overlay(tmp_path: Path, **extra: Any) -> Path:
    """An overlay of the real base with extra kustomization fields (and files) added."""
    files = extra.pop("files", {})
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # kustomize takes a base by relative path only.
        "resources": [os.path.relpath(BASE, tmp_path), *extra.pop("resources", [])],
        **extra,
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return tmp_path


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.deploycheck", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_passes(kustomize: Path, keda: Path, overlay: str) -> None:
    assert deploycheck.check_overlay(kustomize, keda, K8S_DIR / "overlays" / overlay) == []


def test_overlays_request_their_accelerators(kustomize: Path) -> None:
    inf2 = deploycheck.render(kustomize, K8S_DIR / "overlays" / "inf2")
    cuda = deploycheck.render(kustomize, K8S_DIR / "overlays" / "cuda")
    for name in ("cairn-summarizer", "cairn-rewriter"):
        spec = deployment(inf2, name)["spec"]["template"]["spec"]
        limits = spec["containers"][0]["resources"]["limits"]
        assert limits["aws.amazon.com/neuroncore"] == 1
        assert spec["schedulerName"] == "my-scheduler"
        assert {
            "key": "aws.amazon.com/neuron",
            "operator": "Exists",
            "effect": "NoSchedule",
        } in spec["tolerations"]
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [
            "inf2.xlarge",
            "inf2.8xlarge",
        ]
        mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        assert "/var/cache/neuron" in mounts
        assert spec["containers"][0]["image"].endswith(":0.1.0-neuron")
        gpu = deployment(cuda, name)["spec"]["template"]["spec"]["containers"][0]
        assert gpu["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert gpu["image"].endswith(":0.1.0-cuda")
    # The emoji service's MiniLM stays on CPU nodes in both.
    for objs in (inf2, cuda):
        emoji = deployment(objs, "cairn-emoji")["spec"]["template"]["spec"]
        assert "schedulerName" not in emoji and "tolerations" not in emoji


def test_latest_tag_fails_the_check(tmp_path: Path) -> None:
    overlay = broken_overlay(
        tmp_path, images=[{"name": "registry.example.com/cairn/emoji", "newTag": "latest"}]
    )
    done = run_check("--overlay", str(overlay))
    assert done.returncode == 1
    assert "[image-tag] Deployment/cairn-emoji" in done.stdout and ":latest" in done.stdout


def test_missing_probe_fails_the_check(tmp_path: Path) -> None:
    patch = [{"op": "remove", "path": "/spec/template/spec/containers/0/readinessProbe"}]
    overlay = broken_overlay(
        tmp_path,
        patches=[
            {
                "target": {"kind": "Deployment", "name": "cairn-rewriter"},
                "patch": yaml.safe_dump(patch),
            }
        ],
    )
    done = run_check("--overlay", str(overlay))
    assert done.returncode == 1
    assert "[probes] Deployment/cairn-rewriter: rewriter: no readinessProbe" in done.stdout


def test_committed_secret_fails_the_check(tmp_path: Path) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "cairn-secrets"},
        "stringData": {"DATABASE_URL": "postgresql+asyncpg://cairn:hunter2@db:5432/cairn"},
    }
    overlay = broken_overlay(
        tmp_path, resources=["secret.yaml"], files={"secret.yaml": yaml.safe_dump(secret)}
    )
    done = run_check("--overlay", str(overlay))
    assert done.returncode == 1
    assert "[committed-secret] Secret/cairn-secrets" in done.stdout


def test_literal_credential_in_env_or_config_fails(cpu_objects: list[dict[str, Any]]) -> None:
    objs = copy.deepcopy(cpu_objects)
    container = deployment(objs, "cairn-summarizer")["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "OPENAI_API_KEY", "value": "sk-live-0123456789"})
    config = next(
        o for o in objs if o["kind"] == "ConfigMap" and "KAFKA_TOPIC_PARTITIONS" in o["data"]
    )
    config["data"]["DATABASE_URL"] = "postgresql+asyncpg://cairn:pw@db/cairn"
    found = [str(f) for f in policy.check_secrets(objs)]
    assert any("OPENAI_API_KEY is a literal" in f for f in found), found
    assert any("DATABASE_URL holds a credential" in f for f in found), found


def test_missing_resources_and_security_context_fail(cpu_objects: list[dict[str, Any]]) -> None:
    objs = copy.deepcopy(cpu_objects)
    spec = deployment(objs, "cairn-emoji")["spec"]["template"]["spec"]
    del spec["containers"][0]["resources"]["limits"]
    del spec["initContainers"][0]["resources"]
    spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    del spec["securityContext"]
    found = [str(f) for f in policy.check(objs)]
    assert "[resources] Deployment/cairn-emoji: emoji: missing limits.memory" in found
    assert any(
        f.startswith("[resources] Deployment/cairn-emoji: wait-for-migrations") for f in found
    )
    assert any("readOnlyRootFilesystem is not true" in f for f in found)
    assert any("emoji: runAsNonRoot is not true" in f for f in found)
    assert policy.check(copy.deepcopy(cpu_objects)) == []


def test_runtime_installs_fail(cpu_objects: list[dict[str, Any]]) -> None:
    objs = copy.deepcopy(cpu_objects)
    spec = deployment(objs, "cairn-rewriter")["spec"]["template"]["spec"]
    spec["containers"][0]["env"].append({"name": "INFERENCE_AUTO_INSTALL", "value": "true"})
    spec["initContainers"][0]["command"] = ["sh", "-c", "pip install torch && python -m x"]
    found = [str(f) for f in policy.check_runtime_installs(objs)]
    assert any("INFERENCE_AUTO_INSTALL is not false" in f for f in found), found
    assert any("runs 'sh -c pip install torch" in f for f in found), found


def test_scaling_above_partitions_and_short_grace_fail(cpu_objects: list[dict[str, Any]]) -> None:
    objs = copy.deepcopy(cpu_objects)
    so = next(
        o for o in objs if o["kind"] == "ScaledObject" and o["metadata"]["name"] == "cairn-emoji"
    )
    so["spec"]["maxReplicaCount"] = 12
    del so["spec"]["triggers"][0]["metadata"]["lagThreshold"]
    deployment(objs, "cairn-summarizer")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ] = 20
    objs = [
        o
        for o in objs
        if not (o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == "cairn-rewriter")
    ]
    found = [str(f) for f in policy.check(objs)]
    assert any("maxReplicaCount 12 is above the partition count 6" in f for f in found), found
    assert any("kafka trigger without lagThreshold" in f for f in found), found
    assert any(f.startswith("[termination] Deployment/cairn-summarizer") for f in found), found
    assert (
        "[availability] Deployment/cairn-rewriter: no PodDisruptionBudget selects its pods" in found
    )


def test_schema_errors_are_reported(cpu_objects: list[dict[str, Any]], keda: Path) -> None:
    objs = copy.deepcopy(cpu_objects)
    so = next(o for o in objs if o["kind"] == "ScaledObject")
    so["spec"]["maxReplicaCount"] = "six"
    assert any("maxReplicaCount" in e for e in schemas.validate(so, keda))
    dep = deployment(objs, "cairn-emoji")
    dep["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    assert schemas.validate(dep, keda) != []
    assert schemas.validate(deployment(cpu_objects, "cairn-emoji"), keda) == []


def test_hadolint_fails_on_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    done = run_check("--dockerfile", str(bad))
    assert done.returncode == 1
    assert "DL3007" in done.stdout  # :latest base
    assert (
        run_check("--dockerfile", str(ROOT / "services" / "emoji" / "Dockerfile")).returncode == 0
    )


def test_compose_uses_the_kubernetes_names(tmp_path: Path) -> None:
    assert compose.check(COMPOSE_FILE, BASE / "kustomization.yaml") == []
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    data["x-cairn-env"]["CAIRN_TOPIC_COUNT"] = "6"
    data["x-cairn-env"]["INFERENCE_AUTO_INSTALL"] = "true"
    del data["x-cairn-env"]["CAIRN_SHUTDOWN_GRACE_S"]
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(data, sort_keys=False))
    found = compose.check(broken, BASE / "kustomization.yaml")
    assert "summarizer: CAIRN_TOPIC_COUNT is not a name the Kubernetes manifests use" in found
    assert "summarizer: CAIRN_SHUTDOWN_GRACE_S is set in Kubernetes but not here" in found
    assert "emoji: INFERENCE_AUTO_INSTALL is not false" in found


def _stage_block(path: Path, start: str, end: str) -> str:
    text = path.read_text()
    return text[text.index(start) : text.index(end)]


def test_dockerfiles_share_their_stages() -> None:
    """The shared stages are one text, so buildah's layer cache builds them once for all."""
    files = [ROOT / "services" / s / "Dockerfile" for s in ("summarizer", "rewriter", "emoji")]
    shared = {_stage_block(f, "# ---- shared stages", "# ---- end of shared stages") for f in files}
    assert len(shared) == 1
    generator = {
        _stage_block(f, "# ---- generator stages", "# ---- end of generator stages")
        for f in files[:2]
    }
    assert len(generator) == 1
    for f in files:
        assert "INFERENCE_AUTO_INSTALL=false" in f.read_text()
        assert "USER 10001:10001" in f.read_text()
