"""The three services, end to end through Kafka, the database and the real models.

Requests from the sample app (infra/demo) go to each service's request topic; every one must
come back exactly once on the results topic, be stored exactly once, and carry a result that
keeps the feature's promise, whatever the (tiny, local) model happened to write.
"""

from __future__ import annotations

import asyncio

import pytest

from infra.demo import events as demo
from tests.e2e.checks import (
    check_emoji,
    check_proofread,
    check_skipped,
    check_summary,
    check_writing,
)
from tests.e2e.conftest import RouterFactory, StartCairn
from tests.e2e.support import SMOL, envelope, fresh

pytestmark = [pytest.mark.kafka, pytest.mark.model, pytest.mark.timeout(600)]


def _by_name(events: list[dict[str, object]], key: str, value: str) -> dict[str, object]:
    return next(e for e in events if e["payload"][key] == value)  # type: ignore[index]


async def test_three_services_answer_through_kafka_and_store_once(
    cairn: StartCairn, make_router: RouterFactory
) -> None:
    # Local only: no fallback tier, so every answer comes from the local models or policy.
    services = await cairn(make_router(CAIRN_TIERS="local"))

    stacks = demo.summarize_events()
    family = fresh(_by_name(stacks, "stack_id", "family-chat"))
    bank = fresh(_by_name(stacks, "stack_id", "bank-alerts"))
    news = fresh(_by_name(stacks, "stack_id", "headlines"))
    opted_out = fresh(_by_name(stacks, "stack_id", "parcel-93"))
    opted_out["payload"]["opted_out_apps"] = ["parcels", "newsapp"]
    single = envelope(
        {
            **bank["payload"],
            "stack_id": "bank-single",
            "notifications": bank["payload"]["notifications"][:1],
        },
        user="user-bank-single",
    )
    summaries = [family, bank, news, opted_out, single]

    writing = demo.rewrite_events()
    proofread = fresh(_by_name(writing, "text", demo.EMAIL))
    professional = fresh(_by_name(writing, "operation", "rewrite"))
    table = fresh(_by_name(writing, "operation", "table"))
    rewrites = [proofread, professional, table]

    emoji = demo.emoji_events()
    cat = fresh(_by_name(emoji, "description", "a cat wearing sunglasses"))
    cake = fresh(_by_name(emoji, "description", "birthday cake with candles"))
    unsafe = envelope(
        {"description": "a man pointing a gun at a teacher", "count": 3}, user="emoji-unsafe"
    )
    emojis = [cat, cake, unsafe]

    # All three services at once, as in production: the shared generator batches across them.
    got_summaries, got_rewrites, got_emoji = await asyncio.gather(
        services.request("summarize", summaries),
        services.request("rewrite", rewrites),
        services.request("emoji", emojis),
    )
    await services.assert_one_row_per_request()

    # Summaries: policy refusals never reach a model; the rest are grounded or quoted.
    check_skipped(got_summaries[opted_out["request_id"]], "app_opted_out")
    check_skipped(got_summaries[news["request_id"]], "sensitive_category")
    for event in (family, bank, single):
        delivered = got_summaries[event["request_id"]]
        assert delivered.status in ("ok", "degraded"), delivered.published
        assert delivered.provenance["tier"] == "local"
        check_summary(delivered, model=SMOL)
    one = got_summaries[single["request_id"]]
    assert one.status == "ok" and one.result is not None and one.result["extractive"]
    assert one.row.completion_tokens == 0, "a single notification is its own summary"
    ranked = got_summaries[bank["request_id"]].result["ranked"]  # type: ignore[index]
    # The security alert outranks the card payment (rule-based urgency, newest first).
    assert ranked[0]["urgency"] == "urgent"
    assert ranked[0]["notification_id"] == bank["payload"]["notifications"][1]["id"]

    # Writing tools: every result is verified or the operation's flagged fallback.
    for event in rewrites:
        delivered = got_rewrites[event["request_id"]]
        assert delivered.provenance["tier"] == "local"
        assert delivered.row.prompt_tokens > 0, "the local model was asked"
    proofread_result = got_rewrites[proofread["request_id"]]
    edits = check_proofread(proofread_result)
    assert edits, "the demo e-mail has mistakes (a doubled 'the', a lowercase 'i')"
    assert proofread_result.result is not None
    corrected = proofread_result.result["text"]
    assert "Sam" in corrected and "SAM" not in corrected, "names are not proofread away"
    check_writing(got_rewrites[professional["request_id"]], model=SMOL)
    check_writing(got_rewrites[table["request_id"]], model=SMOL)

    # Emoji: ranked candidates and stored stickers; the unsafe description is refused.
    for event in (cat, cake):
        delivered = got_emoji[event["request_id"]]
        assert delivered.status == "ok" and delivered.provenance["tier"] == "local"
        assert delivered.result is not None and delivered.result["matched"] is True
        check_emoji(delivered, services.blobs)
    cake_result = got_emoji[cake["request_id"]].result
    assert cake_result is not None and cake_result["candidates"][0]["emoji"] == "🎂"
    refused = got_emoji[unsafe["request_id"]]
    assert refused.status == "refused" and refused.provenance["model"] == "emoji-safety-rules"
    assert refused.result is not None
    assert refused.result["refused_reason"].startswith("weapon_at_person")
    assert refused.result["candidates"] == [] and refused.result["stickers"] == []
