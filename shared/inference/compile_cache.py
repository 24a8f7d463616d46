"""Compiled-graph cache for static-shape devices.

An artifact is valid only for the exact model weights, input shapes, dtype and compiler that
produced it, so all of those go into its key. Layout:
    <root>/<model>/<compiler version>/<graph>-b<batch>-s<bucket>-w<width>-<key digest>.pt
with a .json beside each artifact recording the full key (for humans and cache pruning).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GraphKey:
    """Everything a compiled graph depends on."""

    model: str
    weights: str  # fingerprint of the weights (pinned sha256, or config+revision for hub ids)
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
