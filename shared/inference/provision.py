"""Model provisioning: install the offline packages, verify, assemble and convert, once.

`python -m shared.inference.provision [--all | MODEL ...]` does it ahead of time (make models);
the runtime calls `provision()` on start and finds the cache ready. A catalog model ends up as
bf16 safetensors + tokenizer in `core.model_cache_dir/<model>/`, with a marker file written
last: a crash mid-way leaves no marker and the next run redoes the work. Anything whose
sha256 differs from the pinned value is refused before transformers ever reads it.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from shared.config import CoreSettings
from shared.inference.catalog import CATALOG, ModelKind, ModelSource
from shared.inference.errors import ProvisioningError
from shared.inference.settings import InferenceSettings

log = logging.getLogger(__name__)

MARKER = "cairn-provisioned.json"
# Bump when the converted layout changes, so old caches are rebuilt.
FORMAT_VERSION = 1
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ProvisionedModel:
    """Where to load a model from: a local directory, or a hub id / path for transformers."""

    name: str
    location: str
    kind: ModelKind | None
    from_catalog: bool
    # The pinned GGUF the weights came from, kept for llama.cpp (None for non-GGUF sources).
    gguf: str | None = None


def provision(
    name: str,
    core: CoreSettings,
    settings: InferenceSettings | None = None,
    *,
    progress: bool = False,
) -> ProvisionedModel:
    """Make `name` loadable; catalog models are verified, converted and cached once."""
    source = CATALOG.get(name)
    if source is None:
        # Production: a hub id or a local path; transformers resolves (and caches) it.
        log.info("model %s is not in the offline catalog; using it as a hub id or path", name)
        return ProvisionedModel(name, name, None, False)
    auto_install = True if settings is None else settings.auto_install
    path = provision_source(
        source, core.model_cache_dir, auto_install=auto_install, progress=progress
    )
    gguf = None
    if source.format == "gguf":
        gguf = str(
            ensure_gguf(source, core.model_cache_dir, auto_install=auto_install, progress=progress)
        )
    return ProvisionedModel(name, str(path), source.kind, True, gguf)


GGUF_NAME = "model.gguf"
GGUF_MARKER = "model.gguf.json"


def ensure_gguf(
    source: ModelSource, cache_root: Path, *, auto_install: bool = True, progress: bool = False
) -> Path:
    """The source's verified GGUF at `<cache_root>/<model>/model.gguf`, assembled once.

    llama.cpp serves the very file the bf16 weights were dequantized from, so both engines
    run the same pinned weights. A marker (size, mtime, pinned sha256) written after the hash
    check lets later starts skip re-hashing half a gigabyte.
    """
    target = cache_root / source.name
    path = target / GGUF_NAME
    if _gguf_ok(path, source):
        return path
    with _locked(cache_root / f".{source.name}.lock"):
        if _gguf_ok(path, source):
            return path
        parts = locate_parts(source, auto_install=auto_install)
        assemble(parts, source.sha256, path, progress=progress)  # verifies, then renames
        _write_gguf_marker(path, source)
        return path


def _write_gguf_marker(path: Path, source: ModelSource) -> None:
    stat = path.stat()
    path.with_name(GGUF_MARKER).write_text(
        json.dumps({"sha256": source.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    )


def _gguf_ok(path: Path, source: ModelSource) -> bool:
    try:
        stat = path.stat()
    except OSError:
        return False
    marker = _read_json(path.with_name(GGUF_MARKER))
    return marker == {"sha256": source.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def provision_source(
    source: ModelSource, cache_root: Path, *, auto_install: bool = True, progress: bool = False
) -> Path:
    """Provision one catalog entry under `cache_root`; returns the directory to load."""
    target = cache_root / source.name
    if source.format != "safetensors-dir" and _marker_ok(target, source):
        # Ready already: no lock file to create, so a read-only image (or volume) can serve.
        log.debug("model %s already provisioned at %s", source.name, target)
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    with _locked(cache_root / f".{source.name}.lock"):
        if source.format == "safetensors-dir":
            return _provision_in_place(source, target, auto_install, progress)
        if _marker_ok(target, source):
            log.debug("model %s already provisioned at %s", source.name, target)
            return target
        started = time.monotonic()
        parts = locate_parts(source, auto_install=auto_install)
        staging = cache_root / ".staging"
        staging.mkdir(exist_ok=True)
        if len(parts) == 1:
            verify_file(parts[0], source.sha256, progress=progress)
            gguf = parts[0]
        else:
            gguf = assemble(
                parts, source.sha256, staging / f"{source.name}.gguf", progress=progress
            )
        work = staging / f"{source.name}.{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        convert_gguf(gguf, work)
        if gguf.parent == staging:
            # Verified a moment ago: kept for llama.cpp rather than assembled again.
            gguf.rename(work / GGUF_NAME)
            _write_gguf_marker(work / GGUF_NAME, source)
        shutil.rmtree(target, ignore_errors=True)
        work.rename(target)
        _write_marker(target, source)  # last: its presence means the directory is complete
        log.info("provisioned %s in %.1fs at %s", source.name, time.monotonic() - started, target)
        return target


def locate_parts(source: ModelSource, *, auto_install: bool) -> list[Path]:
    """Paths of the source's parts, pip-installing the pinned packages if some are missing."""
    found = [ref.locate() for ref in source.parts]
    if any(p is None for p in found) and auto_install and source.requirements:
        _pip_install(source)
        found = [ref.locate() for ref in source.parts]
    missing = [str(ref) for ref, p in zip(source.parts, found, strict=True) if p is None]
    if missing:
        raise ProvisioningError(
            f"model {source.name}: files not found: {', '.join(missing)}; "
            f"install {' '.join(source.requirements)} (make models)"
        )
    return [p for p in found if p is not None]


def assemble(parts: Sequence[Path], sha256: str, dest: Path, *, progress: bool = False) -> Path:
    """Concatenate `parts` into `dest`, refusing (and deleting) a result with the wrong hash."""
    partial = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in parts)
    with (
        partial.open("wb") as out,
        tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc=f"assemble {dest.name}",
            disable=not progress,
        ) as bar,
    ):
        for part in parts:
            with part.open("rb") as chunk_file:
                while block := chunk_file.read(_CHUNK):
                    digest.update(block)
                    out.write(block)
                    bar.update(len(block))
    actual = digest.hexdigest()
    if actual != sha256:
        partial.unlink()
        raise ProvisioningError(
            f"{dest.name}: sha256 {actual} of the joined parts does not match the pinned {sha256}"
        )
    partial.rename(dest)
    return dest


def verify_file(path: Path, sha256: str, *, progress: bool = False) -> None:
    """Raise ProvisioningError unless `path` hashes to `sha256`."""
    digest = hashlib.sha256()
    with (
        path.open("rb") as handle,
        tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            desc=f"verify {path.name}",
            disable=not progress,
        ) as bar,
    ):
        while block := handle.read(_CHUNK):
            digest.update(block)
            bar.update(len(block))
    if digest.hexdigest() != sha256:
        raise ProvisioningError(
            f"{path}: sha256 {digest.hexdigest()} does not match the pinned {sha256}"
        )


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """GGUF → bf16 safetensors + tokenizer in `out_dir`.

    transformers dequantizes GGUF into a model that keeps a GGUF quantization config and cannot
    be save_pretrained-ed as is; rebuilding it from a clean config and loading the dense state
    dict gives an ordinary checkpoint that loads in ~1-3 s instead of 20-45 s.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s (dequantizing GGUF, slow once)", gguf)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # float32 is the GGUF loader's fast path; the weights are cast to bf16 below.
    source = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    config = copy.deepcopy(source.config)
    if "quantization_config" in config.__dict__:
        del config.quantization_config
    rebuilt = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)  # type: ignore[no-untyped-call]
    result = rebuilt.load_state_dict(source.state_dict(), strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(result.missing_keys) - tied or result.unexpected_keys:
        raise ProvisioningError(
            f"{gguf.name}: conversion lost weights: missing={result.missing_keys} "
            f"unexpected={result.unexpected_keys}"
        )
    rebuilt.generation_config = source.generation_config
    del source
    out_dir.mkdir(parents=True)
    rebuilt.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def _provision_in_place(
    source: ModelSource, target: Path, auto_install: bool, progress: bool
) -> Path:
    # A ready transformers directory inside a package: verify the weights, load in place.
    # The marker remembers the verified file's size and mtime so restarts skip the hashing.
    (weights,) = locate_parts(source, auto_install=auto_install)
    stat = weights.stat()
    seen = {
        "sha256": source.sha256,
        "path": str(weights),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "format": FORMAT_VERSION,
    }
    marker = target / MARKER
    if not (marker.exists() and _read_json(marker) == seen):
        verify_file(weights, source.sha256, progress=progress)
        target.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(seen))
    return weights.parent


def _marker_ok(target: Path, source: ModelSource) -> bool:
    data = _read_json(target / MARKER)
    return data == {"sha256": source.sha256, "format": FORMAT_VERSION}


def _write_marker(target: Path, source: ModelSource) -> None:
    tmp = target / (MARKER + ".tmp")
    tmp.write_text(json.dumps({"sha256": source.sha256, "format": FORMAT_VERSION}))
    tmp.rename(target / MARKER)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _pip_install(source: ModelSource) -> None:
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if source.no_deps:
        command.append("--no-deps")
    command += list(source.requirements)
    log.info("installing %s", " ".join(source.requirements))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ProvisioningError(
            f"pip install {' '.join(source.requirements)} failed: {done.stderr[-2000:]}"
        )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two services starting together must not convert the same model twice at once.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.inference.provision", description=__doc__.splitlines()[0]
    )
    parser.add_argument("models", nargs="*", help="catalog names (default: the configured ones)")
    parser.add_argument("--all", action="store_true", help="every model of the offline catalog")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    core, settings = CoreSettings(), InferenceSettings()
    names: list[str] = list(CATALOG) if args.all else list(args.models)
    if not names:
        names = [settings.generator_model, settings.embedding_model]
    try:
        for name in tqdm(names, desc="models", unit="model"):
            started = time.monotonic()
            model = provision(name, core, settings, progress=True)
            tqdm.write(f"{name}: {model.location} ({time.monotonic() - started:.1f}s)")
    except ProvisioningError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
