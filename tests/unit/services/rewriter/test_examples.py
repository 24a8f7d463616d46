"""The worked examples the local model is shown: faithful themselves, never served copied."""

from __future__ import annotations

import pytest

from schemas.rewrite import Tone, WritingOperation, WritingRequest
from services.rewriter import examples, guards, prompts
from services.rewriter.lints import LintChecker
from shared.verification import leakage


@pytest.mark.parametrize(
    ("tone", "example"),
    [(tone, example) for tone, group in examples.TONE_EXAMPLES.items() for example in group],
)
def test_every_example_passes_the_production_verifier(
    tone: Tone, example: examples.Example, checker: LintChecker
) -> None:
    # An example the guards would reject teaches the model to be rejected.
    reason = guards.verify(
        WritingOperation.REWRITE,
        tone,
        example.text,
        example.answer,
        checker.spelling_errors,
        instructions=prompts.INSTRUCTION_TEXTS,
    )
    assert reason is None, (tone, example.text, reason)


@pytest.mark.parametrize("tone", list(Tone))
def test_rewrites_show_their_tone_examples_before_the_text(tone: Tone) -> None:
    request = WritingRequest(operation=WritingOperation.REWRITE, text="see you at 5", tone=tone)
    turns = prompts.local_messages(request)
    shown = examples.for_tone(tone)
    assert [t["role"] for t in turns] == ["system", *["user", "assistant"] * len(shown), "user"]
    assert turns[2]["content"] == shown[0].answer
    assert turns[-1]["content"] == prompts.user_prompt("see you at 5")
    bare = prompts.local_messages(request, demonstrations=False)
    assert bare == prompts.messages(request)


def test_other_operations_and_the_remote_prompt_get_no_examples() -> None:
    proofread = WritingRequest(operation=WritingOperation.PROOFREAD, text="teh cat")
    assert len(prompts.local_messages(proofread)) == 2
    rewrite = WritingRequest(operation=WritingOperation.REWRITE, text="hi", tone=Tone.FRIENDLY)
    assert len(prompts.messages(rewrite)) == 2


def test_the_retry_reason_goes_into_the_system_message() -> None:
    request = WritingRequest(operation=WritingOperation.REWRITE, text="hi", tone=Tone.CONCISE)
    system = prompts.local_messages(request, "dropped a date")[0]["content"]
    assert "rejected (dropped a date)" in system


@pytest.mark.parametrize("tone", list(Tone))
def test_a_copied_example_is_never_served(tone: Tone, checker: LintChecker) -> None:
    source = "Team, the offsite is on 14 May in Leeds. Book your train by Friday."
    for example in examples.for_tone(tone):
        reason = guards.verify(
            WritingOperation.REWRITE,
            tone,
            source,
            example.answer,
            checker.spelling_errors,
            instructions=prompts.INSTRUCTION_TEXTS,
            examples=prompts.EXAMPLE_TEXTS,
        )
        assert reason is not None, example.answer


def test_an_example_copied_beside_the_real_answer_is_caught_as_a_copy() -> None:
    # The facts of the user's text survive, so only the copy check can catch it.
    source = "Please review the contract for Helen before Friday at 3pm."
    output = (
        "Could you please review the contract for Helen before Friday at 3pm? "
        "Could someone please contact the repair service before Thursday?"
    )
    reason = leakage.problem(source, output, prompts.INSTRUCTION_TEXTS, prompts.EXAMPLE_TEXTS)
    assert reason == "a worked example copied into the output"


def test_ordinary_phrases_shared_with_an_example_are_not_a_copy() -> None:
    # "could you please send me the notes" is business English, not a copied example.
    source = "can u send me the notes from the 4pm review? thx, Lee"
    output = "Could you please send me the notes from the 4pm review? Thank you, Lee"
    assert leakage.problem(source, output, prompts.INSTRUCTION_TEXTS, prompts.EXAMPLE_TEXTS) is None
