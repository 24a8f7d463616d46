"""LocalGenerator with the real (tiny) SmolLM2 model on every CPU engine: batching must not
change answers, and admission, timeouts and cancellation behave the same on each."""

import asyncio
import random
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from shared.errors import Overloaded
from shared.inference.buckets import PromptTooLong
from shared.inference.runtime import LocalGenerator
from shared.inference.types import GenerationParams

from .conftest import ENGINES, GREEDY, QUESTIONS, chat, start_smol

pytestmark = [pytest.mark.model]


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=ENGINES)
async def smol(request: pytest.FixtureRequest) -> AsyncIterator[LocalGenerator]:
    generator = await start_smol(INFERENCE_ENGINE=request.param)
    assert generator.engine_name == request.param
    yield generator
    await generator.close()


async def sibling(generator: LocalGenerator, **overrides: object) -> LocalGenerator:
    """Another generator on the same engine kind, with other admission limits."""
    return await start_smol(INFERENCE_ENGINE=generator.engine_name, **overrides)


async def close_sibling(generator: LocalGenerator) -> None:
    await generator.close()


async def test_concurrent_callers_each_get_their_own_answer(smol: LocalGenerator) -> None:
    alone = {q: await smol.generate(chat(q), GREEDY) for q in QUESTIONS}
    rng = random.Random(3)

    async def ask(q: str) -> tuple[str, str, int]:
        await asyncio.sleep(rng.random() * 0.01)  # arrival order varies
        result = await smol.generate(chat(q), GREEDY)
        return q, result.text, result.batch_size

    for order in (QUESTIONS, list(reversed(QUESTIONS)), rng.sample(QUESTIONS, len(QUESTIONS))):
        answers = await asyncio.gather(*(ask(q) for q in order))
        for question, text, _ in answers:
            assert text == alone[question].text, question
        assert max(size for _, _, size in answers) > 1  # they really were batched

    one = alone[QUESTIONS[0]]
    assert one.prompt_tokens == smol.count_tokens(chat(QUESTIONS[0]))
    assert one.completion_tokens == len(one.token_logprobs) > 0
    assert one.mean_logprob == pytest.approx(sum(one.token_logprobs) / len(one.token_logprobs))
    assert one.mean_logprob < 0 and one.model == "smollm2-135m-instruct"


async def test_length_stop_and_seeded_sampling(smol: LocalGenerator) -> None:
    capped = await smol.generate(chat("Count from 1 to 30."), GenerationParams(max_new_tokens=5))
    assert capped.finish_reason == "length" and capped.completion_tokens == 5

    counted = await smol.generate(
        chat("Count from 1 to 30, separated by commas."),
        GenerationParams(max_new_tokens=60, stop=("5",)),
    )
    assert counted.finish_reason == "stop" and "5" not in counted.text

    sampled = GenerationParams(max_new_tokens=10, temperature=0.9, top_p=0.9, seed=11)
    first = await smol.generate(chat("Tell me a story."), sampled)
    together = await asyncio.gather(
        smol.generate(chat("Tell me a story."), sampled), smol.generate(chat("Say hi."), GREEDY)
    )
    assert together[0].text == first.text


async def test_cancellation_frees_the_slot_and_ends_the_row(smol: LocalGenerator) -> None:
    gen = await sibling(smol, INFERENCE_QUEUE_SIZE=1, INFERENCE_MAX_WAIT_MS=0)
    long_run = GenerationParams(max_new_tokens=200)
    task = asyncio.ensure_future(gen.generate(chat("Write a long essay about rivers."), long_run))
    await asyncio.sleep(0.5)  # it is decoding now
    with pytest.raises(Overloaded):
        await gen.generate(chat("Say hi."), GREEDY)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gen.stats().in_flight == 0
    started = time.monotonic()
    # The slot is free at once; the cancelled row leaves the batch at its next step, so this
    # short request does not wait for 200 tokens of essay.
    await gen.generate(chat("Say hi."), GenerationParams(max_new_tokens=3))
    assert time.monotonic() - started < 5.0
    await close_sibling(gen)


async def test_timeout_frees_the_slot(smol: LocalGenerator) -> None:
    gen = await sibling(smol, INFERENCE_QUEUE_SIZE=1)
    with pytest.raises(TimeoutError):
        await gen.generate(
            chat("Write a long essay about rivers."),
            GenerationParams(max_new_tokens=200),
            timeout_s=0.3,
        )
    assert gen.stats().in_flight == 0 and gen.stats().timed_out == 1
    result = await gen.generate(chat("Say hi."), GenerationParams(max_new_tokens=3))
    assert result.completion_tokens >= 1
    await close_sibling(gen)


async def test_a_full_queue_is_reported_at_once(smol: LocalGenerator) -> None:
    gen = await sibling(smol, INFERENCE_QUEUE_SIZE=2)
    params = GenerationParams(max_new_tokens=4)
    admitted = [asyncio.ensure_future(gen.generate(chat(q), params)) for q in QUESTIONS[:2]]
    await asyncio.sleep(0)
    started = time.monotonic()
    with pytest.raises(Overloaded):
        await gen.generate(chat(QUESTIONS[2]), params)
    assert time.monotonic() - started < 0.1
    await asyncio.gather(*admitted)
    await close_sibling(gen)


async def test_bucket_edges(smol: LocalGenerator) -> None:
    gen = await sibling(smol, INFERENCE_BUCKETS="24,32,40")
    assert gen.max_prompt_tokens == 40
    words = ["hello"]
    while gen.count_tokens(chat(" ".join(words))) <= 40:
        words.append("hello")
    fits = chat(" ".join(words[:-1]))
    too_long = chat(" ".join(words))
    assert gen.count_tokens(fits) <= 40 < gen.count_tokens(too_long)
    result = await gen.generate(fits, GenerationParams(max_new_tokens=2))
    assert result.prompt_tokens == gen.count_tokens(fits)
    with pytest.raises(PromptTooLong):
        await gen.generate(too_long, GenerationParams(max_new_tokens=2))
    await close_sibling(gen)
