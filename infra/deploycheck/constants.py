"""Pinned versions and paths of the deployment checks (one place)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "infra" / "k8s"
OVERLAYS = ("cpu", "cuda", "inf2")
COMPOSE_FILE = ROOT / "infra" / "compose" / "compose.yaml"
DOCKERFILES = (
    "services/summarizer/Dockerfile",
    "services/rewriter/Dockerfile",
    "services/emoji/Dockerfile",
    "infra/images/cuda.Dockerfile",
    "infra/images/neuron.Dockerfile",
)

# The Kubernetes version the manifests are validated against (EKS standard support).
KUBERNETES_VERSION = "1.33.0"
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.8.1"
KEDA_MODULE = "github.com/kedacore/keda/v2"
KEDA_VERSION = "v2.16.1"
KEDA_CRDS = {
    "ScaledObject": "keda.sh_scaledobjects.yaml",
    "TriggerAuthentication": "keda.sh_triggerauthentications.yaml",
    "ScaledJob": "keda.sh_scaledjobs.yaml",
}

# Where the checks keep kustomize and the Go module cache (override: CAIRN_DEPLOY_TOOLS).
TOOLS_ENV = "CAIRN_DEPLOY_TOOLS"
DEFAULT_TOOLS_DIR = ROOT / ".cairn" / "tools"

# Seconds the runtime waits past CAIRN_SHUTDOWN_GRACE_S (shared/messaging/app.py).
SHUTDOWN_MARGIN_S = 5
