"""Fetching the assets through their registries' own clients (npm, apt), idempotently.

Every step first checks whether its output already exists, so a provisioned machine pays a
few `stat` calls. Outputs are written to a temporary name and renamed into place, so an
interrupted run never leaves a half-written file that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from services.emoji.assets import ANNOTATIONS, DERIVED, AssetPaths
from services.emoji.constants import (
    CLDR_NPM_PACKAGES,
    CLDR_VERSION,
    EMOJILIB_NPM_PACKAGE,
    EMOJILIB_VERSION,
    FONT_DEBIAN_PACKAGE,
    FONT_FILE_NAME,
)
from shared.errors import ConfigurationError

log = logging.getLogger(__name__)

_KIND_OF_PACKAGE = {CLDR_NPM_PACKAGES[0]: ANNOTATIONS, CLDR_NPM_PACKAGES[1]: DERIVED}


def _run(cmd: list[str], cwd: Path) -> None:
    if shutil.which(cmd[0]) is None:
        raise ConfigurationError(f"{cmd[0]!r} is not installed; it is needed to run {cmd}")
    log.info("running %s", " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def ensure_npm_tarball(paths: AssetPaths, name: str, version: str) -> Path:
    """`npm pack name@version` into the assets dir unless the tarball is already there."""
    target = paths.npm_dir / f"{name}-{version}.tgz"
    if target.is_file():
        return target
    paths.npm_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=paths.npm_dir) as tmp:
        _run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=Path(tmp))
        packed = Path(tmp) / target.name
        if not packed.is_file():
            raise ConfigurationError(f"npm pack did not produce {target.name}")
        os.replace(packed, target)
    return target


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def extract_annotations(
    paths: AssetPaths, tarball: Path, kind: str, locales: Iterable[str]
) -> None:
    """Copy `<kind>/<locale>/annotations.json` of the wanted locales out of an npm tarball."""
    missing = {loc for loc in locales if not paths.annotation_file(kind, loc).is_file()}
    if not missing:
        return
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            parts = member.name.split("/")
            # package/<kind>/<locale>/annotations.json
            wanted = len(parts) == 4 and parts[1] == kind and parts[2] in missing
            if wanted and parts[3] == "annotations.json" and member.isfile():
                source = archive.extractfile(member)
                if source is not None:
                    _write_atomic(paths.annotation_file(kind, parts[2]), source.read())
                    missing.discard(parts[2])
    if missing:
        # CLDR has no annotations for that locale; the service falls back to English there.
        log.warning("CLDR %s has no %s for locales %s", CLDR_VERSION, kind, sorted(missing))


def ensure_annotations(paths: AssetPaths, locales: Iterable[str]) -> None:
    """Both CLDR packages (names + keywords, and derived ones for flags and sequences)."""
    wanted = list(locales)
    for package in CLDR_NPM_PACKAGES:
        if all(paths.annotation_file(_KIND_OF_PACKAGE[package], loc).is_file() for loc in wanted):
            continue
        tarball = ensure_npm_tarball(paths, package, CLDR_VERSION)
        extract_annotations(paths, tarball, _KIND_OF_PACKAGE[package], wanted)


def ensure_emojilib(paths: AssetPaths) -> Path:
    """emojilib's `dist/emoji-en-US.json` (English usage keywords), out of its npm tarball."""
    target = paths.emojilib_file
    if target.is_file():
        return target
    tarball = ensure_npm_tarball(paths, EMOJILIB_NPM_PACKAGE, EMOJILIB_VERSION)
    with tarfile.open(tarball, "r:gz") as archive:
        member = archive.getmember(f"package/dist/{target.name}")
        source = archive.extractfile(member)
        if source is None:
            raise ConfigurationError(f"{tarball.name} holds no dist/{target.name}")
        _write_atomic(target, source.read())
    return target


def ensure_font(paths: AssetPaths) -> Path:
    """Noto Color Emoji: the system's copy if installed, else `apt-get download` + unpack."""
    existing = paths.font_file()
    if existing is not None:
        return existing
    paths.font_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=paths.font_dir) as tmp:
        work = Path(tmp)
        # apt-get download needs no root; as root it drops to the `_apt` user, who must be
        # able to write here (else it warns and downloads unsandboxed).
        work.chmod(0o777)
        _run(["apt-get", "download", FONT_DEBIAN_PACKAGE], cwd=work)
        debs = sorted(work.glob(f"{FONT_DEBIAN_PACKAGE}_*.deb"))
        if not debs:
            raise ConfigurationError(f"apt-get download {FONT_DEBIAN_PACKAGE} produced no .deb")
        _run(["dpkg-deb", "-x", str(debs[-1]), str(work / "root")], cwd=work)
        found = sorted((work / "root").rglob(FONT_FILE_NAME))
        if not found:
            raise ConfigurationError(f"{debs[-1].name} holds no {FONT_FILE_NAME}")
        target = paths.font_dir / FONT_FILE_NAME
        manifest = {
            "package": debs[-1].name,
            "sha256": hashlib.sha256(found[0].read_bytes()).hexdigest(),
        }
        _write_atomic(paths.font_dir / "font.json", json.dumps(manifest).encode())
        os.replace(found[0], target)
    log.info("installed %s from %s", target, manifest["package"])
    return target
