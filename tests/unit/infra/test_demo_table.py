"""The demo table puts each request (operation, tone, a shortened input) beside its result,
from the demo's own sample events."""

from __future__ import annotations

from typing import Any

from infra.demo.events import all_events
from infra.demo.table import INPUT_PREVIEW_CHARS, REQUEST_WIDTH, shorten, table_lines
from schemas.topics import Feature


def _result(event: dict[str, Any], feature: Feature, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": event["request_id"],
        "feature": feature.value,
        "status": "ok",
        "provenance": {"tier": "local", "latency_ms": 1234.4},
        "result": result,
    }


def test_shorten_cuts_at_a_word_and_flattens_lines() -> None:
    text = (
        "Hi Tom,\nthe invoice #4821 for 1,250 EUR is still unpaid and was due on March 3 already."
    )
    short = shorten(text, 40)
    assert len(short) <= 40
    assert short.endswith("…")
    assert "\n" not in short
    assert text.replace("\n", " ").startswith(short[:-1])
    assert shorten("running late", 40) == "running late"


def test_every_row_shows_operation_tone_and_input_beside_the_result() -> None:
    events = all_events()
    rewrites = events[Feature.REWRITE]
    tone_event = next(e for e in rewrites if e["payload"].get("tone") == "friendly")
    proof_event = next(e for e in rewrites if e["payload"]["operation"] == "proofread")
    emoji_event = events[Feature.EMOJI][0]
    stack_event = events[Feature.SUMMARIZE][0]
    requests = {e["request_id"]: e for e in (tone_event, proof_event, emoji_event, stack_event)}
    results = {
        tone_event["request_id"]: _result(
            tone_event, Feature.REWRITE, {"operation": "rewrite", "text": "Hey there! RESULT-A"}
        ),
        proof_event["request_id"]: _result(
            proof_event,
            Feature.REWRITE,
            {"operation": "proofread", "text": "RESULT-B", "edits": [{}, {}]},
        ),
        emoji_event["request_id"]: _result(
            emoji_event, Feature.EMOJI, {"candidates": [{"emoji": "😎"}], "stickers": []}
        ),
        stack_event["request_id"]: _result(
            stack_event, Feature.SUMMARIZE, {"summary": "RESULT-D", "ranked": []}
        ),
    }
    lines = table_lines(results, requests, width=140)
    text = "\n".join(lines)
    assert "request" in lines[0] and "result" in lines[0]

    def row(marker: str) -> list[str]:
        start = next(i for i, ln in enumerate(lines) if marker in ln)
        return [lines[start], *lines[start + 1 : start + 3]]

    friendly = " ".join(row("RESULT-A"))
    assert "rewrite (friendly):" in friendly
    # The input is shortened, but its start is there, on the same row as the result.
    first_words = " ".join(tone_event["payload"]["text"].split()[:2])
    assert first_words in friendly
    proof_row = row("RESULT-B")[0]
    assert (
        proof_row.startswith("rewrite") and "proofread:" in proof_row and "(2 edits)" in proof_row
    )
    assert "emoji x3:" in text and emoji_event["payload"]["description"][:12] in text
    stack_row = row("RESULT-D")[0]
    n = len(stack_event["payload"]["notifications"])
    assert f"summarize {n} from {stack_event['payload']['app_id']}" in stack_row
    # No line of the table runs past the terminal width; no request cell past its column.
    assert max(len(ln) for ln in lines) <= 140
    col = lines[0].index("request")
    for ln in lines[2:]:
        assert ln[col + REQUEST_WIDTH : col + REQUEST_WIDTH + 2].strip() == "", ln


def test_long_input_is_never_printed_whole() -> None:
    event = {
        "request_id": "demo-x",
        "payload": {"operation": "rewrite", "tone": "concise", "text": "word " * 200},
    }
    doc = _result(event, Feature.REWRITE, {"operation": "rewrite", "text": "short"})
    lines = table_lines({"demo-x": doc}, {"demo-x": event}, width=120)
    col = lines[0].index("request")
    shown = sum(ln[col : col + REQUEST_WIDTH].count("word") for ln in lines[2:])
    assert 0 < shown <= INPUT_PREVIEW_CHARS // len("word ") + 1


def test_a_degraded_rewrite_says_why_next_to_the_unchanged_text() -> None:
    event = {
        "request_id": "demo-y",
        "payload": {"operation": "rewrite", "tone": "concise", "text": "running 15 min late"},
    }
    doc = _result(event, Feature.REWRITE, {"operation": "rewrite", "text": "running 15 min late"})
    doc["status"] = "degraded"
    doc["provenance"]["degraded_reason"] = "no verified answer: dropped number: 15"
    text = "\n".join(table_lines({"demo-y": doc}, {"demo-y": event}, width=200))
    assert "degraded: no verified answer: dropped number: 15" in text
    assert "rewrite (concise): running 15 min late" in text
