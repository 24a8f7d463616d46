"""Batched autoregressive decoding: the eager loop (CPU/CUDA) and the static-shape loop.

Both loops take left-padded prompts, so every row's last prompt token sits in the same column
and one forward pass per step serves the whole batch. The eager loop pads only to the longest
prompt of the batch and drops rows as they finish; the static loop pads to a bucket and a fixed
batch size and never changes a shape, which is what a compiled (Inferentia) graph needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from shared.inference.buckets import choose_bucket
from shared.inference.sampling import RowSampler, select_tokens
from shared.inference.types import FinishReason, GenerationParams

log = logging.getLogger(__name__)


class TextDecoder(Protocol):
    """The slice of a tokenizer the loops need."""

    def decode(self, token_ids: list[int], skip_special_tokens: bool = ...) -> str: ...


@dataclass
class DecodeRequest:
    """One row: prompt token ids after the chat template, its params, a cancellation probe."""

    prompt_ids: list[int]
    params: GenerationParams
    is_cancelled: Callable[[], bool] = lambda: False


@dataclass
class DecodeResult:
    """One finished row; `cancelled` rows carry whatever they had produced."""

    token_ids: list[int]
    logprobs: list[float]
    text: str
    finish_reason: FinishReason
    cancelled: bool = False


@dataclass
class DecodeStats:
    """What a batch cost: positions computed vs real in the prompt pass, tokens produced."""

    prompt_positions: int = 0
    prompt_real: int = 0
    generated: int = 0


@dataclass
class _Row:
    request: DecodeRequest
    sampler: RowSampler
    eos_ids: frozenset[int]
    tokenizer: TextDecoder
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    text: str | None = None
    finish: FinishReason | None = None
    cancelled: bool = False

    def push(self, token: int, logprob: float) -> bool:
        """Record a token; True when the row is finished."""
        self.tokens.append(token)
        self.logprobs.append(logprob)
        params = self.request.params
        if token in self.eos_ids:
            self.finish = "stop"
        elif params.stop:
            text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
            cut = min((i for i in (text.find(s) for s in params.stop) if i >= 0), default=-1)
            if cut >= 0:
                self.text, self.finish = text[:cut], "stop"
        if self.finish is None and len(self.tokens) >= params.max_new_tokens:
            self.finish = "length"
        if self.finish is None and self.request.is_cancelled():
            self.cancelled, self.finish = True, "stop"
        return self.finish is not None

    def result(self) -> DecodeResult:
        text = self.text
        if text is None:
            text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        return DecodeResult(
            token_ids=self.tokens,
            logprobs=self.logprobs,
            text=text,
            finish_reason=self.finish or "length",
            cancelled=self.cancelled,
        )


def _rows(
    requests: Sequence[DecodeRequest], eos_ids: frozenset[int], tokenizer: TextDecoder
) -> list[_Row]:
    return [_Row(r, RowSampler(r.params), eos_ids, tokenizer) for r in requests]


def left_pad(
    prompts: Sequence[Sequence[int]], width: int, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both (len(prompts), width), prompts right-aligned."""
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        if prompt:
            ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[row, width - len(prompt) :] = 1
    return ids, mask


def positions_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token (padding gets 0)."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


@torch.inference_mode()
def generate_eager(
    model: Any,
    tokenizer: TextDecoder,
    requests: Sequence[DecodeRequest],
    *,
    eos_ids: frozenset[int],
    pad_id: int,
    device: torch.device,
    stats: DecodeStats | None = None,
) -> list[DecodeResult]:
    """Decode a batch with a growing KV cache; finished or cancelled rows leave the batch."""
    from transformers import DynamicCache

    rows = _rows(requests, eos_ids, tokenizer)
    width = max(len(r.prompt_ids) for r in requests)
    ids, mask = left_pad([r.prompt_ids for r in requests], width, pad_id)
    if stats is not None:
        stats.prompt_positions += ids.numel()
        stats.prompt_real += int(mask.sum())
    ids, mask = ids.to(device), mask.to(device)
    positions = positions_from_mask(mask)
    cache = DynamicCache(config=model.config)
    logits = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=1,
    ).logits[:, -1, :]
    active = list(range(len(rows)))
    next_pos = positions[:, -1:] + 1
    while True:
        tokens, lps = select_tokens(logits, [rows[i].sampler for i in active])
        keep = [slot for slot, i in enumerate(active) if not rows[i].push(tokens[slot], lps[slot])]
        if stats is not None:
            stats.generated += len(active)
        if not keep:
            break
        step_ids = torch.tensor([[tokens[s]] for s in keep], dtype=torch.long, device=device)
        if len(keep) < len(active):
            index = torch.tensor(keep, dtype=torch.long, device=device)
            cache.batch_select_indices(index)
            mask, next_pos = mask[index], next_pos[index]
            active = [active[s] for s in keep]
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=-1)
        logits = model(
            input_ids=step_ids,
            attention_mask=mask,
            position_ids=next_pos,
            past_key_values=cache,
            use_cache=True,
        ).logits[:, -1, :]
        next_pos = next_pos + 1
    return [row.result() for row in rows]


# --- static shapes ---------------------------------------------------------------------------

StepFn = Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


class StaticStep(torch.nn.Module):
    """One forward pass with every shape fixed and the KV cache passed in and out as tensors.

    This is the unit that gets compiled on Inferentia (one prefill graph of input width =
    bucket, one decode graph of width 1, per bucket); on CPU it runs eagerly, which is how the
    tests prove the padded, bucketed path yields the same tokens as plain generation.
    Inputs: input_ids (B, W), position_ids (B, W), additive mask (B, 1, W, C), the cache slot
    of the first input column (0-d long), keys and values (layers, B, kv_heads, C, head_dim).
    Outputs: float32 logits of the last column (B, V) and the updated keys and values (the
    same tensors, written in place, when run eagerly; new ones out of a compiled graph).
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        mask: torch.Tensor,
        start: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from transformers import StaticCache

        cache = StaticCache(config=self.model.config, max_cache_len=keys.shape[3])
        layers: list[Any] = list(cache.layers)
        for index, layer in enumerate(layers):
            # Adopt the caller's tensors as the layer's storage: StaticLayer writes new
            # keys at cumulative_length.. with index_copy_, i.e. into our tensors.
            layer.keys, layer.values = keys[index], values[index]
            layer.dtype, layer.device = keys.dtype, keys.device
            layer.batch_size, layer.num_heads = keys.shape[1], keys.shape[2]
            layer.k_head_dim = layer.v_head_dim = keys.shape[4]
            layer.cumulative_length = start.clone()
            layer.is_initialized = True
        out = self.model(
            input_ids=input_ids,
            position_ids=position_ids,
            attention_mask=mask,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        logits: torch.Tensor = out.logits[:, -1, :].float()
        return logits, keys, values


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Bool (B, 1, W, C) → additive float mask: 0 where allowed, dtype-min elsewhere."""
    zero = torch.zeros((), dtype=dtype)
    return torch.where(allowed, zero, torch.finfo(dtype).min).to(dtype)


@dataclass(frozen=True)
class StaticGeometry:
    """The fixed shapes of a compiled model: batch size, prompt buckets, generation budget."""

    batch_size: int
    buckets: tuple[int, ...]
    max_new_tokens: int

    def cache_len(self, bucket: int) -> int:
        return bucket + self.max_new_tokens


class StaticShapeGenerator:
    """Decodes with fixed (batch, bucket) shapes: what a compiled Neuron graph can execute.

    Prompts are left-padded to the bucket of the longest one, the batch is topped up with
    filler rows to `batch_size`, and the KV cache is allocated at bucket + max_new_tokens.
    Cache slot k holds prompt column k for k < bucket and generated token k - bucket after.
    `steps` maps (bucket, width) to the step function: eager StaticStep on CPU, a compiled
    graph on Inferentia.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: TextDecoder,
        geometry: StaticGeometry,
        *,
        eos_ids: frozenset[int],
        pad_id: int,
        device: torch.device,
        steps: dict[tuple[int, int], StepFn] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.geometry = geometry
        self.eos_ids = eos_ids
        self.pad_id = pad_id
        self.device = device
        self.dtype: torch.dtype = model.dtype
        cfg = model.config
        self.layers = int(cfg.num_hidden_layers)
        self.kv_heads = int(getattr(cfg, "num_key_value_heads", cfg.num_attention_heads))
        self.head_dim = int(
            getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        )
        eager = StaticStep(model)
        self.steps: dict[tuple[int, int], StepFn] = steps or {}
        for bucket in geometry.buckets:
            for width in (bucket, 1):
                self.steps.setdefault((bucket, width), eager)

    def example_inputs(self, bucket: int, width: int) -> tuple[torch.Tensor, ...]:
        """Inputs of the right shapes and dtypes for compiling the (bucket, width) graph."""
        batch, cache_len = self.geometry.batch_size, self.geometry.cache_len(bucket)
        kv_shape = (self.layers, batch, self.kv_heads, cache_len, self.head_dim)
        allowed = torch.ones((batch, 1, width, cache_len), dtype=torch.bool)
        return (
            torch.zeros((batch, width), dtype=torch.long, device=self.device),
            torch.zeros((batch, width), dtype=torch.long, device=self.device),
            additive_mask(allowed, self.dtype).to(self.device),
            torch.tensor(0 if width == bucket else bucket, device=self.device),
            torch.zeros(kv_shape, dtype=self.dtype, device=self.device),
            torch.zeros(kv_shape, dtype=self.dtype, device=self.device),
        )

    @torch.inference_mode()
    def generate(
        self, requests: Sequence[DecodeRequest], stats: DecodeStats | None = None
    ) -> list[DecodeResult]:
        geo = self.geometry
        if len(requests) > geo.batch_size:
            raise ValueError(f"{len(requests)} rows exceed the compiled batch {geo.batch_size}")
        if any(r.params.max_new_tokens > geo.max_new_tokens for r in requests):
            raise ValueError(f"max_new_tokens above the compiled {geo.max_new_tokens}")
        bucket = choose_bucket(max(len(r.prompt_ids) for r in requests), geo.buckets)
        cache_len = geo.cache_len(bucket)
        rows = _rows(requests, self.eos_ids, self.tokenizer)
        # Filler rows hold one real token so no attention row is fully masked (NaN-free).
        prompts = [r.prompt_ids for r in requests]
        prompts += [[self.pad_id]] * (geo.batch_size - len(requests))
        ids, pad_mask = left_pad(prompts, bucket, self.pad_id)
        if stats is not None:
            stats.prompt_positions += ids.numel()
            stats.prompt_real += sum(len(r.prompt_ids) for r in requests)
        positions = positions_from_mask(pad_mask)
        # Which cache slots hold real tokens: prompt columns per pad_mask, generated slots
        # become real as they are written.
        slot_real = torch.zeros((geo.batch_size, cache_len), dtype=torch.bool)
        slot_real[:, :bucket] = pad_mask.bool()
        causal = torch.arange(cache_len)[None, :] <= torch.arange(bucket)[:, None]
        allowed = slot_real[:, None, None, :] & causal[None, None, :, :]
        kv_shape = (self.layers, geo.batch_size, self.kv_heads, cache_len, self.head_dim)
        keys = torch.zeros(kv_shape, dtype=self.dtype, device=self.device)
        values = torch.zeros(kv_shape, dtype=self.dtype, device=self.device)
        logits, keys, values = self.steps[(bucket, bucket)](
            ids.to(self.device),
            positions.to(self.device),
            additive_mask(allowed, self.dtype).to(self.device),
            torch.tensor(0, device=self.device),
            keys,
            values,
        )
        next_pos = positions[:, -1:] + 1
        live = list(range(len(rows)))
        step_tokens = [self.pad_id] * geo.batch_size
        for step in range(geo.max_new_tokens):
            tokens, lps = select_tokens(logits[: len(rows)], [row.sampler for row in rows])
            for i in live:
                step_tokens[i] = tokens[i]
            if stats is not None:
                stats.generated += len(live)
            live = [i for i in live if not rows[i].push(tokens[i], lps[i])]
            if not live:
                break
            slot = bucket + step
            slot_real[:, slot] = True
            allowed = (slot_real & (torch.arange(cache_len) <= slot))[:, None, None, :]
            logits, keys, values = self.steps[(bucket, 1)](
                torch.tensor(step_tokens, dtype=torch.long, device=self.device)[:, None],
                next_pos.to(self.device),
                additive_mask(allowed, self.dtype).to(self.device),
                torch.tensor(slot, device=self.device),
                keys,
                values,
            )
            next_pos = next_pos + 1
        return [row.result() for row in rows]
