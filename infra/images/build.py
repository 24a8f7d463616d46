"""Build the Debian base and the service images, skipping whatever is already up to date.

An image is up to date when its `org.cairn.inputs` label equals the hash of what it is built
from: its Dockerfile, the base image's id and every file of the build context. So a second
`make images` costs one `podman image inspect` per image.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infra.images import tools
from infra.images.constants import (
    BASE_TAG,
    CA_MOUNT,
    CONTEXT_PATHS,
    DEBIAN_PACKAGES,
    DEBIAN_SUITE,
    HOST_CA_BUNDLE,
    INPUTS_LABEL,
    PIP_CACHE_MOUNT,
    RECIPE_LABEL,
    SERVICES,
    dockerfile,
    image_tag,
)

log = logging.getLogger("infra.images")
ROOT = Path(__file__).resolve().parents[2]


def _recipe() -> str:
    return hashlib.sha256(f"{DEBIAN_SUITE}:{','.join(DEBIAN_PACKAGES)}".encode()).hexdigest()[:16]


def build_base(*, force: bool = False) -> float:
    """mmdebstrap a minimal Debian with Python, import it as BASE_TAG; seconds (0 = cached)."""
    labels = tools.image_labels(BASE_TAG)
    if not force and labels is not None and labels.get(RECIPE_LABEL) == _recipe():
        log.info("base %s is up to date", BASE_TAG)
        return 0.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cairn-base-") as tmp:
        tar = Path(tmp) / "rootfs.tar"
        tools.run(
            [
                "mmdebstrap",
                "--variant=minbase",
                f"--include={','.join(DEBIAN_PACKAGES)}",
                "--quiet",
                DEBIAN_SUITE,
                str(tar),
            ]
        )
        tools.run(
            tools.podman(
                "import",
                "--change",
                f"LABEL {RECIPE_LABEL}={_recipe()}",
                "--change",
                'CMD ["python3"]',
                str(tar),
                BASE_TAG,
            )
        )
    return time.monotonic() - started


def context_files() -> list[Path]:
    """Every file the build context sends (tracked or new, not ignored; no Dockerfile)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *CONTEXT_PATHS],
        cwd=ROOT,
        check=True,
        text=True,
        capture_output=True,
    ).stdout.split()
    kept = [p for p in listed if "__pycache__" not in p and not p.endswith("Dockerfile")]
    return sorted(ROOT / p for p in kept if (ROOT / p).is_file())


def inputs_hash(service: str, base: str) -> str:
    digest = hashlib.sha256()
    digest.update(tools.image_id(base).encode())
    for path in [ROOT / dockerfile(service), ROOT / ".dockerignore", *context_files()]:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_service(service: str, base: str, *, force: bool = False) -> float:
    """Build one service image unless it is up to date; seconds spent (0 = cached)."""
    tag = image_tag(service)
    wanted = inputs_hash(service, base)
    labels = tools.image_labels(tag)
    if not force and labels is not None and labels.get(INPUTS_LABEL) == wanted:
        log.info("%s is up to date (%s)", tag, wanted)
        return 0.0
    pip_cache = Path.home() / ".cache" / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    trust: list[str] = []
    if HOST_CA_BUNDLE.is_file():
        # Where TLS to the registries goes through an intercepting proxy, the build trusts
        # what the host trusts; the bundle is a build volume, never part of the image.
        trust = ["--volume", f"{HOST_CA_BUNDLE}:{CA_MOUNT}:ro"]
        trust += ["--build-arg", f"PIP_CERT={CA_MOUNT}"]
        trust += ["--build-arg", f"NODE_EXTRA_CA_CERTS={CA_MOUNT}"]
    started = time.monotonic()
    tools.run(
        tools.buildah(
            "bud",
            "--format",
            "docker",
            "--layers",
            "--isolation",
            "chroot",
            *tools.ULIMITS,
            "--build-arg",
            f"BASE={base}",
            "--build-arg",
            f"PIP_CACHE_DIR={PIP_CACHE_MOUNT}",
            "--volume",
            f"{pip_cache}:{PIP_CACHE_MOUNT}",
            *trust,
            "--label",
            f"{INPUTS_LABEL}={wanted}",
            "--file",
            dockerfile(service),
            "--tag",
            tag,
            ".",
        )
    )
    return time.monotonic() - started


def report(built: dict[str, float], path: Path) -> dict[str, object]:
    data: dict[str, object] = {
        "images": {
            image_tag(s): {
                "bytes": tools.image_size(image_tag(s)),
                "build_s": round(built.get(s, 0), 1),
            }
            for s in SERVICES
        },
        "base": {"tag": BASE_TAG, "bytes": tools.image_size(BASE_TAG)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.images", description=__doc__)
    parser.add_argument("command", choices=["build", "base", "report"])
    parser.add_argument("--only", action="append", choices=SERVICES, help="one service")
    parser.add_argument("--base", help="base image (default: the mmdebstrap one)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--report", type=Path, default=ROOT / "build" / "images.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not tools.have("podman", "buildah", "mmdebstrap"):
        log.error("podman, buildah and mmdebstrap are needed: make images-tools")
        return 2
    spent: dict[str, float] = {}
    if args.command in ("build", "base") and not args.base:
        spent["base"] = build_base(force=args.force)
    if args.command == "build":
        for service in args.only or SERVICES:
            spent[service] = build_service(service, args.base or BASE_TAG, force=args.force)
    data = report(spent, args.report)
    for tag, info in data["images"].items():  # type: ignore[attr-defined]
        log.info("%s: %.2f GB, built in %.0f s", tag, info["bytes"] / 1e9, info["build_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
