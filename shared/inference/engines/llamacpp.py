"""llama.cpp's server as the CPU engine: continuous batching on the pinned GGUF itself.

Why this engine on CPU: one-request decode on this hardware is memory-bound, and llama.cpp reads
the 4-bit GGUF (0.4 GB per token step for Qwen2.5-0.5B) where the torch path reads bf16 (1 GB);
its server schedules at every decode step (`--cont-batching`), so a request joins the running
batch at once instead of waiting for it to drain. The GGUF is the very file the bf16 weights
are dequantized from (provision.ensure_gguf), so both engines run the same pinned weights.

The server is a child process of the service: started in `start()`, health-checked on its
`/health`, watched (an unexpected exit marks the engine failed, which fails /healthz and
/readyz so the orchestrator restarts the pod), and stopped in `close()`. Requests go as token
ids to its native `/completion` endpoint (the prompt is tokenized here with the model's own
chat template, exactly as on the torch path). Cancelling a caller closes its connection; the
server notices and frees the slot. Its stderr never reaches the logs (it may echo prompts
at some verbosities); the last lines are kept in memory and summarised on a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

from shared.errors import ConfigurationError, PermanentError, TransientError
from shared.inference.backends.base import encode_chat
from shared.inference.engines.base import Engine, EngineFailed, EngineOutput
from shared.inference.engines.lifetime import die_with_parent
from shared.inference.provision import ProvisionedModel
from shared.inference.settings import InferenceSettings
from shared.inference.types import ChatMessage, GenerationParams

log = logging.getLogger(__name__)

BUILD_HINT = "build it with `make engines` (infra/engines/build-llamacpp.sh)"
_STDERR_LINES = 40
# Sampler settings that make llama.cpp sample exactly what GenerationParams describe: its
# defaults add top-k 40 and min-p 0.05, which the torch path never applied.
_NEUTRAL_SAMPLING: dict[str, Any] = {
    "top_k": 0,
    "min_p": 0.0,
    "typical_p": 1.0,
    "repeat_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "dry_multiplier": 0.0,
    "xtc_probability": 0.0,
    "mirostat": 0,
}


def find_server(settings: InferenceSettings, state_dir: Path) -> Path | None:
    """The llama-server binary: INFERENCE_LLAMACPP_SERVER, then the newest one `make engines`
    built under <state_dir>/engines, then PATH."""
    if settings.llamacpp_server:
        return Path(settings.llamacpp_server)
    built = sorted((state_dir / "engines").glob("llamacpp-*/bin/llama-server"))
    if built:
        return built[-1]
    found = shutil.which("llama-server")
    return Path(found) if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(eq=False)  # identity: list.remove must take out this request, not an equal one
class _Active:
    peak: int


class LlamaCppEngine(Engine):
    """A llama-server child process with one slot per concurrent request."""

    device_name = "cpu"
    engine_name = "llamacpp"

    def __init__(
        self,
        settings: InferenceSettings,
        model: ProvisionedModel,
        *,
        model_id: str,
        binary: Path,
    ) -> None:
        super().__init__(model_id, queue_size=settings.queue_size)
        if model.gguf is None:
            raise ConfigurationError(
                f"model {model_id}: no GGUF to serve with llama.cpp (INFERENCE_ENGINE=transformers)"
            )
        self.settings = settings
        self.model_info = model
        self.binary = binary
        self.slots = settings.max_batch_size
        self.threads = settings.engine_threads or (os.cpu_count() or 1)
        # Every slot holds the longest prompt bucket plus the most tokens a request may ask for.
        self.slot_context = settings.buckets[-1] + settings.max_new_tokens_limit
        self.tokenizer: Any = None
        self._process: asyncio.subprocess.Process | None = None
        self._client: httpx.AsyncClient | None = None
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._tasks: list[asyncio.Task[None]] = []
        self._active: list[_Active] = []
        self._stopping = False
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        if not self.binary.exists():
            raise ConfigurationError(f"llama-server not found at {self.binary}; {BUILD_HINT}")
        self.tokenizer = await asyncio.to_thread(self._load_tokenizer)
        trained = int(getattr(self.tokenizer, "model_max_length", 0) or 0)
        if 0 < trained < self.slot_context:
            self.slot_context = trained
        started = time.monotonic()
        for attempt in range(3):  # a port picked free can be taken before the server binds
            self.port = _free_port()
            await self._spawn()
            try:
                await self._wait_healthy(started)
                break
            except _PortTaken:
                await self._kill()
                if attempt == 2:
                    raise
        self._tasks.append(asyncio.create_task(self._watch(), name=f"llamacpp-{self.model_id}"))
        self.register_health()
        if self.settings.warmup:
            hello = self.encode_chat([ChatMessage("user", "Hi")])
            await self.generate(hello, GenerationParams(max_new_tokens=2))
        log.info(
            "llama.cpp engine for %s: %d slots x %d tokens, %d threads, ready in %.1fs",
            self.model_id,
            self.slots,
            self.slot_context,
            self.threads,
            time.monotonic() - started,
        )

    def _load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.model_info.location)

    def _command(self) -> list[str]:
        return [
            str(self.binary),
            "--model", str(self.model_info.gguf),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--parallel", str(self.slots),
            "--cont-batching",
            # One KV region per slot: a request's answer does not depend on what runs beside
            # it (with one unified pool, measured 5-7% faster at 16 requests, greedy answers
            # changed with the batch's make-up), and a long prompt cannot starve the others.
            "--no-kv-unified",
            "--ctx-size", str(self.slots * self.slot_context),
            "--threads", str(self.threads),
            "--threads-batch", str(self.threads),
            "--threads-http", str(2 * self.slots + 2),
            # No RAM prompt cache beyond the slots themselves: memory stays what -c says.
            "--cache-ram", "0",
            "--fit", "off",
            "--no-webui",
            "--metrics",
            "--alias", self.model_id,
            *self._speculative_args(),
        ]  # fmt: skip

    def _speculative_args(self) -> list[str]:
        if self.settings.speculative == "none":
            return []
        return [
            "--spec-type", "ngram-simple",
            "--spec-ngram-simple-size-n", str(self.settings.speculative_ngram),
            "--spec-ngram-simple-size-m", str(self.settings.speculative_draft),
        ]  # fmt: skip

    async def _spawn(self) -> None:
        self._stderr.clear()
        self._process = await asyncio.create_subprocess_exec(
            *self._command(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the service, not it
            preexec_fn=die_with_parent(),  # a SIGKILLed service leaves no orphaned server
        )
        self._tasks.append(asyncio.create_task(self._drain(self._process)))
        if self._client is not None:
            await self._client.aclose()
        self._client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}",
            timeout=httpx.Timeout(None, connect=5.0),
            limits=httpx.Limits(
                max_connections=2 * self.slots, max_keepalive_connections=self.slots
            ),
        )

    async def _drain(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            self._stderr.append(line.decode(errors="replace").rstrip())

    async def _wait_healthy(self, started: float) -> None:
        assert self._process is not None and self._client is not None
        deadline = started + self.settings.engine_start_timeout_s
        while time.monotonic() < deadline:
            if self._process.returncode is not None:
                tail = " | ".join(self._stderr)
                if "bind" in tail and "address" in tail.lower():
                    raise _PortTaken(tail)
                raise ConfigurationError(
                    f"llama-server exited with {self._process.returncode} while starting "
                    f"({self._crash_summary()})"
                )
            with contextlib.suppress(httpx.TransportError):
                response = await self._client.get("/health")
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.1)
        raise TransientError(
            f"llama-server did not become healthy in {self.settings.engine_start_timeout_s:.0f}s"
        )

    async def _watch(self) -> None:
        assert self._process is not None
        code = await self._process.wait()
        if not self._stopping:
            self.mark_failed(f"llama-server exited with {code} ({self._crash_summary()})")

    def _crash_summary(self) -> str:
        # Only llama.cpp's own error lines, never whole output: prompts could be echoed there.
        errors = [line for line in self._stderr if "error" in line.lower()][-3:]
        return "; ".join(e[:200] for e in errors) or "no error line"

    async def _kill(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _stop(self) -> None:
        self._stopping = True
        await self._kill()
        if self._client is not None:
            await self._client.aclose()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tokenizer = None

    # -- serving ---------------------------------------------------------------------------
    def encode_chat(self, messages: Sequence[ChatMessage]) -> list[int]:
        return encode_chat(self.tokenizer, messages)

    @property
    def max_prompt_tokens(self) -> int:
        return self.slot_context - self.settings.max_new_tokens_limit

    def running(self) -> int:
        return min(len(self._active), self.slots)

    def _body(self, prompt_ids: list[int], params: GenerationParams) -> dict[str, Any]:
        return {
            "prompt": prompt_ids,
            "n_predict": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed if params.seed is not None else -1,
            "stop": list(params.stop),
            # The chosen token's log-probability under the model's raw distribution: the
            # router's confidence signal, as on the torch path for greedy decoding.
            "n_probs": 1,
            "post_sampling_probs": False,
            "cache_prompt": True,
            **_NEUTRAL_SAMPLING,
        }

    async def _run(self, prompt_ids: list[int], params: GenerationParams) -> EngineOutput:
        client = self._client
        if client is None:
            raise EngineFailed(f"model {self.model_id}: engine not started")
        me = _Active(peak=0)
        self._active.append(me)
        concurrent = len(self._active)
        for other in self._active:
            other.peak = max(other.peak, concurrent)
        sent = time.monotonic()
        try:
            response = await client.post("/completion", json=self._body(prompt_ids, params))
        except httpx.TransportError as exc:
            if self.failure is not None or (
                self._process is not None and self._process.returncode is not None
            ):
                raise EngineFailed(f"model {self.model_id}: llama-server is down") from exc
            raise TransientError(f"llama-server: {type(exc).__name__}") from exc
        finally:
            self._active.remove(me)
        wall_ms = (time.monotonic() - sent) * 1000.0
        if response.status_code >= 500:
            raise TransientError(f"llama-server answered HTTP {response.status_code}")
        if response.status_code != 200:
            # A request it refuses (bad token, too long) will be refused again: no retry.
            raise PermanentError(f"llama-server refused the request: HTTP {response.status_code}")
        return self._output(response.json(), wall_ms, min(me.peak, self.slots))

    @staticmethod
    def _output(data: dict[str, Any], wall_ms: float, batch_size: int) -> EngineOutput:
        probs = data.get("completion_probabilities") or []
        logprobs = tuple(float(p["logprob"]) for p in probs)
        count = int(data.get("tokens_predicted", len(logprobs)))
        timings = data.get("timings") or {}
        compute_ms = float(timings.get("prompt_ms", 0.0)) + float(timings.get("predicted_ms", 0.0))
        return EngineOutput(
            text=str(data.get("content", "")),
            token_count=count,
            logprobs=logprobs,
            finish_reason="length" if data.get("stop_type") == "limit" else "stop",
            queue_ms=max(0.0, wall_ms - compute_ms),
            compute_ms=compute_ms,
            batch_size=max(1, batch_size),
            prefill_ms=float(timings.get("prompt_ms", 0.0)),
            drafted_accepted=int(timings.get("draft_n_accepted", 0)),
        )


class _PortTaken(TransientError):
    """The port chosen for the server was taken before it could bind; pick another."""
