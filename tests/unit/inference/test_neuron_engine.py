"""The Neuron engine's scheduler, export and compile cache, on CPU.

optimum-neuron is replaced by tests/unit/inference/fake_optimum_neuron.py (its API, with a
tiny random Llama behind the compiled-model contract); everything of the engine runs for real:
the OptimumNeuron adapter's calls, the slot tensors it builds, the cache directory and its key,
the worker thread's admission / decode / retirement, sampling and stopping.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, LlamaConfig

from shared.config import CoreSettings
from shared.errors import ConfigurationError, Overloaded, PermanentError
from shared.inference.buckets import PromptTooLong
from shared.inference.engines.base import EngineClosed, EngineFailed
from shared.inference.engines.neuron import NeuronEngine, OptimumNeuron
from shared.inference.provision import ProvisionedModel, provision
from shared.inference.settings import InferenceSettings
from shared.inference.types import ChatMessage, GenerationParams
from shared.observability.health import component_checks

from .fake_optimum_neuron import FakeOptimumNeuron

pytestmark = [pytest.mark.model]  # uses SmolLM2's tokenizer and chat template

QUESTIONS = [
    "What is the capital of France?",
    "Hi",
    "Write a haiku about the sea at night.",
    "List three prime numbers.",
    "Why is the sky blue?",
    "Translate 'good morning' into Spanish.",
]


def settings(**overrides: object) -> InferenceSettings:
    values: dict[str, object] = {
        "INFERENCE_DEVICE": "neuron",
        "INFERENCE_DTYPE": "float32",
        "INFERENCE_MAX_BATCH_SIZE": 4,
        "INFERENCE_QUEUE_SIZE": 32,
        "INFERENCE_BUCKETS": "32,128",
        "INFERENCE_MAX_NEW_TOKENS": 64,
        "INFERENCE_NEURON_CORES": 2,
        "INFERENCE_WARMUP": False,
    }
    values.update(overrides)
    return InferenceSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with SmolLM2's tokenizer: a real checkpoint directory."""
    smol = provision("smollm2-135m-instruct", CoreSettings())
    out = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(smol.location)
    tokenizer.save_pretrained(out)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        initializer_range=0.2,  # wide logit gaps: no near-ties for greedy decoding
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(out)  # type: ignore[no-untyped-call]
    return out


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> Any:
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    return model.eval()


def greedy(model: Any, prompt: list[int], n: int, eos: frozenset[int]) -> list[int]:
    """Single-request greedy decoding with plain transformers: the expected answer."""
    tokens: list[int] = []
    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        out = model(
            input_ids=torch.tensor([prompt]),
            position_ids=torch.arange(len(prompt))[None, :],
            past_key_values=cache,
            use_cache=True,
        )
        for step in range(n):
            token = int(out.logits[0, -1].argmax())
            tokens.append(token)
            if token in eos:
                break
            out = model(
                input_ids=torch.tensor([[token]]),
                position_ids=torch.tensor([[len(prompt) + step]]),
                past_key_values=cache,
                use_cache=True,
            )
    return tokens


def fine_tuned_copy(model_dir: Path, dest: Path) -> Path:
    """`model_dir` copied with one byte of the last tensor's data flipped."""
    dest.mkdir()
    for path in model_dir.iterdir():
        (dest / path.name).write_bytes(path.read_bytes())
    weights = dest / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01
    weights.write_bytes(bytes(data))
    return dest


def provisioned(model_dir: Path) -> ProvisionedModel:
    return ProvisionedModel("tiny-llama", str(model_dir), "causal-lm", False)


async def start_engine(
    model_dir: Path, cache: Path, fake: FakeOptimumNeuron, **overrides: object
) -> NeuronEngine:
    s = settings(**overrides)
    engine = NeuronEngine(
        s,
        provisioned(model_dir),
        cache_root=cache,
        library=OptimumNeuron(cores=s.neuron_cores, module=fake),
    )
    await engine.start()
    return engine


@pytest.fixture
async def fake() -> AsyncIterator[FakeOptimumNeuron]:
    fake = FakeOptimumNeuron()
    yield fake
    fake.gate.set()


def prompt_ids(engine: NeuronEngine, question: str) -> list[int]:
    return engine.encode_chat([ChatMessage("user", question)])


async def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.002)


# -- export and cache ------------------------------------------------------------------------


async def test_export_arguments_follow_the_settings(
    model_dir: Path, tmp_path: Path, fake: FakeOptimumNeuron
) -> None:
    engine = await start_engine(model_dir, tmp_path, fake)
    # Largest bucket (128) is the prompt graph; + INFERENCE_MAX_NEW_TOKENS (64) the KV cache.
    assert fake.config_calls == [
        {
            "model_name_or_path": str(model_dir),
            "batch_size": 4,
            "sequence_length": 192,
            "tensor_parallel_size": 2,
            "instance_type": None,
        }
    ]
    (export,) = fake.export_calls
    assert export["model_id"] == str(model_dir) and export["load_weights"] is False
    config = export["neuron_config"]
    assert config.on_device_sampling is False  # logits come back: exact logprobs
    assert config.max_context_length == 128
    assert config.torch_dtype == torch.float32
    assert config.continuous_batching is True
    assert engine.exported and engine.compiled_dir is not None
    assert fake.load_calls == [str(engine.compiled_dir)]
    assert engine.compiled_dir.parent.parent == tmp_path / "tiny-llama"
    assert engine.compiled_dir.name.startswith("b4-s192-c128-tp2-")
    assert (engine.compiled_dir / "cairn-export.json").exists()
    assert engine.max_prompt_tokens == 128
    await engine.close()


async def test_compiled_model_is_reused_until_weights_or_shapes_change(
    model_dir: Path, tmp_path: Path
) -> None:
    first_fake = FakeOptimumNeuron()
    first = await start_engine(model_dir, tmp_path / "cache", first_fake)
    await first.close()

    again_fake = FakeOptimumNeuron()
    again = await start_engine(model_dir, tmp_path / "cache", again_fake)
    assert not again.exported and again_fake.export_calls == []  # a restart loads
    assert again.compiled_dir == first.compiled_dir
    await again.close()

    one_core = FakeOptimumNeuron()
    single = await start_engine(model_dir, tmp_path / "cache", one_core, INFERENCE_NEURON_CORES=1)
    assert single.exported and one_core.config_calls[0]["tensor_parallel_size"] == 1
    assert single.compiled_dir != first.compiled_dir
    await single.close()

    # A fine-tuned checkpoint: same config, one weight byte different.
    tuned = fine_tuned_copy(model_dir, tmp_path / "tuned")
    tuned_fake = FakeOptimumNeuron()
    tuned_engine = NeuronEngine(
        settings(),
        ProvisionedModel("tiny-llama", str(tuned), "causal-lm", False),
        cache_root=tmp_path / "cache",
        library=OptimumNeuron(cores=2, module=tuned_fake),
    )
    await tuned_engine.start()
    assert tuned_engine.exported and tuned_engine.compiled_dir != first.compiled_dir
    await tuned_engine.close()


async def test_without_optimum_neuron_start_is_a_configuration_error(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        present = importlib.util.find_spec("optimum.neuron") is not None
    except ModuleNotFoundError:
        present = False
    if present:
        pytest.skip("optimum-neuron is installed")
    monkeypatch.setenv("NEURON_RT_NUM_CORES", "2")  # the adapter would set it otherwise
    engine = NeuronEngine(settings(), provisioned(model_dir), cache_root=tmp_path)
    with pytest.raises(ConfigurationError, match=r"pip\.repos\.neuron\.amazonaws\.com"):
        await engine.start()
    assert not tmp_path.joinpath("checksums").exists()  # failed before hashing anything


async def test_warm_up_runs_both_graphs_once(
    model_dir: Path, tmp_path: Path, fake: FakeOptimumNeuron
) -> None:
    engine = await start_engine(model_dir, tmp_path, fake, INFERENCE_WARMUP=True)
    assert fake.calls == [("prefill", [0]), ("decode", [0])]
    await engine.close()


# -- scheduling ------------------------------------------------------------------------------


async def test_concurrent_requests_each_get_their_own_greedy_answer(
    model_dir: Path, tmp_path: Path, fake: FakeOptimumNeuron, reference: Any
) -> None:
    engine = await start_engine(model_dir, tmp_path, fake)
    prompts = [prompt_ids(engine, q) for q in QUESTIONS]  # 6 requests, 4 slots
    params = GenerationParams(max_new_tokens=12)
    outs = await asyncio.gather(*(engine.generate(p, params) for p in prompts))
    expected = [greedy(reference, p, 12, engine.eos_ids) for p in prompts]
    texts = []
    for out, want in zip(outs, expected, strict=True):
        assert out.token_count == len(want)
        assert out.text == engine.tokenizer.decode(want, skip_special_tokens=True)
        assert len(out.logprobs) == out.token_count and all(lp <= 0 for lp in out.logprobs)
        texts.append(out.text)
    assert len(set(texts)) > 1  # the prompts lead to different answers
    assert max(o.batch_size for o in outs) == 4  # all slots were used together
    assert max(len(slots) for kind, slots in fake.calls if kind == "decode") == 4
    assert engine.stats().batches == 6 and engine.running() == 0
    await engine.close()


async def test_greedy_logprobs_are_the_models(
    model_dir: Path, tmp_path: Path, fake: FakeOptimumNeuron, reference: Any
) -> None:
    engine = await start_engine(model_dir, tmp_path, fake)
    prompt = prompt_ids(engine, QUESTIONS[0])
    out = await engine.generate(prompt, GenerationParams(max_new_tokens=4))
    tokens = greedy(reference, prompt, 4, engine.eos_ids)
    with torch.inference_mode():
        logits = reference(input_ids=torch.tensor([prompt + tokens])).logits[0].float()
    lps = torch.log_softmax(logits, dim=-1)
    want = [float(lps[len(prompt) - 1 + i, t]) for i, t in enumerate(tokens)]
    assert out.logprobs == pytest.approx(want, abs=1e-4)
    await engine.close()


async def test_a_request_joins_while_others_are_decoding(
    model_dir: Path, tmp_path: Path, reference: Any
) -> None:
    fake = FakeOptimumNeuron(step_delay_s=0.005)
    engine = await start_engine(model_dir, tmp_path, fake)
    long_prompts = [prompt_ids(engine, q) for q in QUESTIONS[:2]]
    late_prompt = prompt_ids(engine, QUESTIONS[2])
    long = [
        asyncio.ensure_future(engine.generate(p, GenerationParams(max_new_tokens=48)))
        for p in long_prompts
    ]
    await wait_for(lambda: engine.decode_steps >= 5)
    late = await engine.generate(late_prompt, GenerationParams(max_new_tokens=6))
    assert not any(task.done() for task in long)  # it finished while they still decode
    assert any(len(slots) == 3 for kind, slots in fake.calls if kind == "decode")
    assert late.batch_size == 3
    assert late.token_count == 6
    assert late.text == engine.tokenizer.decode(
        greedy(reference, late_prompt, 6, engine.eos_ids), skip_special_tokens=True
    )
    for task, prompt in zip(long, long_prompts, strict=True):
        out = await task
        assert out.text == engine.tokenizer.decode(
            greedy(reference, prompt, 48, engine.eos_ids), skip_special_tokens=True
        )
    await engine.close()


async def test_cancellation_frees_the_slot_for_a_waiting_request(
    model_dir: Path, tmp_path: Path, reference: Any
) -> None:
    fake = FakeOptimumNeuron(step_delay_s=0.005)
    engine = await start_engine(model_dir, tmp_path, fake, INFERENCE_MAX_BATCH_SIZE=2)
    prompts = [prompt_ids(engine, q) for q in QUESTIONS[:3]]
    long = GenerationParams(max_new_tokens=60)
    first = asyncio.ensure_future(engine.generate(prompts[0], long))
    second = asyncio.ensure_future(engine.generate(prompts[1], long))
    await wait_for(lambda: engine.running() == 2)
    waiting = asyncio.ensure_future(engine.generate(prompts[2], GenerationParams(max_new_tokens=5)))
    await wait_for(lambda: engine.stats().queued == 1)
    await wait_for(lambda: engine.decode_steps >= 3)
    first.cancel()
    cancelled_at = len(fake.calls)
    out = await waiting
    # The waiting request was prefilled into the freed slot at the next step boundary:
    # at most the decode step in progress when the cancel landed ran before it.
    later = fake.calls[cancelled_at:]
    kinds = [kind for kind, _ in later]
    assert kinds.index("prefill") <= 1, later[:4]
    assert later[kinds.index("prefill")] == ("prefill", [0])  # the cancelled request's slot
    assert engine.stats().cancelled == 1
    assert out.text == engine.tokenizer.decode(
        greedy(reference, prompts[2], 5, engine.eos_ids), skip_special_tokens=True
    )
    # The surviving long request was not disturbed by the slot changing hands.
    assert (await second).text == engine.tokenizer.decode(
        greedy(reference, prompts[1], 60, engine.eos_ids), skip_special_tokens=True
    )
    assert first.cancelled()
    await engine.close()


async def test_timeout_frees_the_slot(model_dir: Path, tmp_path: Path) -> None:
    fake = FakeOptimumNeuron(step_delay_s=0.005)
    engine = await start_engine(model_dir, tmp_path, fake, INFERENCE_MAX_BATCH_SIZE=1)
    prompt = prompt_ids(engine, QUESTIONS[0])
    with pytest.raises(TimeoutError):
        await engine.generate(prompt, GenerationParams(max_new_tokens=60), timeout_s=0.05)
    steps = engine.decode_steps
    await wait_for(lambda: engine.running() == 0, timeout_s=1.0)
    assert engine.decode_steps - steps <= 1  # gone at the next step boundary
    assert engine.stats().timed_out == 1
    out = await engine.generate(prompt, GenerationParams(max_new_tokens=3))
    assert out.token_count == 3
    await engine.close()


async def test_overloaded_at_the_queue_limit(
    model_dir: Path, tmp_path: Path, fake: FakeOptimumNeuron
) -> None:
    engine = await start_engine(model_dir, tmp_path, fake, INFERENCE_QUEUE_SIZE=3)
    prompt = prompt_ids(engine, QUESTIONS[0])
    fake.gate.clear()  # the device holds its first call
    params = GenerationParams(max_new_tokens=3)
    admitted = [asyncio.ensure_future(engine.generate(prompt, params)) for _ in range(3)]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(Overloaded):
        await engine.generate(prompt, params)
    assert time.monotonic() - started < 0.05  # refused at once, not after a wait
    fake.gate.set()
    outs = await asyncio.gather(*admitted)
    assert {o.text for o in outs} == {outs[0].text} and engine.stats().rejected == 1
    await engine.close()


async def test_stop_strings_and_max_new_tokens(
    model_dir: Path, tmp_path: Path, fake: FakeOptimumNeuron, reference: Any
) -> None:
    engine = await start_engine(model_dir, tmp_path, fake)
    prompt = prompt_ids(engine, QUESTIONS[2])
    full = await engine.generate(prompt, GenerationParams(max_new_tokens=24))
    assert full.finish_reason == "length" and full.token_count == 24

    short = await engine.generate(prompt, GenerationParams(max_new_tokens=5))
    want = greedy(reference, prompt, 5, engine.eos_ids)
    assert (short.token_count, short.finish_reason) == (5, "length")
    assert short.text == engine.tokenizer.decode(want, skip_special_tokens=True)

    middle = len(full.text) // 2
    stop = full.text[middle : middle + 3]
    assert stop.strip(), full.text  # a visible stop string from the answer itself
    stopped = await engine.generate(prompt, GenerationParams(max_new_tokens=24, stop=(stop,)))
    assert stopped.finish_reason == "stop"
    assert stopped.text == full.text[: full.text.find(stop)]
    assert stopped.token_count < full.token_count
    assert len(stopped.logprobs) == stopped.token_count
    await engine.close()


async def test_seeded_sampling_is_reproducible_beside_other_requests(
    model_dir: Path, tmp_path: Path, fake: FakeOptimumNeuron
) -> None:
    engine = await start_engine(model_dir, tmp_path, fake)
    prompt = prompt_ids(engine, QUESTIONS[4])
    sampled = GenerationParams(max_new_tokens=16, temperature=0.9, top_p=0.95, seed=7)
    alone = await engine.generate(prompt, sampled)
    crowd = await asyncio.gather(
        engine.generate(prompt, sampled),
        *(engine.generate(prompt_ids(engine, q), GenerationParams(16)) for q in QUESTIONS[:3]),
    )
    assert crowd[0].text == alone.text and crowd[0].logprobs == alone.logprobs
    greedy_out = await engine.generate(prompt, GenerationParams(max_new_tokens=16))
    assert greedy_out.text != alone.text  # it did sample
    await engine.close()


async def test_prompt_and_budget_limits(
    model_dir: Path, tmp_path: Path, fake: FakeOptimumNeuron
) -> None:
    engine = await start_engine(model_dir, tmp_path, fake)
    with pytest.raises(PromptTooLong):
        await engine.generate([1] * 129, GenerationParams())
    with pytest.raises(PermanentError):
        await engine.generate([1], GenerationParams())
    with pytest.raises(PermanentError, match="INFERENCE_MAX_NEW_TOKENS"):
        await engine.generate([1, 2, 3], GenerationParams(max_new_tokens=65))
    assert fake.calls == []
    await engine.close()


async def test_a_device_failure_fails_the_engine(
    model_dir: Path, tmp_path: Path, fake: FakeOptimumNeuron
) -> None:
    engine = await start_engine(model_dir, tmp_path, fake)
    engine.register_health()
    prompt = prompt_ids(engine, QUESTIONS[0])
    fake.fail_next = True
    with pytest.raises(EngineFailed, match="injected"):
        await engine.generate(prompt, GenerationParams(max_new_tokens=3))
    await wait_for(lambda: engine.failure is not None)
    assert not next(c for c in component_checks() if c.name == "model:tiny-llama").ok
    with pytest.raises(EngineFailed):
        await engine.generate(prompt, GenerationParams(max_new_tokens=3))
    await engine.close()


async def test_close_fails_in_flight_requests_retriably(
    model_dir: Path, tmp_path: Path, fake: FakeOptimumNeuron
) -> None:
    engine = await start_engine(model_dir, tmp_path, fake)
    prompt = prompt_ids(engine, QUESTIONS[0])
    fake.gate.clear()
    running = asyncio.ensure_future(engine.generate(prompt, GenerationParams(max_new_tokens=20)))
    await asyncio.sleep(0.02)
    closing = asyncio.ensure_future(engine.close())
    await asyncio.sleep(0.02)
    fake.gate.set()
    await closing
    with pytest.raises(EngineClosed):
        await running
    with pytest.raises(EngineClosed):
        await engine.generate(prompt, GenerationParams())
