"""`python -m infra.deploycheck [--overlay DIR ...]` (make deploy-check); exit 1 on any finding."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from infra.deploycheck import compose, policy, schemas, toolchain
from infra.deploycheck.constants import COMPOSE_FILE, DOCKERFILES, K8S_DIR, OVERLAYS, ROOT

log = logging.getLogger("infra.deploycheck")


def render(kustomize: Path, overlay: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(kustomize), "build", str(overlay)], check=True, capture_output=True, text=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def check_overlay(kustomize: Path, keda: Path, overlay: Path) -> list[str]:
    try:
        objs = render(kustomize, overlay)
    except subprocess.CalledProcessError as exc:
        return [f"kustomize build failed: {exc.stderr.strip()}"]
    problems = [f"{policy.ref(o)}: {e}" for o in objs for e in schemas.validate(o, keda)]
    problems += [str(f) for f in policy.check(objs)]
    log.info("%s: %d objects, %d problems", overlay.name, len(objs), len(problems))
    return problems


def hadolint(files: list[Path]) -> list[str]:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hadolint")), "--no-color", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return lines or ([done.stderr.strip()] if done.returncode else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploycheck", description=__doc__)
    parser.add_argument("--overlay", action="append", type=Path, help="only this overlay dir")
    parser.add_argument("--dockerfile", action="append", type=Path, help="only this Dockerfile")
    parser.add_argument("--compose", type=Path, help="only this compose file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    only = bool(args.overlay or args.dockerfile or args.compose)
    problems: list[str] = []

    overlays = args.overlay or ([] if only else [K8S_DIR / "overlays" / o for o in OVERLAYS])
    if overlays:
        kustomize, keda = toolchain.kustomize(), toolchain.keda_crd_dir()
        for overlay in overlays:
            problems += [f"{overlay.name}: {p}" for p in check_overlay(kustomize, keda, overlay)]
    dockerfiles = args.dockerfile or ([] if only else [ROOT / d for d in DOCKERFILES])
    if dockerfiles:
        lint = hadolint(dockerfiles)
        log.info("hadolint: %d Dockerfiles, %d problems", len(dockerfiles), len(lint))
        problems += [f"hadolint: {line}" for line in lint]
    compose_file = args.compose or (None if only else COMPOSE_FILE)
    if compose_file:
        found = compose.check(compose_file, K8S_DIR / "base" / "kustomization.yaml")
        log.info("compose: %s, %d problems", compose_file.name, len(found))
        problems += [f"compose: {p}" for p in found]

    for p in problems:
        print(p)
    print(f"deploy-check: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
