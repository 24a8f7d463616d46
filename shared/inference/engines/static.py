"""The static micro-batcher as an engine: the reference path, and Neuron's static shapes.

Requests wait in prompt-length buckets and run as whole batches through a Backend's own decode
loop (decode.py); a request arriving while a batch runs waits for it to finish. Continuous
engines replaced it on the serving path for CPU and CUDA (INFERENCE_ENGINE=static still
selects it); it stays as the static-shape reference that the Neuron tests run on CPU.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from shared.inference.backends import Backend, BatchOutcome
from shared.inference.batcher import Job, MicroBatcher
from shared.inference.buckets import choose_bucket
from shared.inference.decode import DecodeRequest, DecodeResult
from shared.inference.engines.base import Engine, EngineOutput
from shared.inference.settings import InferenceSettings
from shared.inference.types import BatcherStats, ChatMessage, GenerationParams
from shared.observability.health import Check


@dataclass(frozen=True)
class _GenPayload:
    prompt_ids: list[int]
    params: GenerationParams


def _is_cancelled(job: Job[_GenPayload]) -> bool:
    return job.cancelled


class StaticBatchEngine(Engine):
    """A Backend behind the MicroBatcher; admission, timeouts and stats are the batcher's."""

    engine_name = "static"

    def __init__(self, settings: InferenceSettings, backend: Backend, model_id: str) -> None:
        super().__init__(model_id, queue_size=settings.queue_size)
        self.settings = settings
        self.backend = backend
        self.device_name = backend.device_name
        self.buckets = tuple(
            b
            for b in settings.buckets
            if b + settings.max_new_tokens_limit <= backend.max_positions
        ) or (settings.buckets[0],)
        self._batcher: MicroBatcher[_GenPayload, DecodeResult] | None = None

    async def start(self) -> None:
        # The backend is loaded by the caller (runtime._load_backend); the batcher needs a loop.
        self._batcher = MicroBatcher(
            self.model_id,
            self._run_batch,
            max_batch_size=self.settings.max_batch_size,
            max_wait_ms=self.settings.max_wait_ms,
            queue_size=self.settings.queue_size,
        )

    def encode_chat(self, messages: Sequence[ChatMessage]) -> list[int]:
        return self.backend.encode_chat(messages)

    @property
    def max_prompt_tokens(self) -> int:
        return self.buckets[-1]

    async def generate(
        self, prompt_ids: list[int], params: GenerationParams, *, timeout_s: float | None = None
    ) -> EngineOutput:
        # The batcher does admission, timeouts and counting itself.
        assert self._batcher is not None, "start() first"
        bucket = choose_bucket(len(prompt_ids), self.buckets)
        done = await self._batcher.submit(
            _GenPayload(prompt_ids, params), bucket, timeout_s=timeout_s
        )
        result = done.value
        return EngineOutput(
            text=result.text,
            token_count=len(result.token_ids),
            logprobs=tuple(result.logprobs),
            finish_reason=result.finish_reason,
            queue_ms=done.queue_ms,
            compute_ms=done.compute_ms,
            batch_size=done.batch_size,
        )

    async def _run(self, prompt_ids: list[int], params: GenerationParams) -> EngineOutput:
        return await self.generate(prompt_ids, params)

    def _run_batch(self, jobs: list[Job[_GenPayload]]) -> BatchOutcome[DecodeResult]:
        # Worker thread. The probe lets a cancelled or timed-out row leave mid-batch.
        requests = [
            DecodeRequest(
                j.payload.prompt_ids, j.payload.params, functools.partial(_is_cancelled, j)
            )
            for j in jobs
        ]
        return self.backend.generate_batch(requests)

    def health_check(self) -> Check:
        assert self._batcher is not None
        return self._batcher.health_check()

    def stats(self) -> BatcherStats:
        assert self._batcher is not None
        return self._batcher.stats()

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        await self._stop()

    async def _stop(self) -> None:
        if self._batcher is not None:
            await self._batcher.close()
        self.backend.close()
