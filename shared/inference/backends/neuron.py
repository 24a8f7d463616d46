"""AWS Inferentia2 (inf2): graphs compiled by neuronx-cc for fixed shapes, cached on disk.

The model is compiled once per (batch size, bucket) for the prompt pass and per bucket for the
one-token decode pass, with the KV cache sized bucket + INFERENCE_MAX_NEW_TOKENS. Compiling
takes minutes per graph, so artifacts live in a cache keyed by model weights, shapes, dtype and
compiler version (compile_cache.py) and are loaded on start. torch-neuronx and neuronx-cc come
from AWS's package index only; they are imported here, lazily, and nowhere else.

Everything except `NeuronCompiler.compile` runs on CPU too: pass `compiler=TorchScriptCompiler()`
and the backend traces the very same StaticStep graphs with torch.jit, caches and reloads them,
and decodes through StaticShapeGenerator — that is what the unit tests do.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from shared.errors import ConfigurationError
from shared.inference.backends.base import Backend, BatchOutcome, ModelRole
from shared.inference.backends.torch_backend import (
    apply_thread_setting,
    mean_pool,
    resolve_dtype,
)
from shared.inference.buckets import choose_bucket
from shared.inference.compile_cache import (
    CompileCache,
    GraphCompiler,
    GraphKey,
    local_model_dir,
    weights_checksum,
)
from shared.inference.decode import (
    DecodeRequest,
    DecodeResult,
    DecodeStats,
    StaticGeometry,
    StaticShapeGenerator,
    StaticStep,
)
from shared.inference.provision import ProvisionedModel
from shared.inference.settings import InferenceSettings
from shared.inference.types import GenerationParams

log = logging.getLogger(__name__)

NEURON_INSTALL_HINT = (
    "torch-neuronx/neuronx-cc are not installed. They come from AWS's index, not PyPI: "
    "pip install --extra-index-url https://pip.repos.neuron.amazonaws.com "
    "torch-neuronx neuronx-cc (on an inf2 instance, Neuron DLAMI), or set INFERENCE_DEVICE=cpu"
)


class NeuronCompiler:
    """neuronx-cc through torch_neuronx.trace; imported only when a Neuron backend loads."""

    def __init__(self, cores: int, workdir: Path) -> None:
        # The runtime reads this at import: how many NeuronCores this process claims.
        os.environ.setdefault("NEURON_RT_NUM_CORES", str(cores))
        try:
            import neuronxcc
            import torch_neuronx
        except ImportError as exc:
            raise ConfigurationError(NEURON_INSTALL_HINT) from exc
        if not hasattr(torch_neuronx, "trace"):
            # PyPI's torch-neuronx is an empty placeholder package.
            raise ConfigurationError(NEURON_INSTALL_HINT)
        self._neuronx: Any = torch_neuronx
        self.workdir = workdir
        self.version = (
            f"neuronxcc-{neuronxcc.__version__}+torch-neuronx-{torch_neuronx.__version__}"
        )
        self.args = ["--model-type=transformer", "-O2", "--auto-cast=none"]
        self.options = " ".join(self.args) + f" cores={cores}"

    def compile(self, module: torch.nn.Module, example_inputs: tuple[torch.Tensor, ...]) -> Any:
        return self._neuronx.trace(
            module,
            example_inputs,
            compiler_args=self.args,
            compiler_workdir=str(self.workdir),
        )

    def save(self, compiled: Any, path: Path) -> None:
        torch.jit.save(compiled, str(path))

    def load(self, path: Path) -> Any:
        return torch.jit.load(str(path))  # type: ignore[no-untyped-call]


class EncoderStep(torch.nn.Module):
    """Static-shape embedding graph: (B, bucket) ids and mask → (B, dim) unit vectors."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask)


class NeuronBackend(Backend):
    """Static-shape execution: fixed batch size, prompt buckets, compiled-graph cache."""

    device_name = "neuron"

    def __init__(
        self,
        settings: InferenceSettings,
        model: ProvisionedModel,
        role: ModelRole,
        *,
        cache_root: Path,
        compiler: GraphCompiler | None = None,
    ) -> None:
        super().__init__(settings, model, role)
        self.cache_root = cache_root
        self._compiler = compiler
        self.cache: CompileCache | None = None
        self.model: Any = None
        self.generator: StaticShapeGenerator | None = None
        self.encoders: dict[int, Any] = {}
        self.buckets: tuple[int, ...] = settings.buckets
        self.batch_size = settings.max_batch_size
        self._fingerprint: str | None = None

    def load(self) -> None:
        from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

        compiler = self._compiler or NeuronCompiler(
            self.settings.neuron_cores, self.cache_root / "workdir"
        )
        self.cache = CompileCache(self.cache_root, compiler)
        apply_thread_setting(self.settings.torch_threads)
        location = self.model_info.location
        dtype = resolve_dtype(self.settings.dtype, "neuron")
        self.tokenizer = AutoTokenizer.from_pretrained(location)
        if self.role == "generator":
            self.model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype)
            self.model.eval()
            self._read_token_ids(self.model)
            limit = self.settings.max_new_tokens_limit
            self.buckets = tuple(b for b in self.buckets if b + limit <= self.max_positions)
            geometry = StaticGeometry(self.batch_size, self.buckets, limit)
            gen = StaticShapeGenerator(
                self.model,
                self.tokenizer,
                geometry,
                eos_ids=self.eos_ids,
                pad_id=self.pad_id,
                device=torch.device("cpu"),
            )
            step = StaticStep(self.model)
            for bucket in self.buckets:
                for width, graph in ((bucket, "prefill"), (1, "decode")):
                    key = self._key(graph, bucket, width, geometry.cache_len(bucket), dtype)
                    inputs = gen.example_inputs(bucket, width)
                    gen.steps[(bucket, width)] = self.cache.get(
                        key, functools.partial(compiler.compile, step, inputs)
                    )
            self.generator = gen
        else:
            # Encoders run in fp32 unless told otherwise (small, and bit-comparable to CPU).
            enc_dtype = torch.float32 if self.settings.dtype == "auto" else dtype
            self.model = AutoModel.from_pretrained(location, dtype=enc_dtype)
            self.model.eval()
            self._read_embed_max_len(location)
            self.dim = int(self.model.config.hidden_size)
            limit = self.embed_max_len
            self.buckets = (*(b for b in self.buckets if b < limit), limit)
            encoder = EncoderStep(self.model)
            for bucket in self.buckets:
                key = self._key("encode", bucket, bucket, 0, enc_dtype)
                ids = torch.zeros((self.batch_size, bucket), dtype=torch.long)
                mask = torch.ones((self.batch_size, bucket), dtype=torch.long)
                self.encoders[bucket] = self.cache.get(
                    key, functools.partial(compiler.compile, encoder, (ids, mask))
                )
        log.info(
            "neuron backend ready for %s: %d buckets, cache hits %d, compiled %d",
            self.model_info.name,
            len(self.buckets),
            self.cache.hits,
            self.cache.misses,
        )

    def _key(self, graph: str, bucket: int, width: int, cache_len: int, dtype: Any) -> GraphKey:
        assert self.cache is not None
        return GraphKey(
            model=self.model_info.name,
            weights=self._weights_fingerprint(),
            graph=graph,
            batch_size=self.batch_size,
            bucket=bucket,
            width=width,
            cache_len=cache_len,
            dtype=str(dtype),
            compiler=self.cache.compiler.version,
            options=self.cache.compiler.options,
        )

    def _weights_fingerprint(self) -> str:
        # The weight files themselves: a fine-tuned checkpoint with its base model's config
        # must not load the base model's graphs. Hashed once, then memoised on size + mtime.
        if self._fingerprint is None:
            model_dir = local_model_dir(self.model_info.location)
            self._fingerprint = weights_checksum(model_dir, memo_dir=self.cache_root / "checksums")
        return self._fingerprint

    def warm_up(self) -> None:
        # The first execution of each graph loads it onto the NeuronCores; do that now.
        started = time.monotonic()
        if self.role == "generator":
            params = GenerationParams(max_new_tokens=2)
            for bucket in self.buckets:
                self.generate_batch([DecodeRequest([self.pad_id] * bucket, params)])
        else:
            for bucket in self.buckets:
                self.embed_batch([[0] * bucket])
        log.info("warmed up %d buckets in %.1fs", len(self.buckets), time.monotonic() - started)

    def generate_batch(self, requests: Sequence[DecodeRequest]) -> BatchOutcome[DecodeResult]:
        assert self.generator is not None, "load() first"
        stats = DecodeStats()
        results = self.generator.generate(requests, stats)
        return BatchOutcome(results, stats.prompt_positions, stats.prompt_real, stats.generated)

    @torch.inference_mode()
    def embed_batch(
        self, token_ids: Sequence[Sequence[int]]
    ) -> BatchOutcome[npt.NDArray[np.float32]]:
        bucket = choose_bucket(max(len(t) for t in token_ids), self.buckets)
        ids = torch.zeros((self.batch_size, bucket), dtype=torch.long)
        mask = torch.zeros((self.batch_size, bucket), dtype=torch.long)
        mask[:, 0] = 1  # filler rows attend to one token: no fully-masked (NaN) row
        for row, seq in enumerate(token_ids):
            ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
            mask[row, : len(seq)] = 1
        vectors = self.encoders[bucket](ids, mask)[: len(token_ids)]
        real = sum(len(t) for t in token_ids)
        return BatchOutcome(list(vectors.float().numpy()), ids.numel(), real)

    def close(self) -> None:
        self.generator = None
        self.encoders.clear()
        self.model = None
        super().close()
