"""Continuous batching with transformers' own manager (`model.init_continuous_batching`).

The manager runs one background thread that, at every step, drains new requests and
cancellations, schedules the running requests plus as much of the waiting ones' prompts as
the step's token budget allows (long prompts are prefilled in chunks), runs one forward pass
over that ragged batch against a paged KV cache, and hands back each request's new token. A
request joins at the step after it is added and leaves (its cache blocks freed) the step it
finishes or is cancelled. This engine bridges that thread to asyncio: the manager calls a
per-request handler on the event loop (`register_result_handler`), which resolves the
caller's future; a cancelled or timed-out caller calls `cancel_request`, so its slot and
blocks are freed before the next step.

Decoding semantics are the static path's (shared/inference/sampling.py, decode.py):

* Greedy rows (temperature 0) are the manager's own argmax, and their log-probabilities are
  the manager's (`return_logprobs`: log-softmax of the float32 logits at the chosen token).
* The manager samples only per manager (`do_sample`, one global seed), so sampled rows are
  chosen by a logits processor of ours, `_SampledRows`, with the project's `RowSampler`:
  tempered, top-p-truncated, reproducible per request seed whatever shares the batch. The
  processor records the chosen token's log-probability under that distribution and masks
  the row to that token, which the manager's argmax then picks.
* Stop strings: requests that have some are streamed (one result per step); when the decoded
  text contains a stop string the answer is cut there and the request is cancelled, so it
  stops costing compute at once. End-of-turn tokens are those of backends/base.py.

The weights load through TorchBackend (same dtype, thread and device rules as the static
path). Because `_SampledRows` runs Python per step, CUDA graphs and async double-buffering
are turned off on CUDA; attention is whatever the manager picks (flash when installed, else
SDPA over the paged cache).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import queue
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from transformers import GenerationConfig, LogitsProcessorList
from transformers.generation.configuration_utils import ContinuousBatchingConfig
from transformers.generation.continuous_batching import (
    ContinuousBatchingManager,
    RequestStatus,
)
from transformers.generation.continuous_batching.cb_logits_processors import (
    ContinuousBatchingLogitsProcessor,
    ContinuousBatchingLogitsProcessorList,
)
from transformers.generation.continuous_batching.requests import (
    FutureRequestState,
    GenerationOutput,
)

from shared.errors import PermanentError
from shared.inference.backends.torch_backend import TorchBackend
from shared.inference.engines.base import Engine, EngineClosed, EngineFailed, EngineOutput
from shared.inference.provision import ProvisionedModel
from shared.inference.sampling import RowSampler
from shared.inference.settings import InferenceSettings
from shared.inference.types import ChatMessage, FinishReason, GenerationParams

log = logging.getLogger(__name__)

# The per-request keyword our processor reads (logit_processor_kwargs of add_request).
_ROW_KEY = "cairn_sampled_row"
# Tokens one step may compute (decode rows + prompt chunks). A step is a pause for every
# decoding row, so on CPU a long prompt is prefilled in chunks of this size rather than at
# once (16 concurrent ~60-token prompts on 2 cores: 256 and 128 gave ~100 generated tok/s,
# 1024 ~83: SDPA computes the ragged batch's block-diagonal mask densely); a GPU computes a
# larger step in about the same time as a small one.
_STEP_TOKENS = {"cpu": 256, "cuda": 2048}
# Paged-cache page: the unit of allocation and of prefix sharing.
_PAGE_SIZE = 128
# How often the watchdog checks that the manager's thread is alive.
_WATCH_S = 0.25


def _fitting_prompt_limit(settings: InferenceSettings, max_positions: int) -> int:
    """The longest prompt the facade has always served for these settings: the largest
    bucket that leaves room for max_new_tokens_limit (kept so engines accept the same
    prompts); it also sizes the KV cache."""
    limit = settings.max_new_tokens_limit
    fitting = [b for b in settings.buckets if b + limit <= max_positions]
    return fitting[-1] if fitting else settings.buckets[0]


@dataclass(eq=False)
class _SampledRow:
    sampler: RowSampler
    logprobs: list[float] = field(default_factory=list)


class _SampledRows(ContinuousBatchingLogitsProcessor):
    """Chooses the token of every sampled row inside the manager's step.

    Rows are identified by an int slot passed as a per-request logits-processor argument;
    greedy rows carry none (-1) and are left untouched. Runs in the manager's thread; the
    event loop only adds and removes slots (single dict operations, atomic under the GIL).
    """

    def __init__(self, max_rows: int) -> None:
        self.supported_kwargs: dict[str, type] = {_ROW_KEY: int}
        self.ignored_kwargs: tuple[str, ...] = ()
        self._max_rows = max_rows
        self._rows: dict[int, _SampledRow] = {}
        self._slots = itertools.count()

    def open(self, params: GenerationParams) -> tuple[int, _SampledRow]:
        slot = next(self._slots) % (2**31 - 1)  # the argument travels as int32
        row = _SampledRow(RowSampler(params))
        self._rows[slot] = row
        return slot, row

    def close(self, slot: int) -> None:
        self._rows.pop(slot, None)

    def clear(self) -> None:
        self._rows.clear()

    def fill_defaults(self, int32_tensor: torch.Tensor) -> None:
        int32_tensor.fill_(-1)

    def prepare_tensor_args(
        self, requests_with_new_token: list[FutureRequestState]
    ) -> torch.Tensor:
        # Padded with -1 to the batch limit: the manager writes only our prefix of its
        # argument row, and a stale slot left behind by an earlier step must not be sampled.
        slots = torch.full((self._max_rows,), -1, dtype=torch.int32)
        for index, request in enumerate(requests_with_new_token):
            slots[index] = int(request.state.logit_processor_kwargs.get(_ROW_KEY, -1))
        return slots

    def __call__(self, scores: torch.Tensor, tensor_arg: torch.Tensor) -> torch.Tensor:
        if not self._rows:  # only greedy requests in flight
            return scores
        slots: list[int] = tensor_arg[: scores.size(0)].tolist()
        for index, slot in enumerate(slots):
            row = self._rows.get(slot) if slot >= 0 else None
            if row is None:  # greedy, or cancelled since it was scheduled
                continue
            token, logprob = row.sampler.sample(scores[index].detach().float().cpu())
            row.logprobs.append(logprob)
            scores[index].fill_(-math.inf)
            scores[index, token] = 0.0
        return scores


class _ProcessorList(ContinuousBatchingLogitsProcessorList):
    """The manager's processor list holding only `_SampledRows` (one int32 argument row)."""

    def __init__(self, rows: _SampledRows) -> None:
        super().__init__(LogitsProcessorList([rows]))
        # The base class counts argument rows only for processors it converted itself.
        self.tensors_required = 1


@dataclass(eq=False)
class _Request:
    request_id: str
    params: GenerationParams
    future: asyncio.Future[EngineOutput]
    admitted: float  # perf_counter, the manager's clock
    sampled: _SampledRow | None
    slot: int | None
    batch_size: int = 1
    ended: bool = False  # the manager has finished or dropped it: nothing to cancel


class TransformersEngine(Engine):
    """One causal LM on `cpu` or `cuda` served by transformers' continuous batching."""

    engine_name = "transformers"

    def __init__(
        self, settings: InferenceSettings, model: ProvisionedModel, *, device: str
    ) -> None:
        super().__init__(model.name, queue_size=settings.queue_size)
        self.settings = settings
        self.device_name = device
        self._backend = TorchBackend(settings, model, "generator", device=device)
        self._max_rows = settings.max_batch_size
        self._rows = _SampledRows(self._max_rows)
        self._manager: ContinuousBatchingManager | None = None
        self._inflight: dict[str, _Request] = {}
        self._ids = itertools.count()
        self._watchdog: asyncio.Task[None] | None = None
        self._prompt_limit = 0

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self._backend.load)
        self._prompt_limit = _fitting_prompt_limit(self.settings, self._backend.max_positions)
        manager = await asyncio.to_thread(self._build_manager)
        manager.start()
        self._manager = manager
        self._watchdog = asyncio.create_task(self._watch(), name=f"cb-watchdog:{self.model_id}")
        if self.settings.warmup:
            await self._warm_up()
        self.register_health()

    def _build_manager(self) -> ContinuousBatchingManager:
        backend = self._backend
        device = self.device_name
        # Room for max_batch_size requests at full length: the running batch never runs out
        # of blocks, so the manager never has to evict and recompute a request.
        per_request = self._prompt_limit + self.settings.max_new_tokens_limit
        num_blocks = self._max_rows * math.ceil(per_request / _PAGE_SIZE)
        generation = GenerationConfig(  # type: ignore[no-untyped-call]
            do_sample=False,  # greedy rows are argmax; sampled rows are chosen by _SampledRows
            max_new_tokens=self.settings.max_new_tokens_limit,
            eos_token_id=sorted(backend.eos_ids),
            pad_token_id=backend.pad_id,
        )
        config = ContinuousBatchingConfig(
            page_size=_PAGE_SIZE,
            num_blocks=num_blocks,
            max_batch_tokens=max(_STEP_TOKENS.get(device, 256), self._max_rows),
            max_requests_per_batch=self._max_rows,
            return_logprobs=True,
            scheduler_type="fifo",  # decoding rows first, then waiting prompts in order
            # _SampledRows runs Python at every step: no graph capture, no double-buffering.
            use_cuda_graph=False,
            use_async_batching=False,
        )
        manager: ContinuousBatchingManager = backend.model.init_continuous_batching(
            generation_config=generation, continuous_batching_config=config
        )
        # Our processor replaces the (empty, for greedy do_sample=False) list built from the
        # generation config; the batch processor reads it when the thread starts.
        manager.logit_processor = _ProcessorList(self._rows)
        log.info(
            "%s: continuous batching on %s, %d rows, %d-token steps, cache %d blocks x %d tokens",
            self.model_id,
            device,
            self._max_rows,
            config.max_batch_tokens,
            num_blocks,
            _PAGE_SIZE,
        )
        return manager

    async def _warm_up(self) -> None:
        # First calls build the CPU/GPU kernels of each shape; pay that before serving.
        started = time.monotonic()
        prompt = self._backend.tokenizer("Warm up.", add_special_tokens=False)["input_ids"]
        await self._run(list(prompt), GenerationParams(max_new_tokens=2))
        await asyncio.gather(
            *(
                self._run(list(prompt), GenerationParams(max_new_tokens=2))
                for _ in range(self._max_rows)
            )
        )
        log.info("warmed up %s in %.1fs", self.model_id, time.monotonic() - started)

    async def _stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._fail_all(EngineClosed(f"model {self.model_id} is closing"))
        manager, self._manager = self._manager, None
        if manager is not None:
            await asyncio.to_thread(self._shutdown_manager, manager)
        self._backend.close()

    @staticmethod
    def _shutdown_manager(manager: ContinuousBatchingManager) -> None:
        # hard_stop: requests still inside are failed by the manager (ours already were).
        manager.stop(block=True, timeout=30.0, hard_stop=True)
        manager.destroy()

    # -- contract --------------------------------------------------------------------------
    def encode_chat(self, messages: Sequence[ChatMessage]) -> list[int]:
        return self._backend.encode_chat(messages)

    @property
    def max_prompt_tokens(self) -> int:
        return self._prompt_limit

    def running(self) -> int:
        # Requests handed to the manager and not finished; it runs at most max_batch_size of
        # them per step and queues the rest.
        return min(len(self._inflight), self._max_rows)

    async def _run(self, prompt_ids: list[int], params: GenerationParams) -> EngineOutput:
        manager = self._live_manager()
        if len(prompt_ids) > self._prompt_limit:
            raise PermanentError(f"prompt of {len(prompt_ids)} tokens above {self._prompt_limit}")
        if params.max_new_tokens > self.settings.max_new_tokens_limit:
            raise PermanentError(
                f"max_new_tokens={params.max_new_tokens} above INFERENCE_MAX_NEW_TOKENS="
                f"{self.settings.max_new_tokens_limit}"
            )
        request_id = f"r{next(self._ids)}"
        kwargs: dict[str, Any] = {}
        sampled: _SampledRow | None = None
        slot: int | None = None
        if params.temperature > 0:
            slot, sampled = self._rows.open(params)
            kwargs[_ROW_KEY] = slot
        request = _Request(
            request_id,
            params,
            asyncio.get_running_loop().create_future(),
            time.perf_counter(),
            sampled,
            slot,
        )
        self._inflight[request_id] = request
        width = self.running()
        for other in self._inflight.values():
            other.batch_size = max(other.batch_size, width)
        try:
            # The handler first, so no result can arrive before someone listens for it.
            manager.register_result_handler(request_id, partial(self._on_output, request))
            added = manager.add_request(
                prompt_ids,
                request_id=request_id,
                max_new_tokens=params.max_new_tokens,
                # One result per step only when stop strings must be watched for.
                streaming=bool(params.stop),
                **kwargs,
            )
            if added is None:
                request.ended = True
                raise self._refusal()
            return await request.future
        finally:
            self._release(request)

    # -- the bridge ------------------------------------------------------------------------
    def _on_output(self, request: _Request, output: GenerationOutput) -> None:
        """Event-loop side of the manager's result delivery (one call per result)."""
        if request.future.done():
            return
        if output.status == RequestStatus.FAILED or output.error is not None:
            request.ended = True
            request.future.set_exception(
                EngineFailed(f"model {self.model_id}: generation failed: {output.error}")
            )
            return
        finished = output.is_finished()
        tokens = list(output.generated_tokens)
        text: str | None = None
        reason: FinishReason | None = None
        if tokens and tokens[-1] in self._backend.eos_ids:
            reason = "stop"
        elif request.params.stop and tokens:
            decoded = self._decode(tokens)
            cut = min(
                (i for i in (decoded.find(s) for s in request.params.stop) if i >= 0), default=-1
            )
            if cut >= 0:
                text, reason = decoded[:cut], "stop"
        if reason is None:
            if not finished:
                return  # a streamed step without a stop string yet
            reason = "length"
        if finished:
            request.ended = True
        if request.sampled is not None:
            logprobs = request.sampled.logprobs[: len(tokens)]
        else:
            logprobs = list(output.logprobs[: len(tokens)])
        now = time.perf_counter()
        started = output.lifespan[0] if output.lifespan[0] > 0 else now
        ended = output.lifespan[1] if output.lifespan[1] > 0 else now
        request.future.set_result(
            EngineOutput(
                text=text if text is not None else self._decode(tokens),
                token_count=len(tokens),
                logprobs=tuple(logprobs),
                finish_reason=reason,
                queue_ms=max(0.0, started - request.admitted) * 1000.0,
                compute_ms=max(0.0, ended - started) * 1000.0,
                batch_size=request.batch_size,
            )
        )

    def _release(self, request: _Request) -> None:
        """Forget a request; if the manager still holds it (caller cancelled or timed out, or
        cut at a stop string), cancel it so its slot and blocks are freed before next step."""
        self._inflight.pop(request.request_id, None)
        if request.slot is not None:
            self._rows.close(request.slot)
        manager = self._manager
        if manager is None:
            return
        if not request.ended:
            manager.cancel_request(request.request_id)
        # No public way to unregister: the manager drops a handler only after a final
        # result, which a cancelled request never gets.
        router = manager.output_router
        with router._lock:
            router.result_handlers.pop(request.request_id, None)

    def _decode(self, tokens: list[int]) -> str:
        text: str = self._backend.tokenizer.decode(tokens, skip_special_tokens=True)
        return text

    # -- failure ---------------------------------------------------------------------------
    def _live_manager(self) -> ContinuousBatchingManager:
        manager = self._manager
        if self.failure is not None:
            raise EngineFailed(f"model {self.model_id}: {self.failure}")
        if manager is None:
            raise EngineClosed(f"model {self.model_id} is not serving")
        return manager

    def _refusal(self) -> Exception:
        manager = self._manager
        fatal = manager.background_thread_status.fatal_error if manager is not None else None
        if fatal is not None or (manager is not None and not manager.is_running()):
            return EngineFailed(f"model {self.model_id}: generation thread is down ({fatal!r})")
        return EngineClosed(f"model {self.model_id} is stopping")

    def _fail_all(self, error: Exception) -> None:
        for request in list(self._inflight.values()):
            if not request.future.done():
                request.future.set_exception(error)
        self._rows.clear()

    async def _watch(self) -> None:
        """Notice the manager's thread dying (it catches every error of a step, fails the
        requests inside and exits) and take the engine out of service."""
        while True:
            await asyncio.sleep(_WATCH_S)
            manager = self._manager
            if manager is None or self._closing:
                return
            # Results for requests we already let go of have no handler; drop them.
            while True:
                try:
                    manager.output_router.output_queue.get_nowait()
                except queue.Empty:
                    break
            if not manager.is_running():
                fatal = manager.background_thread_status.fatal_error
                reason = (
                    f"generation thread died: {fatal!r}" if fatal else "generation thread exited"
                )
                self.mark_failed(reason)
                self._fail_all(EngineFailed(f"model {self.model_id}: {reason}"))
                return
