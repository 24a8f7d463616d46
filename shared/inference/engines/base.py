"""The engine contract: continuous (iteration-level) batching behind one async call.

An engine owns a model on one device and schedules requests itself: a request joins the running
batch at the next decode step and leaves it the step it finishes, so nobody waits for a batch to
drain. What every engine shares lives here, once: bounded admission (the next caller past
`queue_size` gets Overloaded at once), per-request timeouts and cancellation (the caller's
task is cancelled, and an engine must free the request's slot when its `_run` is cancelled),
counters for /metrics, and the health check.

Concrete engines implement `start`, `_run` and `_stop`: llama.cpp's server on CPU
(engines/llamacpp.py), transformers' continuous batching (engines/transformers_cb.py), Neuron
(engines/neuron.py), and the static micro-batcher kept as the reference (engines/static.py).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from shared.errors import Overloaded, TransientError
from shared.inference.types import BatcherStats, ChatMessage, FinishReason, GenerationParams
from shared.observability.health import Check, register_component, unregister_component

log = logging.getLogger(__name__)

_SAMPLES = 4096  # queue waits kept for percentiles


class EngineClosed(TransientError):
    """The engine is shutting down; another replica can serve the request."""


class EngineFailed(TransientError):
    """The engine's worker (thread or server process) died; this process cannot serve."""


@dataclass(frozen=True)
class EngineOutput:
    """One finished request as an engine reports it.

    `logprobs` holds one log-probability per generated token (end-of-turn token included) under
    the distribution sampled from; `queue_ms` is admission to first scheduled step as far as the
    engine knows it, `compute_ms` the time the request spent in the running batch, `batch_size`
    the most requests that ran beside it (itself included). `prefill_ms`, where the engine
    reports it, is the part of compute_ms spent on the prompt (the rest is decoding), and
    `drafted_accepted` the generated tokens that came from accepted speculative drafts (so
    decode steps = token_count - drafted_accepted).
    """

    text: str
    token_count: int
    logprobs: tuple[float, ...]
    finish_reason: FinishReason
    queue_ms: float
    compute_ms: float
    batch_size: int
    prefill_ms: float | None = None
    drafted_accepted: int = 0


class Engine(abc.ABC):
    """A chat model served with continuous batching. One per model per process."""

    device_name: str = "?"
    engine_name: str = "?"

    def __init__(self, model_id: str, *, queue_size: int) -> None:
        self.model_id = model_id
        self._queue_size = queue_size
        self._admitted = 0
        self._closing = False
        self.failure: str | None = None
        self._requests = self._rejected = self._timed_out = self._cancelled = 0
        self._finished = 0
        self._generated = 0
        self._busy_s = 0.0
        self._busy_since: float | None = None
        self._batch_rows = 0
        self._waits: deque[float] = deque(maxlen=_SAMPLES)

    # -- what an engine implements -------------------------------------------------------
    @abc.abstractmethod
    async def start(self) -> None:
        """Load weights / spawn the server, warm up, and be ready to serve."""

    @abc.abstractmethod
    def encode_chat(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Prompt token ids after the model's chat template, generation prompt included."""

    @property
    @abc.abstractmethod
    def max_prompt_tokens(self) -> int:
        """Longest prompt served; the facade raises PromptTooLong above it."""

    @abc.abstractmethod
    async def _run(self, prompt_ids: list[int], params: GenerationParams) -> EngineOutput:
        """Generate one reply. Cancellation of the calling task must free the request's slot."""

    @abc.abstractmethod
    async def _stop(self) -> None:
        """Release the model / stop the server (after in-flight requests were given up)."""

    # -- callers -------------------------------------------------------------------------
    async def generate(
        self, prompt_ids: list[int], params: GenerationParams, *, timeout_s: float | None = None
    ) -> EngineOutput:
        """One request through admission. Overloaded at once when full; TimeoutError after
        `timeout_s`; EngineClosed after close(); EngineFailed once the engine died."""
        if self.failure is not None:
            raise EngineFailed(f"model {self.model_id}: {self.failure}")
        if self._closing:
            raise EngineClosed(f"model {self.model_id} is closing")
        if self._admitted >= self._queue_size:
            self._rejected += 1
            raise Overloaded(f"model {self.model_id}: {self._admitted} requests in flight (limit)")
        self._admitted += 1
        self._requests += 1
        if self._busy_since is None:
            self._busy_since = time.monotonic()
        try:
            out = await asyncio.wait_for(self._run(prompt_ids, params), timeout_s)
        except TimeoutError:
            self._timed_out += 1
            raise
        except asyncio.CancelledError:
            self._cancelled += 1
            raise
        finally:
            self._admitted -= 1
            if self._admitted == 0 and self._busy_since is not None:
                self._busy_s += time.monotonic() - self._busy_since
                self._busy_since = None
        self._finished += 1
        self._generated += out.token_count
        self._batch_rows += out.batch_size
        self._waits.append(out.queue_ms)
        return out

    def mark_failed(self, reason: str) -> None:
        """Called by an engine whose worker died: every new caller gets EngineFailed and the
        process's /healthz and /readyz fail, so the orchestrator restarts it."""
        if self.failure is None:
            self.failure = reason
            log.error("model %s: engine %s failed (%s)", self.model_id, self.engine_name, reason)

    # -- health and metrics --------------------------------------------------------------
    def register_health(self) -> None:
        register_component(self)

    def health_check(self) -> Check:
        name = f"model:{self.model_id}"
        if self.failure is not None:
            return Check(name, False, f"{self.engine_name} failed: {self.failure}")
        return Check(name, True, f"{self.engine_name} up")

    def stats(self) -> BatcherStats:
        waits = sorted(self._waits)

        def pct(q: float) -> float:
            return waits[min(len(waits) - 1, int(q * len(waits)))] if waits else 0.0

        busy = self._busy_s + (
            time.monotonic() - self._busy_since if self._busy_since is not None else 0.0
        )
        return BatcherStats(
            model=self.model_id,
            requests=self._requests,
            # Continuous batching has no batches; "batches" counts finished requests, and
            # mean_batch_size is the mean number of requests that ran beside each one.
            batches=self._finished,
            mean_batch_size=self._batch_rows / self._finished if self._finished else 0.0,
            queue_wait_p50_ms=pct(0.50),
            queue_wait_p95_ms=pct(0.95),
            padding_waste=self.padding_waste(),
            tokens_per_s=self._generated / busy if busy else 0.0,
            rejected=self._rejected,
            timed_out=self._timed_out,
            cancelled=self._cancelled,
            queued=max(0, self._admitted - self.running()),
            in_flight=self._admitted,
        )

    def padding_waste(self) -> float:
        """Fraction of computed positions that were padding; 0 for engines that never pad."""
        return 0.0

    def running(self) -> int:
        """Requests in the running batch now (the rest of the admitted ones are waiting)."""
        return self._admitted

    # -- shutdown ------------------------------------------------------------------------
    async def close(self) -> None:
        """Refuse new work, then stop the engine (in-flight requests fail retriably)."""
        if self._closing:
            return
        self._closing = True
        unregister_component(self)
        await self._stop()
