"""CPU and CUDA: transformers + torch, eager execution, dynamic shapes."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from shared.errors import ConfigurationError
from shared.inference.backends.base import Backend, BatchOutcome, ModelRole
from shared.inference.decode import DecodeRequest, DecodeResult, DecodeStats, generate_eager
from shared.inference.provision import ProvisionedModel
from shared.inference.settings import InferenceSettings
from shared.inference.types import GenerationParams

log = logging.getLogger(__name__)

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def resolve_dtype(setting: str, device: str) -> torch.dtype:
    """`auto`: bf16 for generators everywhere (2x fp32 on an AMX CPU, native on GPUs)."""
    if setting != "auto":
        return _DTYPES[setting]
    return torch.bfloat16


def apply_thread_setting(threads: int) -> None:
    # torch's intra-op pool is process-wide; 0 keeps torch's default of one per core.
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real tokens' vectors (sentence-transformers pooling), then L2-normalised."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1)
    pooled = summed / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled.float(), p=2, dim=-1)


class TorchBackend(Backend):
    """transformers model on `cpu` or `cuda`; batches padded to their longest row only."""

    def __init__(
        self,
        settings: InferenceSettings,
        model: ProvisionedModel,
        role: ModelRole,
        *,
        device: str = "cpu",
    ) -> None:
        super().__init__(settings, model, role)
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigurationError("INFERENCE_DEVICE=cuda but torch sees no CUDA device")
        self.device_name = device
        self.device = torch.device(device)
        self.model: Any = None

    def load(self) -> None:
        from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

        apply_thread_setting(self.settings.torch_threads)
        started = time.monotonic()
        location = self.model_info.location
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(location)
            if self.role == "generator":
                dtype = resolve_dtype(self.settings.dtype, self.device_name)
                self.model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype)
            else:
                # Encoders are small; fp32 keeps embeddings identical to the reference.
                dtype = (
                    torch.float32 if self.settings.dtype == "auto" else _DTYPES[self.settings.dtype]
                )
                self.model = AutoModel.from_pretrained(location, dtype=dtype)
        except OSError as exc:
            raise ConfigurationError(f"cannot load model {location!r}: {exc}") from exc
        self.model.eval().to(self.device)
        if self.role == "generator":
            self._read_token_ids(self.model)
        else:
            self._read_embed_max_len(location)
            self.dim = int(self.model.config.hidden_size)
        log.info(
            "loaded %s on %s (%s) in %.1fs",
            self.model_info.name,
            self.device_name,
            dtype,
            time.monotonic() - started,
        )

    def warm_up(self) -> None:
        # First calls build oneDNN/cuBLAS kernels for each shape; pay that before serving.
        started = time.monotonic()
        if self.role == "generator":
            prompt = self.tokenizer("Warm up.", add_special_tokens=False)["input_ids"]
            params = GenerationParams(max_new_tokens=2)
            for size in sorted({1, self.settings.max_batch_size}):
                self.generate_batch([DecodeRequest(list(prompt), params)] * size)
        else:
            self.embed_batch([self.encode_text("Warm up.")] * self.settings.max_batch_size)
        log.info("warmed up %s in %.1fs", self.model_info.name, time.monotonic() - started)

    def generate_batch(self, requests: Sequence[DecodeRequest]) -> BatchOutcome[DecodeResult]:
        stats = DecodeStats()
        results = generate_eager(
            self.model,
            self.tokenizer,
            requests,
            eos_ids=self.eos_ids,
            pad_id=self.pad_id,
            device=self.device,
            stats=stats,
        )
        return BatchOutcome(results, stats.prompt_positions, stats.prompt_real, stats.generated)

    @torch.inference_mode()
    def embed_batch(
        self, token_ids: Sequence[Sequence[int]]
    ) -> BatchOutcome[npt.NDArray[np.float32]]:
        width = max(len(ids) for ids in token_ids)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((len(token_ids), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(token_ids):
            # Encoders use absolute positions from 0: pad on the right.
            ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
            mask[row, : len(seq)] = 1
        hidden = self.model(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
        ).last_hidden_state
        vectors = mean_pool(hidden, mask.to(self.device)).cpu().numpy().astype(np.float32)
        return BatchOutcome(list(vectors), ids.numel(), int(mask.sum()))

    def close(self) -> None:
        self.model = None
        super().close()
        if self.device_name == "cuda":
            torch.cuda.empty_cache()
