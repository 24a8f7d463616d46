"""Compiled-graph cache for static-shape devices.

An artifact is valid only for the exact model weights, input shapes, dtype and compiler that
produced it, so all of those go into its key. Layout:
    <root>/<model>/<compiler version>/<graph>-b<batch>-s<bucket>-w<width>-<key digest>.pt
with a .json beside each artifact recording the full key (for humans and cache pruning).

The weights part of a key is `weights_checksum`: a sha256 over the weight files themselves, not
over the config, because a fine-tuned checkpoint keeps its base model's config and would
otherwise load the base model's graphs (and, for engines that store sharded weights beside the
graphs, its weights too).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from shared.errors import ConfigurationError, TransientError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GraphKey:
    """Everything a compiled graph depends on."""

    model: str
    weights: str  # weights_checksum() of the model directory
    graph: str  # "prefill", "decode" or "encode"
    batch_size: int
    bucket: int
    width: int
    cache_len: int
    dtype: str
    compiler: str  # compiler + runtime versions
    options: str = ""  # compiler flags, core count

    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def filename(self) -> str:
        return f"{self.graph}-b{self.batch_size}-s{self.bucket}-w{self.width}-{self.digest()}.pt"


class GraphCompiler(Protocol):
    """Turns a module plus example inputs into a fixed-shape callable, and persists it."""

    version: str
    options: str

    def compile(self, module: torch.nn.Module, example_inputs: tuple[torch.Tensor, ...]) -> Any: ...

    def save(self, compiled: Any, path: Path) -> None: ...

    def load(self, path: Path) -> Any: ...


class TorchScriptCompiler:
    """The CPU stand-in for neuronx-cc: torch.jit.trace gives a fixed-shape graph too, so the
    cache, the static-shape loop and the graphs' step-independence are all tested on CPU."""

    options = "jit.trace"

    def __init__(self) -> None:
        self.version = f"torchscript-{torch.__version__}"
        self.compiled = 0

    def compile(self, module: torch.nn.Module, example_inputs: tuple[torch.Tensor, ...]) -> Any:
        self.compiled += 1
        # Tracing walks every attribute of the transformers model (deprecated aliases too) and
        # warns about Python values frozen into the graph; the static loop passes everything
        # that varies per step as a tensor, and the tests compare traced and eager tokens.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.trace(  # type: ignore[no-untyped-call]
                module, example_inputs, check_trace=False, strict=False
            )

    def save(self, compiled: Any, path: Path) -> None:
        torch.jit.save(compiled, str(path))

    def load(self, path: Path) -> Any:
        return torch.jit.load(str(path))  # type: ignore[no-untyped-call]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


class CompileCache:
    """Loads a graph from disk when its key matches, else compiles and stores it atomically."""

    def __init__(self, root: Path, compiler: GraphCompiler) -> None:
        self.root = root
        self.compiler = compiler
        self.hits = 0
        self.misses = 0

    def path_for(self, key: GraphKey) -> Path:
        return self.root / _slug(key.model) / _slug(key.compiler) / key.filename()

    def get(self, key: GraphKey, build: Callable[[], Any]) -> Any:
        """The compiled graph for `key`; `build` returns it when the cache has none."""
        path = self.path_for(key)
        if path.exists():
            self.hits += 1
            log.debug("compiled graph cache hit %s", path.name)
            return self.compiler.load(path)
        self.misses += 1
        started = time.monotonic()
        compiled = build()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.compiler.save(compiled, tmp)
        tmp.rename(path)  # atomic: a crash mid-save leaves no artifact under the real name
        path.with_suffix(".json").write_text(json.dumps(asdict(key), indent=1, sort_keys=True))
        log.info("compiled %s in %.1fs", path.name, time.monotonic() - started)
        return compiled


# --- weights checksum ------------------------------------------------------------------------

_CHUNK = 8 * 1024 * 1024
# Bump when the checksum's definition changes, so sidecars written by older code are ignored.
_CHECKSUM_FORMAT = 1
_memo: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}
_memo_lock = threading.Lock()


def weight_files(model_dir: Path) -> list[Path]:
    """The files a checksum covers: the weights the loaders read, sorted, then config.json.

    transformers and optimum-neuron both load *.safetensors when a directory has any and fall
    back to *.bin only when it has none, so a stale pytorch_model.bin beside the safetensors
    is not part of the model and is not hashed.
    """
    safetensors = sorted(p for p in model_dir.glob("*.safetensors") if p.is_file())
    weights = safetensors or sorted(p for p in model_dir.glob("*.bin") if p.is_file())
    if not weights:
        raise ConfigurationError(f"{model_dir}: no *.safetensors or *.bin weight files")
    config = model_dir / "config.json"
    return [*weights, config] if config.is_file() else weights


def _signature(files: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    stats = [(p.name, p.stat()) for p in files]
    return tuple((name, st.st_size, st.st_mtime_ns) for name, st in stats)


def _hash_files(files: Sequence[Path]) -> str:
    digest = hashlib.sha256(f"cairn-weights-v{_CHECKSUM_FORMAT}".encode())
    for path in files:
        # Name and size first, so the concatenation of two files cannot collide with another
        # split of the same bytes.
        digest.update(path.name.encode() + b"\0" + path.stat().st_size.to_bytes(8, "little"))
        with path.open("rb") as handle:
            while block := handle.read(_CHUNK):
                digest.update(block)
    return digest.hexdigest()


def weights_checksum(model_dir: Path, *, memo_dir: Path | None = None) -> str:
    """sha256 of a model directory's weight files and config.json, streamed.

    Memoised per (directory, file names, sizes, mtimes): in-process, and across restarts in a
    sidecar JSON under `memo_dir` (a directory the process may write; a read-only one just
    means hashing again). Size + nanosecond mtime is what make and rsync trust too: a rewrite
    that keeps both identical, which no checkpoint writer does, would go unnoticed.
    """
    model_dir = model_dir.resolve()
    files = weight_files(model_dir)
    signature = _signature(files)
    memo_key = (str(model_dir), signature)
    with _memo_lock:
        known = _memo.get(memo_key)
    if known is not None:
        return known
    record = {
        "format": _CHECKSUM_FORMAT,
        "path": str(model_dir),
        "files": [list(entry) for entry in signature],
    }
    sidecar = None
    if memo_dir is not None:
        sidecar = memo_dir / f"{hashlib.sha256(str(model_dir).encode()).hexdigest()[:16]}.json"
        try:
            stored = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            stored = None
        if isinstance(stored, dict) and {k: stored.get(k) for k in record} == record:
            checksum = str(stored["sha256"])
            with _memo_lock:
                _memo[memo_key] = checksum
            return checksum
    started = time.monotonic()
    checksum = _hash_files(files)
    if _signature(files) != signature:
        # A file changed while it was read: the digest matches neither version.
        raise TransientError(f"{model_dir}: weight files changed while being hashed; retry")
    log.info(
        "hashed %d weight file(s) of %s in %.1fs", len(files), model_dir, time.monotonic() - started
    )
    with _memo_lock:
        _memo[memo_key] = checksum
    if sidecar is not None:
        try:
            sidecar.parent.mkdir(parents=True, exist_ok=True)
            tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({**record, "sha256": checksum}, indent=1))
            tmp.rename(sidecar)
        except OSError as exc:
            log.debug("cannot write checksum sidecar %s: %s", sidecar, exc)
    return checksum


def local_model_dir(location: str) -> Path:
    """The directory holding a model's files: `location` itself, or the Hugging Face cache's
    snapshot of a hub id (downloaded if missing; HF_HUB_OFFLINE=1 makes that cache-only)."""
    path = Path(location)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    meta = ["*.json", "*.jinja", "*.model", "*.tiktoken", "*.txt"]
    snapshot = Path(snapshot_download(location, allow_patterns=[*meta, "*.safetensors"]))
    if not any(snapshot.glob("*.safetensors")):
        snapshot = Path(snapshot_download(location, allow_patterns=[*meta, "*.bin"]))
    return snapshot
