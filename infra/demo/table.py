"""The demo's result table: each request beside its result, so anyone can judge the output.

Pure formatting of the request events the sample app sent and the result events that came
back (plain JSON dicts, as on the wire).
"""

from __future__ import annotations

import json
import textwrap
from itertools import zip_longest
from typing import Any

# Characters of user text shown in the request column; the whole text is in the event.
INPUT_PREVIEW_CHARS = 60
REQUEST_WIDTH = 40
MIN_RESULT_WIDTH = 40
NEWLINE_MARK = " ⏎ "
HEADER = ("feature", "status", "tier", "ms")
_FIXED = f"{'':<10} {'':<9} {'':<8} {'':>7}  "


def shorten(text: str, limit: int = INPUT_PREVIEW_CHARS) -> str:
    """One line of at most `limit` characters, cut at a word with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"


def describe_request(event: dict[str, Any] | None, feature: str) -> str:
    """What was asked: the operation, its tone or options, and a shortened input."""
    if event is None:
        return "(request not sent by this demo)"
    payload = event.get("payload") or {}
    if feature == "rewrite":
        op = str(payload.get("operation", "?"))
        tone = payload.get("tone")
        head = f"{op} ({tone})" if tone else op
        return f"{head}: {shorten(str(payload.get('text', '')))}"
    if feature == "summarize":
        notes = payload.get("notifications") or []
        first = notes[0] if notes else {}
        who = f"{first.get('sender')}: " if first.get("sender") else ""
        return (
            f"summarize {len(notes)} from {payload.get('app_id', '?')}: "
            f"{who}{shorten(str(first.get('body', '')))}"
        )
    if feature == "emoji":
        return f"emoji x{payload.get('count', '?')}: {shorten(str(payload.get('description', '')))}"
    return shorten(json.dumps(payload))


def describe(doc: dict[str, Any]) -> str:
    """What came back."""
    res = doc.get("result") or {}
    feature = doc.get("feature")
    if doc.get("error"):
        return f"error: {doc['error']}"
    if feature == "summarize":
        if res.get("skipped_reason"):
            return f"(not summarised: {res['skipped_reason']})"
        urgent = [r["notification_id"] for r in res.get("ranked", []) if r["urgency"] == "urgent"]
        tag = " [extractive]" if res.get("extractive") else ""
        return f"{res.get('summary', '')}{tag}" + (f"  urgent: {urgent}" if urgent else "")
    if feature == "rewrite":
        edits = res.get("edits") or []
        suffix = f"  ({len(edits)} edits)" if res.get("operation") == "proofread" else ""
        unchanged = ""
        prov = doc.get("provenance") or {}
        if prov.get("degraded_reason"):
            unchanged = f"  [degraded: {shorten(str(prov['degraded_reason']), 80)}]"
        return f"{res.get('text', '')}{suffix}{unchanged}"
    if feature == "emoji":
        cands = " ".join(f"{c['emoji']}" for c in res.get("candidates", []))
        return f"{cands}  stickers: {len(res.get('stickers', []))}" + (
            f"  refused: {res['refused_reason']}" if res.get("refused_reason") else ""
        )
    return json.dumps(res)[:200]


def table_lines(
    results: dict[str, dict[str, Any]],
    requests: dict[str, dict[str, Any]],
    width: int = 140,
) -> list[str]:
    """The table, one or more lines per result, requests and results wrapped side by side."""
    result_w = max(MIN_RESULT_WIDTH, width - len(_FIXED) - REQUEST_WIDTH - 2)
    lines = [
        f"{HEADER[0]:<10} {HEADER[1]:<9} {HEADER[2]:<8} {HEADER[3]:>7}  "
        f"{'request':<{REQUEST_WIDTH}}  result",
        "-" * min(width, len(_FIXED) + REQUEST_WIDTH + 2 + result_w),
    ]
    for doc in sorted(results.values(), key=lambda d: (d.get("feature", ""), d["request_id"])):
        feature = str(doc.get("feature", ""))
        prov = doc.get("provenance") or {}
        asked = textwrap.wrap(
            describe_request(requests.get(doc["request_id"]), feature), REQUEST_WIDTH
        ) or [""]
        got = textwrap.wrap(describe(doc).replace("\n", NEWLINE_MARK), result_w) or [""]
        first = (
            f"{feature:<10} {doc.get('status', ''):<9} {prov.get('tier', ''):<8} "
            f"{prov.get('latency_ms', 0):>7.0f}  "
        )
        for i, (left, right) in enumerate(zip_longest(asked, got, fillvalue="")):
            lines.append(f"{first if i == 0 else _FIXED}{left:<{REQUEST_WIDTH}}  {right}".rstrip())
    return lines
