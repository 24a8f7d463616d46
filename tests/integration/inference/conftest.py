"""Real SmolLM2-135M generators (one per engine) and one MiniLM embedder per test session.

fp32 rather than the production bf16 for the torch engines: the tests compare batched with
single-request greedy outputs token for token, and bf16 rounding differs with batch shape often
enough to flip a near-tie argmax of this tiny model. llama.cpp serves the GGUF as it is.
"""

from collections.abc import AsyncIterator

import pytest_asyncio

from shared.config import CoreSettings
from shared.inference.runtime import LocalEmbedder, LocalGenerator
from shared.inference.settings import InferenceSettings
from shared.inference.types import ChatMessage, GenerationParams

SMOL = "smollm2-135m-instruct"
QUESTIONS = [
    "What is the capital of France?",
    "Name three colors.",
    "Say hi.",
    "What is 2+2? Answer briefly, then explain how you computed it in one sentence.",
    "Write one sentence about the sea.",
]
GREEDY = GenerationParams(max_new_tokens=12)


def chat(text: str) -> list[ChatMessage]:
    return [ChatMessage("user", text)]


def inference_settings(**overrides: object) -> InferenceSettings:
    values: dict[str, object] = {
        "INFERENCE_DEVICE": "cpu",
        "INFERENCE_DTYPE": "float32",
        "INFERENCE_MAX_BATCH_SIZE": 8,
        "INFERENCE_MAX_WAIT_MS": 20,
        "INFERENCE_QUEUE_SIZE": 64,
        "INFERENCE_WARMUP": False,
        "INFERENCE_MAX_NEW_TOKENS": 256,
    }
    values.update(overrides)
    return InferenceSettings(**values)  # type: ignore[arg-type]


# Every engine the CPU can run; the facade's contract is tested on each.
ENGINES = ("llamacpp", "transformers", "static")


async def start_smol(**overrides: object) -> LocalGenerator:
    return await LocalGenerator.start(inference_settings(**overrides), CoreSettings(), model=SMOL)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def smol() -> AsyncIterator[LocalGenerator]:
    """The generator as services get it (INFERENCE_ENGINE=auto: llama.cpp on CPU)."""
    generator = await start_smol()
    yield generator
    await generator.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def smol_static() -> AsyncIterator[LocalGenerator]:
    """The static micro-batcher over the torch backend (the Neuron reference path)."""
    generator = await start_smol(INFERENCE_ENGINE="static")
    yield generator
    await generator.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def minilm() -> AsyncIterator[LocalEmbedder]:
    embedder = await LocalEmbedder.start(inference_settings(), CoreSettings())
    yield embedder
    await embedder.close()
