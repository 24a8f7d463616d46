"""The facades services use: LocalGenerator and LocalEmbedder.

Start one per model per process and share it: every concurrent caller's request joins the
generator engine's running batch (continuous batching) and the embedder's micro-batcher, so
ten handlers awaiting `generate` at once cost about one batched forward pass per token.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from shared.config import CoreSettings
from shared.errors import ConfigurationError, PermanentError
from shared.inference.backends import Backend, BatchOutcome, create_backend
from shared.inference.batcher import Job, MicroBatcher
from shared.inference.buckets import PromptTooLong, choose_bucket
from shared.inference.device import Device, resolve_device
from shared.inference.engines.base import Engine
from shared.inference.engines.llamacpp import BUILD_HINT, LlamaCppEngine, find_server
from shared.inference.engines.static import StaticBatchEngine
from shared.inference.metrics_export import export_live
from shared.inference.provision import ProvisionedModel, provision
from shared.inference.settings import InferenceSettings
from shared.inference.types import BatcherStats, ChatMessage, Generation, GenerationParams

log = logging.getLogger(__name__)


async def _load_backend(
    settings: InferenceSettings, core: CoreSettings, name: str, role: str
) -> Backend:
    started = time.monotonic()
    provisioned = await asyncio.to_thread(provision, name, core, settings)
    backend = await _load_provisioned(settings, core, provisioned, role)
    log.info("%s %s ready in %.1fs", role, name, time.monotonic() - started)
    return backend


async def _load_provisioned(
    settings: InferenceSettings, core: CoreSettings, provisioned: ProvisionedModel, role: str
) -> Backend:
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
    return backend


class LocalGenerator:
    """A chat model served by a continuous-batching engine. Load once, share across callers.

    The engine (engines/) schedules every admitted request into the running batch; this facade
    adds what is the same on every device: the chat template, the prompt and token limits, and
    the Generation record with the router's confidence signal.
    """

    def __init__(self, settings: InferenceSettings, engine: Engine, model_id: str) -> None:
        self.model_id = model_id
        self.settings = settings
        self.engine = engine

    @classmethod
    async def start(
        cls, settings: InferenceSettings, core: CoreSettings, *, model: str | None = None
    ) -> LocalGenerator:
        """Provision the model, start its engine (load or spawn, warm up)."""
        name = model or settings.generator_model
        started = time.monotonic()
        provisioned = await asyncio.to_thread(provision, name, core, settings)
        device = resolve_device(settings.device)
        choice = choose_engine(settings, device, provisioned, core.state_dir)
        engine = await _build_engine(choice, settings, core, provisioned, name)
        await engine.start()
        log.info(
            "generator %s ready on %s (engine %s) in %.1fs",
            name,
            engine.device_name,
            engine.engine_name,
            time.monotonic() - started,
        )
        generator = cls(settings, engine, name)
        export_live(generator)
        return generator

    @property
    def device(self) -> str:
        return self.engine.device_name

    @property
    def engine_name(self) -> str:
        return self.engine.engine_name

    @property
    def max_prompt_tokens(self) -> int:
        """Longest prompt (after the chat template) served; longer ones raise PromptTooLong."""
        return self.engine.max_prompt_tokens

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt length in tokens after the chat template (generation prompt included)."""
        return len(self.engine.encode_chat(messages))

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
        its slot in the running batch.
        """
        prompt = self.engine.encode_chat(messages)
        if len(prompt) > self.max_prompt_tokens:
            raise PromptTooLong(len(prompt), self.max_prompt_tokens)
        if params.max_new_tokens > self.settings.max_new_tokens_limit:
            raise PermanentError(
                f"max_new_tokens={params.max_new_tokens} above INFERENCE_MAX_NEW_TOKENS="
                f"{self.settings.max_new_tokens_limit}"
            )
        out = await self.engine.generate(prompt, params, timeout_s=timeout_s)
        lps = out.logprobs
        return Generation(
            text=out.text,
            prompt_tokens=len(prompt),
            completion_tokens=out.token_count,
            mean_logprob=sum(lps) / len(lps) if lps else -math.inf,
            token_logprobs=lps,
            finish_reason=out.finish_reason,
            queue_ms=out.queue_ms,
            compute_ms=out.compute_ms,
            model=self.model_id,
            batch_size=out.batch_size,
            prefill_ms=out.prefill_ms,
            drafted_accepted=out.drafted_accepted,
        )

    def stats(self) -> BatcherStats:
        """Requests, queue waits, padding waste and throughput since start."""
        return self.engine.stats()

    async def close(self) -> None:
        """Stop accepting work and stop the engine."""
        await self.engine.close()


EngineChoice = Literal["llamacpp", "transformers", "neuron", "static"]


def choose_engine(
    settings: InferenceSettings, device: Device, model: ProvisionedModel, state_dir: Path
) -> EngineChoice:
    """Which engine serves the generator (docs/inference.md has the measurements behind it).

    auto: Neuron's engine on inf2, transformers' continuous batching on CUDA, llama.cpp on CPU
    when the model has a GGUF and the server is built; transformers' otherwise, with a warning,
    since that is several times slower per request here.
    """
    requested = settings.engine
    if requested == "llamacpp":
        if device != "cpu":
            raise ConfigurationError(
                f"INFERENCE_ENGINE=llamacpp serves on CPU only (device is {device})"
            )
        return "llamacpp"
    if requested in ("transformers", "static"):
        if requested == "transformers" and device == "neuron":
            raise ConfigurationError("INFERENCE_ENGINE=transformers does not run on Neuron")
        return requested
    if device == "neuron":
        return "neuron"
    if device == "cuda":
        return "transformers"
    if model.gguf is None:
        log.warning("model %s has no GGUF: serving with transformers on CPU", model.name)
        return "transformers"
    if find_server(settings, state_dir) is None:
        log.warning("llama-server is not built (%s): serving with transformers on CPU", BUILD_HINT)
        return "transformers"
    return "llamacpp"


async def _build_engine(
    choice: EngineChoice,
    settings: InferenceSettings,
    core: CoreSettings,
    model: ProvisionedModel,
    name: str,
) -> Engine:
    if choice == "llamacpp":
        binary = find_server(settings, core.state_dir)
        if binary is None:
            raise ConfigurationError(f"llama-server not found; {BUILD_HINT}")
        return LlamaCppEngine(settings, model, model_id=name, binary=binary)
    if choice == "transformers":
        from shared.inference.engines.transformers_cb import TransformersEngine

        device = resolve_device(settings.device)
        return TransformersEngine(settings, model, device=device)
    if choice == "neuron":
        from shared.inference.engines.neuron import NeuronEngine

        root = Path(settings.neuron_cache_dir or core.model_cache_dir / "neuron-cache")
        return NeuronEngine(settings, model, cache_root=root)
    backend = await _load_provisioned(settings, core, model, "generator")
    return StaticBatchEngine(settings, backend, name)


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
