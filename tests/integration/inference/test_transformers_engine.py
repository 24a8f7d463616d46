"""TransformersEngine (transformers' continuous batching) with the real SmolLM2-135M on CPU.

fp32 as in conftest: answers are compared token for token with single-request and static-path
decoding, and bf16 rounding can flip a near-tie argmax of this tiny model when the batch
changes shape.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from shared.config import CoreSettings
from shared.errors import Overloaded
from shared.inference.decode import DecodeRequest
from shared.inference.engines.base import EngineFailed
from shared.inference.engines.transformers_cb import TransformersEngine
from shared.inference.provision import provision
from shared.inference.types import GenerationParams

from .conftest import GREEDY, QUESTIONS, SMOL, chat, inference_settings

pytestmark = [pytest.mark.model]

ESSAY = "Write a long essay about the history of rivers and the cities built on them."
LONG = GenerationParams(max_new_tokens=200)


async def start_engine(**overrides: Any) -> TransformersEngine:
    # Prompts capped at 256 tokens keep the paged cache (sized for full-length rows) small.
    settings = inference_settings(INFERENCE_BUCKETS="64,128,256", **overrides)
    engine = TransformersEngine(settings, provision(SMOL, CoreSettings(), settings), device="cpu")
    await engine.start()
    return engine


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def engine() -> AsyncIterator[TransformersEngine]:
    started = await start_engine()
    yield started
    await started.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def narrow() -> AsyncIterator[TransformersEngine]:
    """One row in the running batch, two admitted: slots are scarce enough to observe."""
    started = await start_engine(INFERENCE_MAX_BATCH_SIZE=1, INFERENCE_QUEUE_SIZE=2)
    yield started
    await started.close()


async def test_concurrent_callers_each_get_the_single_request_answer(
    engine: TransformersEngine,
) -> None:
    prompts = {q: engine.encode_chat(chat(q)) for q in QUESTIONS}
    alone = {q: await engine.generate(p, GREEDY) for q, p in prompts.items()}
    for order in (QUESTIONS, list(reversed(QUESTIONS))):
        together = await asyncio.gather(*(engine.generate(prompts[q], GREEDY) for q in order))
        for question, out in zip(order, together, strict=True):
            assert out.text == alone[question].text, question
            assert out.logprobs == pytest.approx(alone[question].logprobs, abs=1e-4)
        assert max(out.batch_size for out in together) > 1  # they really shared steps

    # And the same tokens as the static path's eager loop on the same weights.
    backend = engine._backend
    static = backend.generate_batch([DecodeRequest(prompts[q], GREEDY) for q in QUESTIONS])
    for question, reference in zip(QUESTIONS, static.results, strict=True):
        out = alone[question]
        assert out.text == reference.text, question
        assert out.token_count == len(reference.token_ids)
        assert out.logprobs == pytest.approx(reference.logprobs, abs=1e-4)
        assert out.finish_reason == reference.finish_reason


async def test_logprobs_one_per_token_and_not_positive(engine: TransformersEngine) -> None:
    prompt = engine.encode_chat(chat(QUESTIONS[3]))
    sampled = GenerationParams(max_new_tokens=20, temperature=0.9, top_p=0.9, seed=5)
    for params in (GenerationParams(max_new_tokens=20), sampled):
        out = await engine.generate(prompt, params)
        assert out.token_count == len(out.logprobs) > 0
        assert all(lp <= 0.0 for lp in out.logprobs)
        assert sum(out.logprobs) < 0.0  # a real distribution, not masked-out certainties


async def test_seeded_sampling_does_not_depend_on_the_batch(engine: TransformersEngine) -> None:
    story = engine.encode_chat(chat("Tell me a story."))
    sampled = GenerationParams(max_new_tokens=16, temperature=0.9, top_p=0.9, seed=11)
    first = await engine.generate(story, sampled)
    together = await asyncio.gather(
        engine.generate(story, sampled),
        engine.generate(engine.encode_chat(chat("Say hi.")), GREEDY),
        engine.generate(story, GenerationParams(max_new_tokens=16, temperature=0.9, seed=12)),
    )
    assert together[0].text == first.text
    assert together[0].logprobs == pytest.approx(first.logprobs, abs=1e-4)
    # The same draw as the static path's: same sampler, same seed, same distribution.
    static = engine._backend.generate_batch([DecodeRequest(story, sampled)]).results[0]
    assert first.text == static.text
    assert first.logprobs == pytest.approx(static.logprobs, abs=1e-4)


async def test_length_and_stop_finish_reasons(engine: TransformersEngine) -> None:
    counting = engine.encode_chat(chat("Count from 1 to 30, separated by commas."))
    capped = await engine.generate(counting, GenerationParams(max_new_tokens=5))
    assert capped.finish_reason == "length" and capped.token_count == 5

    ended = await engine.generate(
        engine.encode_chat(chat(QUESTIONS[0])), GenerationParams(max_new_tokens=60)
    )
    assert ended.finish_reason == "stop" and ended.token_count < 60  # end-of-turn token
    assert "<|im_end|>" not in ended.text

    full = await engine.generate(counting, GenerationParams(max_new_tokens=60))
    stopped = await engine.generate(counting, GenerationParams(max_new_tokens=60, stop=("5",)))
    assert "5" in full.text
    assert stopped.finish_reason == "stop" and "5" not in stopped.text
    # Cut exactly before the first stop string of the unstopped answer, and no later.
    assert stopped.text == full.text[: full.text.find("5")]
    assert stopped.token_count < full.token_count
    assert stopped.token_count == len(stopped.logprobs)
    assert engine.running() == 0


async def test_a_short_request_overtakes_running_long_ones(engine: TransformersEngine) -> None:
    essay = engine.encode_chat(chat(ESSAY))
    params = GenerationParams(max_new_tokens=60)
    longs = [asyncio.ensure_future(engine.generate(essay, params)) for _ in range(3)]
    await asyncio.sleep(0.5)  # they are decoding now
    short = await engine.generate(
        engine.encode_chat(chat("Say hi.")), GenerationParams(max_new_tokens=3)
    )
    assert short.token_count == 3
    assert not any(task.done() for task in longs)  # joined the running batch, left first
    assert short.batch_size == 4
    results = await asyncio.gather(*longs)
    assert all(r.token_count > short.token_count for r in results)


async def test_cancellation_frees_the_slot_at_once(narrow: TransformersEngine) -> None:
    hi = narrow.encode_chat(chat("Say hi."))
    long_task = asyncio.ensure_future(narrow.generate(narrow.encode_chat(chat(ESSAY)), LONG))
    await asyncio.sleep(0.5)
    waiting = asyncio.ensure_future(narrow.generate(hi, GenerationParams(max_new_tokens=3)))
    await asyncio.sleep(0.3)
    stats = narrow.stats()
    assert stats.in_flight == 2 and stats.queued == 1 and narrow.running() == 1
    assert not waiting.done()  # the only row is taken by the essay

    started = time.monotonic()
    long_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long_task
    assert narrow.stats().in_flight == 1 and narrow.stats().cancelled == 1
    # The essay's row went at the next step: the waiting request runs without waiting for
    # 200 tokens (about 10 s here) to drain.
    short = await waiting
    assert short.token_count == 3 and time.monotonic() - started < 5.0
    assert narrow.running() == 0


async def test_timeout_frees_the_slot(narrow: TransformersEngine) -> None:
    before = narrow.stats().timed_out
    with pytest.raises(TimeoutError):
        await narrow.generate(narrow.encode_chat(chat(ESSAY)), LONG, timeout_s=0.5)
    assert narrow.running() == 0 and narrow.stats().timed_out == before + 1
    started = time.monotonic()
    out = await narrow.generate(
        narrow.encode_chat(chat("Say hi.")), GenerationParams(max_new_tokens=3)
    )
    assert out.token_count == 3 and time.monotonic() - started < 5.0


async def test_a_full_queue_is_refused_at_once(narrow: TransformersEngine) -> None:
    prompt = narrow.encode_chat(chat(QUESTIONS[1]))
    params = GenerationParams(max_new_tokens=4)
    admitted = [asyncio.ensure_future(narrow.generate(prompt, params)) for _ in range(2)]
    await asyncio.sleep(0)
    started = time.monotonic()
    with pytest.raises(Overloaded):
        await narrow.generate(prompt, params)
    assert time.monotonic() - started < 0.1
    results = await asyncio.gather(*admitted)
    assert results[0].text == results[1].text


async def test_a_dead_generation_thread_fails_the_engine() -> None:
    broken = await start_engine()
    try:
        model = broken._backend.model

        def crash(*args: object, **kwargs: object) -> None:
            raise RuntimeError("device lost")

        hi = broken.encode_chat(chat("Say hi."))
        assert (await broken.generate(hi, GenerationParams(max_new_tokens=2))).token_count == 2
        model.forward = crash  # the manager calls model(...) at its next step
        with pytest.raises(EngineFailed):
            await broken.generate(hi, GREEDY, timeout_s=30)
        for _ in range(40):  # the watchdog looks every 0.25 s
            if broken.failure is not None:
                break
            await asyncio.sleep(0.25)
        assert broken.failure is not None and "device lost" in broken.failure
        assert not broken.health_check().ok
        with pytest.raises(EngineFailed):
            await broken.generate(hi, GREEDY)
    finally:
        await broken.close()
