"""The backend contract: load, warm up, run one batch, close. Runs in the model's worker thread."""

from __future__ import annotations

import abc
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from shared.inference.decode import DecodeRequest, DecodeResult
from shared.inference.provision import ProvisionedModel
from shared.inference.settings import InferenceSettings
from shared.inference.types import ChatMessage

log = logging.getLogger(__name__)

ModelRole = Literal["generator", "embedder"]
R = TypeVar("R")

# MiniLM-style encoders were trained at 256 tokens even where the tokenizer allows 512.
_DEFAULT_EMBED_MAX_LEN = 256


@dataclass
class BatchOutcome(Generic[R]):
    """A batch's per-row results plus what it cost (for padding and throughput metrics)."""

    results: list[R]
    positions: int  # token positions computed in the prompt pass, padding included
    real: int  # of which real prompt tokens
    generated: int = 0  # tokens produced (generators)


def encode_chat(tokenizer: Any, messages: Sequence[ChatMessage]) -> list[int]:
    """Token ids of the prompt after the model's chat template, generation prompt added.

    Every engine tokenizes here, so a prompt costs the same tokens whatever serves it."""
    rendered = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages],
        add_generation_prompt=True,
        tokenize=False,
    )
    # The template already wrote every special token; do not let the tokenizer add a BOS.
    ids: list[int] = tokenizer(rendered, add_special_tokens=False)["input_ids"]
    return ids


def end_of_turn_ids(tokenizer: Any, configured: object) -> frozenset[int]:
    """Tokens that end a reply: the generation config's eos id(s), the tokenizer's, and the
    chat models' end-of-turn tokens whatever the config says (GGUF configs often name only
    one of them)."""
    eos: set[int] = set()
    if isinstance(configured, int):
        eos.add(configured)
    elif isinstance(configured, list):
        eos.update(int(t) for t in configured)
    if tokenizer.eos_token_id is not None:
        eos.add(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    eos.update(vocab[t] for t in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>") if t in vocab)
    return frozenset(eos)


class Backend(abc.ABC):
    """One model on one device.

    `load` and `warm_up` run once before serving; `generate_batch` / `embed_batch` run in the
    model's single worker thread, one batch at a time; tokenizer helpers may run on the event
    loop. A backend serves one role: generator (causal LM) or embedder (encoder).
    """

    device_name: str = "?"

    def __init__(self, settings: InferenceSettings, model: ProvisionedModel, role: ModelRole):
        self.settings = settings
        self.model_info = model
        self.role = role
        self.tokenizer: Any = None
        self.eos_ids: frozenset[int] = frozenset()
        self.pad_id: int = 0
        self.max_positions: int = 1 << 30
        self.embed_max_len: int = _DEFAULT_EMBED_MAX_LEN
        self.dim: int = 0

    # -- lifecycle -----------------------------------------------------------------------
    @abc.abstractmethod
    def load(self) -> None:
        """Read weights and tokenizer onto the device (and, on Neuron, compiled graphs)."""

    @abc.abstractmethod
    def warm_up(self) -> None:
        """Run every shape the service will use once, so the first request is not slow."""

    @abc.abstractmethod
    def generate_batch(self, requests: Sequence[DecodeRequest]) -> BatchOutcome[DecodeResult]:
        """Decode up to max_batch_size prompts together."""

    @abc.abstractmethod
    def embed_batch(
        self, token_ids: Sequence[Sequence[int]]
    ) -> BatchOutcome[npt.NDArray[np.float32]]:
        """L2-normalised mean-pooled embeddings, one float32 vector per row."""

    def close(self) -> None:
        """Release the model; the default drops references and lets the GC free them."""
        self.tokenizer = None

    # -- tokenizer helpers (thread-safe, cheap) --------------------------------------------
    def encode_chat(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Token ids of the prompt after the model's chat template, generation prompt added."""
        return encode_chat(self.tokenizer, messages)

    def encode_text(self, text: str) -> list[int]:
        """Encoder input ids (with [CLS]/[SEP]), truncated to the model's trained length."""
        ids: list[int] = self.tokenizer(text, truncation=True, max_length=self.embed_max_len)[
            "input_ids"
        ]
        return ids

    # -- shared setup ----------------------------------------------------------------------
    def _read_token_ids(self, model: Any) -> None:
        tok = self.tokenizer
        configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        self.eos_ids = end_of_turn_ids(tok, configured)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self.pad_id = int(pad if pad is not None else 0)
        self.max_positions = int(getattr(model.config, "max_position_embeddings", 1 << 30))

    def _read_embed_max_len(self, location: str) -> None:
        config = Path(location) / "sentence_bert_config.json"
        if config.exists():
            self.embed_max_len = int(json.loads(config.read_text()).get("max_seq_length", 256))
        else:
            self.embed_max_len = min(int(self.tokenizer.model_max_length), 512)
