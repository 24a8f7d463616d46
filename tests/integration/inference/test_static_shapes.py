"""The Inferentia path on CPU: fixed batch, bucketed left-padded prompts, static KV cache,
graphs traced and cached — everything except the neuronx-cc compile call itself."""

from pathlib import Path
from typing import Any

import pytest
import torch

from shared.inference.backends.neuron import NeuronBackend
from shared.inference.compile_cache import TorchScriptCompiler
from shared.inference.decode import (
    DecodeRequest,
    StaticGeometry,
    StaticShapeGenerator,
    generate_eager,
)
from shared.inference.engines.static import StaticBatchEngine
from shared.inference.runtime import LocalGenerator
from shared.inference.types import ChatMessage, GenerationParams

from .conftest import inference_settings

pytestmark = [pytest.mark.model]

PROMPTS = ["What is the capital of France?", "Hi", "Write a haiku about the sea at night."]
PARAMS = GenerationParams(max_new_tokens=10)


def backend_of(gen: LocalGenerator) -> Any:
    assert isinstance(gen.engine, StaticBatchEngine)
    return gen.engine.backend


def prompts(gen: LocalGenerator) -> list[list[int]]:
    return [backend_of(gen).encode_chat([ChatMessage("user", p)]) for p in PROMPTS]


def unpadded(gen: LocalGenerator, ids: list[int]) -> list[int]:
    backend = backend_of(gen)
    (result,) = generate_eager(
        backend.model,
        backend.tokenizer,
        [DecodeRequest(ids, PARAMS)],
        eos_ids=backend.eos_ids,
        pad_id=backend.pad_id,
        device=torch.device("cpu"),
    )
    return result.token_ids


async def test_bucketed_left_padded_static_batch_matches_unpadded_eager(
    smol_static: LocalGenerator,
) -> None:
    backend = backend_of(smol_static)
    ids = prompts(smol_static)
    lengths = sorted(len(i) for i in ids)
    # Buckets so that the rows land in a bucket larger than themselves, with filler rows.
    geometry = StaticGeometry(
        batch_size=4, buckets=(lengths[0], lengths[-1] + 7), max_new_tokens=10
    )
    static = StaticShapeGenerator(
        backend.model,
        backend.tokenizer,
        geometry,
        eos_ids=backend.eos_ids,
        pad_id=backend.pad_id,
        device=torch.device("cpu"),
    )
    results = static.generate([DecodeRequest(i, PARAMS) for i in ids])
    for prompt, result in zip(ids, results, strict=True):
        assert result.token_ids == unpadded(smol_static, prompt)


async def test_traced_graphs_are_cached_and_reproduce_eager_tokens(
    smol_static: LocalGenerator, tmp_path: Path
) -> None:
    ids = prompts(smol_static)
    bucket = 64
    assert max(len(i) for i in ids) <= bucket
    settings = inference_settings(
        INFERENCE_BUCKETS=str(bucket), INFERENCE_MAX_BATCH_SIZE=4, INFERENCE_MAX_NEW_TOKENS=10
    )
    info = backend_of(smol_static).model_info

    first_compiler = TorchScriptCompiler()
    first = NeuronBackend(settings, info, "generator", cache_root=tmp_path, compiler=first_compiler)
    first.load()
    assert first_compiler.compiled == 2  # prefill + decode graph of the one bucket
    outcome = first.generate_batch([DecodeRequest(i, PARAMS) for i in ids])
    for prompt, result in zip(ids, outcome.results, strict=True):
        assert result.token_ids == unpadded(smol_static, prompt)
    # Padding accounting: 4 rows x 64 positions computed, only the real tokens count.
    assert (outcome.positions, outcome.real) == (4 * bucket, sum(len(i) for i in ids))
    first.close()

    second_compiler = TorchScriptCompiler()
    second = NeuronBackend(
        settings, info, "generator", cache_root=tmp_path, compiler=second_compiler
    )
    second.load()  # a restart: graphs come from the cache
    assert second_compiler.compiled == 0 and second.cache is not None
    assert second.cache.hits == 2
    again = second.generate_batch([DecodeRequest(ids[0], PARAMS)])
    assert again.results[0].token_ids == unpadded(smol_static, ids[0])
    second.close()
