"""Names and versions of the images; one place, read by the builder, the tests and the docs."""

from __future__ import annotations

from pathlib import Path

# The version in every tag; manifests pin the same one (infra/k8s/base/kustomization.yaml).
VERSION = "0.1.0"
SERVICES = ("summarizer", "rewriter", "emoji")
REPOSITORY = "localhost/cairn"

# Debian base made by mmdebstrap: what the images need from the distribution, nothing more.
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_TAG = f"{REPOSITORY}-base:{DEBIAN_SUITE}-py311"

# Labels the builder sets to know whether an image is up to date.
INPUTS_LABEL = "org.cairn.inputs"
RECIPE_LABEL = "org.cairn.base-recipe"

# Paths of the build context the Dockerfiles read (see .dockerignore).
CONTEXT_PATHS = ("pyproject.toml", "schemas", "shared", "services")

# Environment: the containers/storage driver for podman and buildah (unset: the default).
STORAGE_DRIVER_ENV = "CAIRN_CONTAINER_STORAGE_DRIVER"
# Where the host's pip cache and CA bundle are mounted during builds.
PIP_CACHE_MOUNT = "/pip-cache"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_MOUNT = "/run/cairn-build-ca.crt"


def image_tag(service: str) -> str:
    return f"{REPOSITORY}-{service}:{VERSION}"


def dockerfile(service: str) -> str:
    return f"services/{service}/Dockerfile"
