"""Prompt-lookup speculative decoding on the real llama-server: it must draft from the prompt
(accepted drafts reported) and must not change a greedy answer."""

import pytest

from shared.inference.types import GenerationParams

from .conftest import chat, start_smol

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Requests that copy their input, as proofreads and rewrites do.
COPYING = [
    "Repeat this sentence exactly: The delivery for order 4471 arrives on Friday between "
    "nine and eleven, please leave the parcel with the neighbour at number twelve.",
    "Copy the text word for word: Meeting moved to Monday at 3pm in room B, bring the budget "
    "report and the signed contract for the client review.",
]
PARAMS = GenerationParams(max_new_tokens=40)


async def test_drafts_are_accepted_and_greedy_answers_do_not_change() -> None:
    plain = await start_smol(INFERENCE_ENGINE="llamacpp", INFERENCE_SPECULATIVE="none")
    try:
        expected = [await plain.generate(chat(text), PARAMS) for text in COPYING]
    finally:
        await plain.close()
    drafting = await start_smol(INFERENCE_ENGINE="llamacpp", INFERENCE_SPECULATIVE="ngram")
    try:
        got = [await drafting.generate(chat(text), PARAMS) for text in COPYING]
    finally:
        await drafting.close()
    assert all(g.drafted_accepted == 0 for g in expected)
    assert sum(g.drafted_accepted for g in got) > 0, "no draft token was ever accepted"
    assert [g.text for g in got] == [g.text for g in expected]
    assert [g.completion_tokens for g in got] == [g.completion_tokens for g in expected]
    for g in got:
        assert len(g.token_logprobs) == g.completion_tokens
