"""Public value types of the inference runtime: what callers send and what they get back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a chat prompt; rendered with the model's own chat template."""

    role: Role
    content: str


@dataclass(frozen=True)
class GenerationParams:
    """Decoding controls of one request.

    temperature 0 means greedy decoding (deterministic, the default); above 0 samples from the
    tempered, top-p-truncated distribution, reproducibly when `seed` is given. Generation stops at
    the model's end-of-turn token, at the first `stop` string (excluded from the text) or after
    `max_new_tokens`.
    """

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")


@dataclass(frozen=True)
class Generation:
    """The answer to one request.

    `completion_tokens` counts every generated token, the end-of-turn token included;
    `token_logprobs` has one log-probability per such token (under the distribution actually
    sampled from: tempered and top-p-renormalised when sampling) and `mean_logprob` is their
    mean, the router's confidence signal. `queue_ms` is time from admission to the start of the
    batch that ran it; `compute_ms` is that batch's run time, shared by its `batch_size` rows.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    mean_logprob: float
    token_logprobs: tuple[float, ...]
    finish_reason: FinishReason
    queue_ms: float
    compute_ms: float
    model: str
    batch_size: int
    # The prompt's share of compute_ms, where the engine reports it (llama.cpp does).
    prefill_ms: float | None = None
    # Tokens that came from accepted speculative drafts (llama.cpp prompt lookup), 0 elsewhere.
    drafted_accepted: int = 0


@dataclass(frozen=True)
class BatcherStats:
    """A snapshot of one model's micro-batcher (plain data; see metrics_export for Prometheus).

    padding_waste is the fraction of token positions the model computed that were padding
    (left-padding inside a batch, bucket padding and filler rows on static-shape devices).
    """

    model: str
    requests: int
    batches: int
    mean_batch_size: float
    queue_wait_p50_ms: float
    queue_wait_p95_ms: float
    padding_waste: float
    tokens_per_s: float
    rejected: int
    timed_out: int
    cancelled: int
    queued: int
    in_flight: int
