"""The facades services use: LocalGenerator and LocalEmbedder.

Start one per model per process and share it: every concurrent caller's request goes through
the model's micro-batcher, so ten handlers awaiting `generate` at once cost about one batched
forward pass per token instead of ten.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shared.config import CoreSettings
from shared.errors import PermanentError
from shared.inference.backends import Backend, BatchOutcome, create_backend
from shared.inference.batcher import Job, MicroBatcher
from shared.inference.buckets import PromptTooLong, choose_bucket
from shared.inference.decode import DecodeRequest, DecodeResult
from shared.inference.device import resolve_device
from shared.inference.metrics_export import export_live
from shared.inference.provision import provision
from shared.inference.settings import InferenceSettings
from shared.inference.types import BatcherStats, ChatMessage, Generation, GenerationParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _GenPayload:
    prompt_ids: list[int]
    params: GenerationParams


async def _load_backend(
    settings: InferenceSettings, core: CoreSettings, name: str, role: str
) -> Backend:
    started = time.monotonic()
    provisioned = await asyncio.to_thread(provision, name, core, settings)
    device = resolve_device(settings.device)
    backend = create_backend(
        device,
        settings,
        provisioned,
        "generator" if role == "generator" else "embedder",
        model_cache_dir=core.model_cache_dir,
    )
    await asyncio.to_thread(backend.load)
    if settings.warmup:
        await asyncio.to_thread(backend.warm_up)
    log.info("%s %s ready on %s in %.1fs", role, name, device, time.monotonic() - started)
    return backend


def _is_cancelled(job: Job[_GenPayload]) -> bool:
    return job.cancelled


class LocalGenerator:
    """A chat model served by a micro-batcher. Load once, share across concurrent callers."""

    def __init__(self, settings: InferenceSettings, backend: Backend, model_id: str) -> None:
        self.model_id = model_id
        self.settings = settings
        self._backend = backend
        self._buckets = tuple(
            b
            for b in settings.buckets
            if b + settings.max_new_tokens_limit <= backend.max_positions
        ) or (settings.buckets[0],)
        self._batcher: MicroBatcher[_GenPayload, DecodeResult] = MicroBatcher(
            model_id,
            self._run,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_wait_ms,
            queue_size=settings.queue_size,
        )

    @classmethod
    async def start(
        cls, settings: InferenceSettings, core: CoreSettings, *, model: str | None = None
    ) -> LocalGenerator:
        """Provision, load and warm up the model, then start its batcher."""
        name = model or settings.generator_model
        backend = await _load_backend(settings, core, name, "generator")
        generator = cls(settings, backend, name)
        export_live(generator)
        return generator

    @property
    def device(self) -> str:
        return self._backend.device_name

    @property
    def max_prompt_tokens(self) -> int:
        """Longest prompt (after the chat template) served; longer ones raise PromptTooLong."""
        return self._buckets[-1]

    @property
    def buckets(self) -> tuple[int, ...]:
        return self._buckets

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt length in tokens after the chat template (generation prompt included)."""
        return len(self._backend.encode_chat(messages))

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams = GenerationParams(),  # noqa: B008 (frozen, so shareable)
        *,
        timeout_s: float | None = None,
    ) -> Generation:
        """Generate one reply.

        Raises PromptTooLong (permanent) above max_prompt_tokens, PermanentError when
        max_new_tokens exceeds INFERENCE_MAX_NEW_TOKENS, Overloaded when the queue is full,
        TimeoutError after `timeout_s` (queue wait included). Cancelling the caller frees
        its queue slot and drops its row from the running batch.
        """
        prompt = self._backend.encode_chat(messages)
        if len(prompt) > self.max_prompt_tokens:
            raise PromptTooLong(len(prompt), self.max_prompt_tokens)
        if params.max_new_tokens > self.settings.max_new_tokens_limit:
            raise PermanentError(
                f"max_new_tokens={params.max_new_tokens} above INFERENCE_MAX_NEW_TOKENS="
                f"{self.settings.max_new_tokens_limit}"
            )
        bucket = choose_bucket(len(prompt), self._buckets)
        done = await self._batcher.submit(_GenPayload(prompt, params), bucket, timeout_s=timeout_s)
        result = done.value
        lps = tuple(result.logprobs)
        return Generation(
            text=result.text,
            prompt_tokens=len(prompt),
            completion_tokens=len(result.token_ids),
            mean_logprob=sum(lps) / len(lps) if lps else -math.inf,
            token_logprobs=lps,
            finish_reason=result.finish_reason,
            queue_ms=done.queue_ms,
            compute_ms=done.compute_ms,
            model=self.model_id,
            batch_size=done.batch_size,
        )

    def _run(self, jobs: list[Job[_GenPayload]]) -> BatchOutcome[DecodeResult]:
        # Worker thread. The probe lets a cancelled or timed-out row leave mid-batch.
        requests = [
            DecodeRequest(
                j.payload.prompt_ids, j.payload.params, functools.partial(_is_cancelled, j)
            )
            for j in jobs
        ]
        return self._backend.generate_batch(requests)

    def stats(self) -> BatcherStats:
        """Batch sizes, queue waits, padding waste and throughput since start."""
        return self._batcher.stats()

    async def close(self) -> None:
        """Stop accepting work, finish the running batch, release the model."""
        await self._batcher.close()
        self._backend.close()


class LocalEmbedder:
    """A sentence encoder (MiniLM: mean pooling, L2-normalised) behind a micro-batcher."""

    def __init__(self, settings: InferenceSettings, backend: Backend, model_id: str) -> None:
        self.model_id = model_id
        self.dim = backend.dim
        self._backend = backend
        limit = backend.embed_max_len
        self._buckets = (*(b for b in settings.buckets if b < limit), limit)
        self._batcher: MicroBatcher[list[int], npt.NDArray[np.float32]] = MicroBatcher(
            model_id,
            self._run,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_wait_ms,
            queue_size=settings.queue_size,
        )

    @classmethod
    async def start(
        cls, settings: InferenceSettings, core: CoreSettings, *, model: str | None = None
    ) -> LocalEmbedder:
        """Provision, load and warm up the encoder, then start its batcher."""
        name = model or settings.embedding_model
        backend = await _load_backend(settings, core, name, "embedder")
        embedder = cls(settings, backend, name)
        export_live(embedder)
        return embedder

    async def embed(
        self, texts: Sequence[str], *, timeout_s: float | None = None
    ) -> npt.NDArray[np.float32]:
        """(len(texts), dim) float32, rows L2-normalised; texts beyond the model's trained
        length (256 tokens for MiniLM) are truncated. Same errors as LocalGenerator.generate."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = [self._backend.encode_text(t) for t in texts]
        done = await asyncio.gather(
            *(
                self._batcher.submit(
                    ids, choose_bucket(len(ids), self._buckets), timeout_s=timeout_s
                )
                for ids in encoded
            )
        )
        return np.stack([d.value for d in done]).astype(np.float32, copy=False)

    def _run(self, jobs: list[Job[list[int]]]) -> BatchOutcome[npt.NDArray[np.float32]]:
        return self._backend.embed_batch([j.payload for j in jobs])

    def stats(self) -> BatcherStats:
        return self._batcher.stats()

    async def close(self) -> None:
        await self._batcher.close()
        self._backend.close()


async def start_generator(
    stack: AsyncExitStack, core: CoreSettings, *, model: str | None = None
) -> LocalGenerator:
    """A generator from the environment's settings, closed with `stack` (service lifespans)."""
    generator = await LocalGenerator.start(InferenceSettings(), core, model=model)
    stack.push_async_callback(generator.close)
    return generator
