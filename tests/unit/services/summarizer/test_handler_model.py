"""The handler with a real (tiny) local model: whatever it writes, only grounded text ships."""

from __future__ import annotations

import pytest

from schemas.envelope import ResultStatus
from services.summarizer.handler import SummarizeHandler
from services.summarizer.settings import SummarizerSettings
from services.summarizer.stack import sources_of
from services.summarizer.task import verify_summary
from shared.inference.candidates import Generator
from shared.routing import Router, RoutingSettings

from .factories import note, request

STACKS = [
    [
        note("a1", "Dinner moved to Friday 7:30 PM at Chez Nous.", sender="Alice", minutes=0),
        note("a2", "Can you bring the wine? Budget is $40.", sender="Alice", minutes=4),
        note("a3", "Bob and Priya are coming too.", sender="Alice", minutes=9),
    ],
    [
        note("b1", "Your parcel from Orbit Store is out for delivery.", sender="Parcelly"),
        note(
            "b2",
            "Driver Marek is 3 stops away, arriving 14:10-14:40.",
            sender="Parcelly",
            minutes=30,
        ),
        note(
            "b3",
            "Payment of £12.99 failed, update your card by 5 March.",
            sender="Parcelly",
            minutes=31,
        ),
    ],
]


@pytest.mark.model
@pytest.mark.parametrize("index", range(len(STACKS)))
async def test_published_summary_passes_the_guard_whatever_the_model_says(
    smollm: Generator, index: int
) -> None:
    stack = STACKS[index]
    async with Router(RoutingSettings(CAIRN_TIERS="local", _env_file=None)) as router:
        handler = SummarizeHandler(smollm, router, SummarizerSettings(_env_file=None))
        out = await handler(request(stack, stack_id=f"model-{index}", max_chars=160))
    assert out.status in (ResultStatus.OK, ResultStatus.DEGRADED)
    assert out.result is not None
    assert out.provenance.verified
    generated = not out.result.extractive
    assert verify_summary(out.result.summary, sources_of(stack), 160, generated=generated) is None
    assert handler.stats.local_drafts >= 1  # the model really ran
    # Either the model's draft passed the guard, or the quoted fallback was published.
    assert out.result.extractive == (handler.stats.extractive_fallback == 1)
