"""AWS Inferentia2 / Trainium: continuous batching over optimum-neuron's compiled causal LMs.

Written against optimum-neuron 0.4.5 (Neuron SDK 2.26, neuronx-cc 2.21), read from its wheel:

* Export. `NeuronModelForCausalLM.get_neuron_config(model_dir, batch_size=, sequence_length=,
  tensor_parallel_size=)` (models/inference/modeling_utils.py) returns the model class's
  `NxDNeuronConfig` (models/inference/backend/config.py); for llama/qwen2/... `_get_neuron_config`
  turns on `continuous_batching` when batch_size > 1 and `on_device_sampling`. This module then
  sets `on_device_sampling=False` (the graph returns logits, so log-probabilities and seeded
  sampling stay exact, see below), `max_context_length` (width of the prompt graph) and
  `torch_dtype`, and calls `NeuronModelForCausalLM.export(model_dir, neuron_config=...,
  load_weights=False)` (backend/pretrained_model.py `NxDPreTrainedModel._export`: neuronx-cc
  through neuronx_distributed's ModelBuilder) and `save_pretrained(dir)`
  (`NxDPreTrainedModel.save`: neuron_config.json, config.json, model.pt and, for a local
  checkpoint, `checkpoint/weights/tp<rank>_sharded_checkpoint.safetensors`).
* Load. `NeuronModelForCausalLM.from_pretrained(dir)` (`NxDPreTrainedModel._from_pretrained`:
  torch.jit.load of model.pt, then the pre-sharded weights onto the NeuronCores).
* Slots. `NxDModelForCausalLM.forward(input_ids, position_ids, seq_ids, sampling_params)`
  (backend/modules/decoder/modeling_decoder.py) runs the context-encoding graph when the input
  has more than one column and its positions start at 0 (one sequence per call under
  continuous batching: `KVCacheManager.update_cache` writes that seq_id's cache line), and the
  token-generation graph otherwise (one row per slot, each row's KV written at its position).
  The loop here drives it the way optimum-neuron's own vLLM worker does
  (optimum/neuron/vllm/runner.py `OptimumNeuronModelRunnerForCausalLM`: `_prepare_prompt`
  gives prompt ids, positions 0..n-1 and the slot as seq_id; `_prepare_decode` gives each
  sequence's last token at position num_tokens - 1; vllm/model_loader.py
  `OptimumNeuronModelForCausalLM.forward` sorts by seq_id and takes `output[:, -1, :]`).

What optimum-neuron 0.4.5 does not expose, and so this engine does not do: prompt-length or
decode buckets (one prompt graph `max_context_length` wide and one decode graph over the whole
`sequence_length`; NxD Inference has bucketing, optimum-neuron's NxD backend does not), and
log-probabilities from on-device sampling (the sampler returns token ids only; the
`output_logits` option returns a list that its own batch-padding wrapper does not handle).

Scheduling is iteration-level: one worker thread owns the compiled model and, every step,
frees the slots of finished and cancelled requests, prefills waiting requests into free
slots, then runs one decode step over every occupied slot. Every occupied slot must be in
every decode call: optimum-neuron pads a partial batch with the unused seq_ids
(decoder_wrappers.py `_forward_with_pad`), and a padding row writes its KV into that slot.

Everything below the `OptimumNeuron` adapter runs on CPU in the tests, against a stand-in
whose "compiled model" is a small transformers model behind the same forward() contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import heapq
import importlib
import json
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from shared.errors import ConfigurationError, PermanentError
from shared.inference.backends.base import encode_chat, end_of_turn_ids
from shared.inference.backends.torch_backend import resolve_dtype
from shared.inference.buckets import PromptTooLong
from shared.inference.compile_cache import local_model_dir, weights_checksum
from shared.inference.engines.base import Engine, EngineClosed, EngineFailed, EngineOutput
from shared.inference.provision import ProvisionedModel
from shared.inference.sampling import RowSampler, select_tokens
from shared.inference.settings import InferenceSettings
from shared.inference.types import ChatMessage, FinishReason, GenerationParams

log = logging.getLogger(__name__)

OPTIMUM_NEURON_VERSION = "0.4.5"  # the version whose API this module follows
NEURON_INSTALL_HINT = (
    "optimum-neuron with the Neuron SDK is not installed. The SDK (torch-neuronx, neuronx-cc, "
    "neuronx-distributed) comes from AWS's index, not PyPI: on an inf2/trn1 host (Neuron DLAMI "
    f"or DLC) pip install 'optimum-neuron[neuronx]=={OPTIMUM_NEURON_VERSION}' "
    "--extra-index-url https://pip.repos.neuron.amazonaws.com, or set INFERENCE_DEVICE=cpu"
)
# Bump when the compiled directory's layout or the key's contents change.
_EXPORT_FORMAT = 1
_MARKER = "cairn-export.json"
_MIN_PROMPT = 2  # a 1-token prompt would be routed to the decode graph (see NxDSlots.prefill)


@dataclass(frozen=True)
class ExportSpec:
    """The static shapes one compiled model serves, from the settings."""

    batch_size: int  # continuous-batching slots (INFERENCE_MAX_BATCH_SIZE)
    sequence_length: int  # KV cache per slot: prompt + generated tokens
    max_context_length: int  # prompt graph width: the longest prompt served
    tp_degree: int  # NeuronCores the model is sharded over (INFERENCE_NEURON_CORES)
    dtype: torch.dtype

    @classmethod
    def from_settings(cls, settings: InferenceSettings, max_positions: int) -> ExportSpec:
        limit = settings.max_new_tokens_limit
        fitting = [b for b in settings.buckets if b + limit <= max_positions]
        if fitting:
            context = fitting[-1]
        else:
            context = max(_MIN_PROMPT, min(settings.buckets[0], max_positions - 1))
            log.warning(
                "no INFERENCE_BUCKETS entry + INFERENCE_MAX_NEW_TOKENS fits the model's %d "
                "positions: prompts up to %d tokens, fewer new tokens for long prompts",
                max_positions,
                context,
            )
        return cls(
            batch_size=settings.max_batch_size,
            sequence_length=min(context + limit, max_positions),
            max_context_length=context,
            tp_degree=settings.neuron_cores,
            dtype=resolve_dtype(settings.dtype, "neuron"),
        )


class SlotModel(Protocol):
    """A compiled causal LM with per-slot KV caches (what the scheduler drives)."""

    slots: int
    sequence_length: int
    max_context_length: int

    def prefill(self, slot: int, prompt_ids: Sequence[int]) -> torch.Tensor:
        """Encode a prompt into `slot`'s cache; float32 logits (V,) of its next token."""
        ...

    def decode(
        self, slots: Sequence[int], tokens: Sequence[int], positions: Sequence[int]
    ) -> torch.Tensor:
        """One token per slot at its position; float32 logits (len(slots), V), in order."""
        ...


class NeuronLibrary(Protocol):
    """The serving library's export / save / load calls (injectable for tests)."""

    def version(self) -> str: ...

    def neuron_config(self, model_dir: Path, spec: ExportSpec) -> Any:
        """The library's export configuration for `spec` (compiles nothing)."""
        ...

    def config_json(self, neuron_config: Any) -> str:
        """A stable serialisation of the configuration, for the cache key."""
        ...

    def export(self, model_dir: Path, neuron_config: Any, dest: Path) -> None:
        """Compile the model and save the artifacts (graphs and sharded weights) in `dest`."""
        ...

    def load(self, compiled_dir: Path) -> SlotModel:
        """Load saved artifacts onto the device."""
        ...


def _neutral_sampling_params(rows: int) -> torch.Tensor:
    # The graphs take (top_k, top_p, temperature) per row even when sampling is off-device
    # (decoder_builders.py input_generator); with on_device_sampling=False they are unused.
    return torch.tensor([[1.0, 1.0, 1.0]] * rows, dtype=torch.float32)


class NxDSlots:
    """Prefill / decode through an optimum-neuron NxD causal LM's forward()."""

    def __init__(self, model: Any) -> None:
        config = model.neuron_config
        if config.on_device_sampling:
            raise ConfigurationError(
                "the compiled model samples on device and returns no logits; re-export it "
                "with on_device_sampling=False (delete the cache directory)"
            )
        self.model = model
        self.slots = int(config.batch_size)
        self.sequence_length = int(config.sequence_length)
        self.max_context_length = int(config.max_context_length)
        # Tensor-parallel lm_heads may pad the vocabulary; padded logits are masked to the
        # dtype's minimum, and are cut off here.
        self.vocab_size = int(model.config.vocab_size)

    @torch.inference_mode()
    def prefill(self, slot: int, prompt_ids: Sequence[int]) -> torch.Tensor:
        # NxDModelForCausalLM.forward picks the context-encoding graph for > 1 column starting
        # at position 0; its wrapper right-pads to max_context_length itself.
        if not _MIN_PROMPT <= len(prompt_ids) <= self.max_context_length:
            raise ValueError(f"prompt of {len(prompt_ids)} tokens outside the compiled shape")
        out = self.model(
            torch.tensor([list(prompt_ids)], dtype=torch.long),
            position_ids=torch.arange(len(prompt_ids), dtype=torch.long)[None, :],
            seq_ids=torch.tensor([slot], dtype=torch.long),
            sampling_params=_neutral_sampling_params(1),
        )
        logits: torch.Tensor = out[0, -1, : self.vocab_size].float()
        return logits

    @torch.inference_mode()
    def decode(
        self, slots: Sequence[int], tokens: Sequence[int], positions: Sequence[int]
    ) -> torch.Tensor:
        order = sorted(range(len(slots)), key=lambda i: slots[i])
        out = self.model(
            torch.tensor([[tokens[i]] for i in order], dtype=torch.long),
            position_ids=torch.tensor([[positions[i]] for i in order], dtype=torch.long),
            seq_ids=torch.tensor([slots[i] for i in order], dtype=torch.long),
            sampling_params=_neutral_sampling_params(len(slots)),
        )
        logits: torch.Tensor = out[:, -1, : self.vocab_size].float()
        restore = torch.empty(len(order), dtype=torch.long)
        restore[torch.tensor(order, dtype=torch.long)] = torch.arange(len(order))
        ordered: torch.Tensor = logits[restore]
        return ordered


class OptimumNeuron:
    """optimum-neuron's NeuronModelForCausalLM; imported here, lazily, and nowhere else.

    `module` stands in for `optimum.neuron` in tests (the SDK cannot run without Neuron
    hardware); in production it is imported.
    """

    def __init__(self, *, cores: int, module: Any = None) -> None:
        if module is None:
            # The runtime reads these when it initialises: how many NeuronCores to claim.
            if "NEURON_RT_VISIBLE_CORES" not in os.environ:
                os.environ.setdefault("NEURON_RT_NUM_CORES", str(cores))
            try:
                module = importlib.import_module("optimum.neuron")
            except ImportError as exc:
                raise ConfigurationError(NEURON_INSTALL_HINT) from exc
            if not module.is_neuronx_available():
                raise ConfigurationError(NEURON_INSTALL_HINT)
        self._module = module
        self._auto = module.NeuronModelForCausalLM
        if str(module.__version__) != OPTIMUM_NEURON_VERSION:
            log.warning(
                "optimum-neuron %s installed; this engine follows the %s API",
                module.__version__,
                OPTIMUM_NEURON_VERSION,
            )

    def version(self) -> str:
        return f"optimum-neuron-{self._module.__version__}"

    def neuron_config(self, model_dir: Path, spec: ExportSpec) -> Any:
        try:
            config = self._auto.get_neuron_config(
                str(model_dir),
                batch_size=spec.batch_size,
                sequence_length=spec.sequence_length,
                tensor_parallel_size=spec.tp_degree,
            )
        except ValueError as exc:  # unsupported architecture, bad core count
            raise ConfigurationError(f"optimum-neuron cannot export {model_dir}: {exc}") from exc
        config.torch_dtype = spec.dtype
        config.max_context_length = spec.max_context_length
        config.on_device_sampling = False
        if spec.batch_size > 1 and not config.continuous_batching:
            raise ConfigurationError(
                f"{model_dir}: optimum-neuron's config for this model has no continuous "
                "batching; set INFERENCE_MAX_BATCH_SIZE=1 or use another model"
            )
        return config

    def config_json(self, neuron_config: Any) -> str:
        # Includes optimum_neuron_version and neuronxcc_version (NeuronConfig.to_dict).
        return str(neuron_config.to_json_string())

    def export(self, model_dir: Path, neuron_config: Any, dest: Path) -> None:
        try:
            model = self._auto.export(
                str(model_dir), neuron_config=neuron_config, load_weights=False
            )
        except ValueError as exc:
            raise ConfigurationError(f"optimum-neuron export of {model_dir}: {exc}") from exc
        model.save_pretrained(str(dest))

    def load(self, compiled_dir: Path) -> SlotModel:
        try:
            model = self._auto.from_pretrained(str(compiled_dir))
        except ValueError as exc:  # compiled for another instance type / more cores
            raise ConfigurationError(f"cannot load {compiled_dir}: {exc}") from exc
        return NxDSlots(model)


@dataclass(eq=False)
class _Request:
    """One admitted request; its sampling state lives here, its KV in slot `slot`."""

    prompt: list[int]
    params: GenerationParams
    max_new: int
    sampler: RowSampler
    future: asyncio.Future[EngineOutput]
    loop: asyncio.AbstractEventLoop
    enqueued: float = field(default_factory=time.monotonic)
    # Written on the event loop, read by the worker between steps (atomic under the GIL).
    cancelled: bool = False
    slot: int = -1
    started: float = 0.0
    batch_size: int = 0
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    text: str | None = None
    finish: FinishReason | None = None

    @property
    def next_position(self) -> int:
        # Position of the last sampled token, the one the next decode step feeds in.
        return len(self.prompt) + len(self.tokens) - 1


def _settle(
    future: asyncio.Future[EngineOutput],
    result: EngineOutput | None = None,
    exc: BaseException | None = None,
) -> None:
    if future.done():  # cancelled or timed out meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        assert result is not None
        future.set_result(result)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two processes starting on one host must not compile the same model at once.
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("_") or "model"


class NeuronEngine(Engine):
    """A chat model compiled by optimum-neuron, served with iteration-level batching."""

    device_name = "neuron"
    engine_name = "optimum-neuron"

    def __init__(
        self,
        settings: InferenceSettings,
        model: ProvisionedModel,
        *,
        cache_root: Path,
        library: NeuronLibrary | None = None,
    ) -> None:
        super().__init__(model.name, queue_size=settings.queue_size)
        self.settings = settings
        self.model_info = model
        self.cache_root = cache_root
        self._library = library
        self.tokenizer: Any = None
        self.eos_ids: frozenset[int] = frozenset()
        self.spec: ExportSpec | None = None
        self.compiled_dir: Path | None = None
        self.exported = False  # whether start() compiled (False: loaded from the cache)
        self._model: SlotModel | None = None
        self._cv = threading.Condition()
        self._waiting: deque[_Request] = deque()
        self._active: dict[int, _Request] = {}
        self._free: list[int] = []
        self._stopping = False
        self._dead: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Positions the graphs computed vs real ones (prompt graph padded to
        # max_context_length, decode graph to every slot).
        self._computed = 0
        self._real = 0
        self.prefills = 0
        self.decode_steps = 0

    # -- start ---------------------------------------------------------------------------
    async def start(self) -> None:
        started = time.monotonic()
        await asyncio.to_thread(self._load)
        if self.settings.warmup:
            await asyncio.to_thread(self._warm_up)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self._work, name=f"neuron-{self.model_id}", daemon=True
        )
        self._thread.start()
        log.info(
            "neuron engine for %s ready in %.1fs (%s, %s)",
            self.model_id,
            time.monotonic() - started,
            "compiled" if self.exported else "from cache",
            self.spec,
        )

    def _load(self) -> None:
        from transformers import AutoConfig, AutoTokenizer

        # Fail on a missing SDK before hashing gigabytes of weights.
        library = self._library or OptimumNeuron(cores=self.settings.neuron_cores)
        self._library = library
        model_dir = local_model_dir(self.model_info.location)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
            config = AutoConfig.from_pretrained(str(model_dir)).get_text_config()
        except OSError as exc:
            raise ConfigurationError(f"cannot load model {model_dir}: {exc}") from exc
        self._read_eos_ids(model_dir)
        max_positions = int(getattr(config, "max_position_embeddings", 1 << 30))
        spec = ExportSpec.from_settings(self.settings, max_positions)
        self.spec = spec
        neuron_config = library.neuron_config(model_dir, spec)
        key = {
            "format": _EXPORT_FORMAT,
            "model": self.model_info.name,
            "weights": weights_checksum(model_dir, memo_dir=self.cache_root / "checksums"),
            "library": library.version(),
            "spec": {**asdict(spec), "dtype": str(spec.dtype)},
            "neuron_config": json.loads(library.config_json(neuron_config)),
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        name = (
            f"b{spec.batch_size}-s{spec.sequence_length}-c{spec.max_context_length}"
            f"-tp{spec.tp_degree}-{digest}"
        )
        root = self.cache_root / _slug(self.model_info.name) / _slug(library.version())
        target = root / name
        with _locked(root / f".{name}.lock"):
            if not (target / _MARKER).exists():
                self._export(library, model_dir, neuron_config, target, key)
        self.compiled_dir = target
        loaded = library.load(target)
        shapes = (loaded.slots, loaded.sequence_length, loaded.max_context_length)
        if shapes != (spec.batch_size, spec.sequence_length, spec.max_context_length):
            raise ConfigurationError(f"{target} holds shapes {shapes}, expected {spec}")
        self._model = loaded
        self._free = list(range(spec.batch_size))

    def _export(
        self,
        library: NeuronLibrary,
        model_dir: Path,
        neuron_config: Any,
        target: Path,
        key: dict[str, Any],
    ) -> None:
        started = time.monotonic()
        log.info("compiling %s for Neuron (minutes); artifacts go to %s", model_dir, target)
        work = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)  # no marker: an interrupted export
        library.export(model_dir, neuron_config, work)
        # The marker is written last, inside the directory that is renamed into place: the
        # real name never holds a partial export.
        (work / _MARKER).write_text(json.dumps(key, indent=1, sort_keys=True))
        work.rename(target)
        self.exported = True
        log.info("compiled %s in %.0fs", target.name, time.monotonic() - started)

    def _read_eos_ids(self, model_dir: Path) -> None:
        # As Backend._read_token_ids, without loading the weights on the host.
        from transformers import GenerationConfig

        try:
            configured = GenerationConfig.from_pretrained(str(model_dir)).eos_token_id
        except OSError:
            configured = None
        self.eos_ids = end_of_turn_ids(self.tokenizer, configured)

    def _warm_up(self) -> None:
        # The first execution of each graph loads it onto the NeuronCores: pay it now.
        assert self._model is not None
        started = time.monotonic()
        prompt = self.encode_chat([ChatMessage("user", "Warm up.")])[: self.max_prompt_tokens]
        logits = self._model.prefill(0, prompt)
        token = int(logits.argmax())
        self._model.decode([0], [token], [len(prompt)])
        log.info("warmed up the prompt and decode graphs in %.1fs", time.monotonic() - started)

    # -- contract ------------------------------------------------------------------------
    def encode_chat(self, messages: Sequence[ChatMessage]) -> list[int]:
        return encode_chat(self.tokenizer, messages)

    @property
    def max_prompt_tokens(self) -> int:
        assert self.spec is not None, "start() first"
        return self.spec.max_context_length

    def running(self) -> int:
        return len(self._active)

    def padding_waste(self) -> float:
        return 1.0 - self._real / self._computed if self._computed else 0.0

    async def _run(self, prompt_ids: list[int], params: GenerationParams) -> EngineOutput:
        if len(prompt_ids) > self.max_prompt_tokens:
            raise PromptTooLong(len(prompt_ids), self.max_prompt_tokens)
        if len(prompt_ids) < _MIN_PROMPT:
            # optimum-neuron routes a one-column input to the decode graph, whose batch
            # padding would write into other sequences' slots; chat templates never do this.
            raise PermanentError(f"the Neuron engine needs prompts of >= {_MIN_PROMPT} tokens")
        if params.max_new_tokens > self.settings.max_new_tokens_limit:
            raise PermanentError(
                f"max_new_tokens={params.max_new_tokens} above INFERENCE_MAX_NEW_TOKENS="
                f"{self.settings.max_new_tokens_limit}"
            )
        assert self.spec is not None
        loop = asyncio.get_running_loop()
        request = _Request(
            prompt=list(prompt_ids),
            params=params,
            # The slot's KV cache holds sequence_length positions.
            max_new=min(params.max_new_tokens, self.spec.sequence_length - len(prompt_ids)),
            sampler=RowSampler(params),
            future=loop.create_future(),
            loop=loop,
        )
        with self._cv:
            if self._dead is not None:
                raise EngineFailed(f"model {self.model_id}: {self._dead}")
            if self._stopping or self._thread is None:
                raise EngineClosed(f"model {self.model_id} is not serving")
            self._waiting.append(request)
            self._cv.notify()
        try:
            return await request.future
        except asyncio.CancelledError:
            # Caller cancelled or timed out: a waiting request leaves the queue now, a running
            # one gives up its slot before the worker schedules its next step.
            request.cancelled = True
            with self._cv:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(request)
                self._cv.notify()
            raise

    async def _stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)  # after the step in progress
        with self._cv:
            leftovers = [*self._waiting, *self._active.values()]
            self._waiting.clear()
            self._active.clear()
        for request in leftovers:
            _settle(request.future, exc=EngineClosed(f"model {self.model_id} closed"))
        self._model = None

    # -- worker thread -------------------------------------------------------------------
    def _work(self) -> None:
        try:
            while True:
                with self._cv:
                    while not (self._stopping or self._waiting or self._active):
                        self._cv.wait()
                    if self._stopping:
                        return
                    self._free_cancelled()
                    admitted: list[_Request] = []
                    while self._waiting and self._free:
                        request = self._waiting.popleft()
                        request.slot = heapq.heappop(self._free)
                        self._active[request.slot] = request
                        admitted.append(request)
                    running = len(self._active)
                for request in self._active.values():
                    request.batch_size = max(request.batch_size, running)
                for request in admitted:
                    self._prefill(request)
                if self._active:
                    self._decode()
        except Exception as exc:  # the device loop's state is unknown now: stop serving
            self._die(exc)

    def _free_cancelled(self) -> None:
        # Under the lock. The slot's KV is left as is: the next prefill overwrites it.
        for slot in [s for s, r in self._active.items() if r.cancelled]:
            del self._active[slot]
            heapq.heappush(self._free, slot)

    def _prefill(self, request: _Request) -> None:
        assert self._model is not None and self.spec is not None
        if request.cancelled:
            self._retire(request)
            return
        request.started = time.monotonic()
        logits = self._model.prefill(request.slot, request.prompt)
        self.prefills += 1
        self._computed += self.spec.max_context_length
        self._real += len(request.prompt)
        tokens, lps = select_tokens(logits[None, :], [request.sampler])
        if self._push(request, tokens[0], lps[0]):
            self._retire(request)

    def _decode(self) -> None:
        assert self._model is not None and self.spec is not None
        # Every occupied slot, cancelled ones included: a slot left out would receive a
        # padding row's KV (see the module docstring).
        slots = sorted(self._active)
        requests = [self._active[s] for s in slots]
        logits = self._model.decode(
            slots, [r.tokens[-1] for r in requests], [r.next_position for r in requests]
        )
        self.decode_steps += 1
        self._computed += self.spec.batch_size
        self._real += len(slots)
        tokens, lps = select_tokens(logits, [r.sampler for r in requests])
        for request, token, lp in zip(requests, tokens, lps, strict=True):
            if self._push(request, token, lp):
                self._retire(request)

    def _push(self, request: _Request, token: int, logprob: float) -> bool:
        """Record a sampled token; True when the request is finished (or was cancelled)."""
        request.tokens.append(token)
        request.logprobs.append(logprob)
        if request.cancelled:
            return True
        if token in self.eos_ids:
            request.finish = "stop"
        elif request.params.stop:
            text = self.tokenizer.decode(request.tokens, skip_special_tokens=True)
            cuts = [i for i in (text.find(s) for s in request.params.stop) if i >= 0]
            if cuts:
                request.text, request.finish = text[: min(cuts)], "stop"
        if request.finish is None and len(request.tokens) >= request.max_new:
            request.finish = "length"
        return request.finish is not None

    def _retire(self, request: _Request) -> None:
        with self._cv:
            if self._active.get(request.slot) is request:
                del self._active[request.slot]
                heapq.heappush(self._free, request.slot)
        if request.cancelled or request.finish is None:
            return
        text = request.text
        if text is None:
            text = self.tokenizer.decode(request.tokens, skip_special_tokens=True)
        now = time.monotonic()
        output = EngineOutput(
            text=text,
            token_count=len(request.tokens),
            logprobs=tuple(request.logprobs),
            finish_reason=request.finish,
            queue_ms=(request.started - request.enqueued) * 1000.0,
            compute_ms=(now - request.started) * 1000.0,
            batch_size=request.batch_size,
        )
        self._deliver(request, output)

    def _deliver(
        self,
        request: _Request,
        output: EngineOutput | None = None,
        exc: BaseException | None = None,
    ) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop is gone
            request.loop.call_soon_threadsafe(_settle, request.future, output, exc)

    def _die(self, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        log.error("model %s: neuron worker failed", self.model_id, exc_info=exc)
        with self._cv:
            self._dead = reason
            victims = [*self._waiting, *self._active.values()]
            self._waiting.clear()
            self._active.clear()
        for request in victims:
            self._deliver(request, exc=EngineFailed(f"model {self.model_id}: {reason}"))
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.mark_failed, reason)
