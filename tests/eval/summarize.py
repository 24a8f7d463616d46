"""Quality of notification summaries on DialogSum (dev), through the production handler.

Each dialogue becomes one message-thread stack (every "#PersonN#: ..." turn a notification
from sender "#PersonN#") and goes through the same lifespan, handler and routing as in
production, without Kafka. Reported: ROUGE-1/2/L F1 against the reference summary and the
share of published summaries that pass the faithfulness guard, beside the trivial baseline
(the first message as the summary).

    .venv/bin/python -m tests.eval.summarize [--data ../shared/eval] [--limit 60]

The default limit keeps a run to a few minutes on 2 CPU cores; --limit 0 runs all 500.
The last line is `eval summarize: rougeL=<x> faithful=<x>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rouge_score import rouge_scorer

from schemas.envelope import RequestEnvelope
from schemas.limits import (
    MAX_NOTIFICATION_BODY_CHARS,
    MAX_NOTIFICATIONS_PER_STACK,
    MAX_SUMMARY_CHARS,
)
from schemas.summarize import Notification, NotificationCategory, NotificationStack
from services.summarizer.handler import SummarizeHandler, lifespan
from services.summarizer.stack import line, sources_of
from services.summarizer.task import verify_summary
from services.summarizer.text import cap
from shared.config import CoreSettings
from shared.messaging.handler import ServiceContext

DEFAULT_LIMIT = 60
DEFAULT_MAX_CHARS = 250
DEFAULT_CONCURRENCY = 8
METRICS = ("rouge1", "rouge2", "rougeL")
_TURN = re.compile(r"^\s*(#[A-Za-z]+\d*#)\s*:\s*(.*)$")
_T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    fname: str
    request: RequestEnvelope[NotificationStack]
    reference: str


def load(path: Path, limit: int, max_chars: int) -> list[Item]:
    items: list[Item] = []
    with path.open(encoding="utf-8") as f:
        for row in map(json.loads, f):
            items.append(Item(row["fname"], to_request(row, max_chars), row["summary"]))
            if limit and len(items) >= limit:
                break
    return items


def to_request(row: dict[str, str], max_chars: int) -> RequestEnvelope[NotificationStack]:
    """One dialogue as one thread: a notification per turn, a minute apart."""
    notifications: list[Notification] = []
    for i, raw in enumerate(row["dialogue"].splitlines()):
        match = _TURN.match(raw)
        if match is None:  # a continuation line: part of the previous turn
            if notifications and raw.strip():
                last = notifications[-1]
                body = f"{last.body} {raw.strip()}"[:MAX_NOTIFICATION_BODY_CHARS]
                notifications[-1] = last.model_copy(update={"body": body})
            continue
        notifications.append(
            Notification(
                id=f"{row['fname']}-{i}",
                app_id="dialogsum",
                category=NotificationCategory.MESSAGE,
                thread_id=row["fname"],
                sender=match.group(1),
                body=match.group(2)[:MAX_NOTIFICATION_BODY_CHARS],
                timestamp=_T0 + timedelta(minutes=i),
            )
        )
    # The contract caps a stack; a longer dialogue is cut (a handful of the 500).
    notifications = notifications[:MAX_NOTIFICATIONS_PER_STACK]
    return RequestEnvelope[NotificationStack](
        request_id=f"eval-{row['fname']}",
        tenant_id="eval",
        user_id="eval",
        occurred_at=notifications[-1].timestamp + timedelta(minutes=1),
        payload=NotificationStack(
            stack_id=row["fname"],
            app_id="dialogsum",
            thread_id=row["fname"],
            notifications=notifications,
            max_summary_chars=max_chars,
        ),
    )


def baseline(item: Item) -> str:
    """The trivial summary: the first message, capped like a real one."""
    stack = item.request.payload
    return cap(line(stack.notifications[0]), stack.max_summary_chars)


def rouge(pairs: Sequence[tuple[str, str]]) -> dict[str, float]:
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    scores = [scorer.score(reference, summary) for summary, reference in pairs]
    return {m: statistics.fmean(s[m].fmeasure for s in scores) for m in METRICS}


def faithful(item: Item, summary: str) -> bool:
    stack = item.request.payload
    return verify_summary(summary, sources_of(stack.notifications), stack.max_summary_chars) is None


async def run(items: Sequence[Item], concurrency: int) -> tuple[list[str], SummarizeHandler]:
    # No state reader: every stack is new. No consent: nothing leaves the machine.
    ctx = ServiceContext(core=CoreSettings())
    limit = asyncio.Semaphore(concurrency)  # lets the micro-batcher fill batches
    async with lifespan(ctx) as handler:

        async def one(item: Item) -> str:
            async with limit:
                out = await handler(item.request)
            assert out.result is not None, f"{item.fname}: {out.status} {out.error}"
            return out.result.summary

        return list(await asyncio.gather(*(one(i) for i in items))), handler


def references(items: Sequence[Item]) -> int:
    """The human reference summaries through the generated-summary verifier, each against
    its own dialogue (the cap lifted to the contract's most): how often the verifier would
    reject what a person wrote, by reason."""
    reasons: Counter[str] = Counter()
    for item in items:
        stack = item.request.payload
        notifications = stack.notifications
        reason = verify_summary(item.reference, sources_of(notifications), MAX_SUMMARY_CHARS)
        reasons[(reason or "passed").split(":")[0]] += 1
    for reason, count in reasons.most_common():
        print(f"{count:>5}  {reason}")
    share = reasons["passed"] / len(items)
    print(f"eval summarize-references: passing={share:.3f} ({reasons['passed']}/{len(items)})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="0 = all")
    parser.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--show", type=int, default=3, help="print this many examples")
    parser.add_argument("--dump", type=Path, help="write every summary here (JSON lines)")
    parser.add_argument(
        "--references",
        action="store_true",
        help="no model: run the human summaries through the verifier (its false rejects)",
    )
    args = parser.parse_args(argv)

    items = load(args.data / "dialogsum" / "dialogsum.dev.jsonl", args.limit, args.max_chars)
    if args.references:
        return references(items)
    started = time.perf_counter()
    summaries, handler = asyncio.run(run(items, args.concurrency))
    elapsed = time.perf_counter() - started

    base = [baseline(i) for i in items]
    ours = rouge([(s, i.reference) for s, i in zip(summaries, items, strict=True)])
    theirs = rouge([(b, i.reference) for b, i in zip(base, items, strict=True)])
    ok = statistics.fmean(faithful(i, s) for i, s in zip(items, summaries, strict=True))
    base_ok = statistics.fmean(faithful(i, b) for i, b in zip(items, base, strict=True))
    stats = handler.stats

    if args.dump:
        with args.dump.open("w", encoding="utf-8") as f:
            for item, summary, first in zip(items, summaries, base, strict=True):
                record = {"fname": item.fname, "summary": summary, "baseline": first}
                f.write(json.dumps(record | {"reference": item.reference}) + "\n")
    for item, summary in list(zip(items, summaries, strict=True))[: args.show]:
        print(f"[{item.fname}] reference: {item.reference}\n  summary:   {summary}\n")
    print(f"items: {len(items)} (cap {args.max_chars} chars), {elapsed:.0f} s wall")
    print(
        f"published: generated {stats.generated}, extractive fallback "
        f"{stats.extractive_fallback}; local drafts {stats.local_drafts}, "
        f"rejected by the guard {stats.local_rejected}"
    )
    print(f"{'metric':<10}{'handler':>10}{'baseline':>10}")
    for metric in METRICS:
        print(f"{metric:<10}{ours[metric]:>10.3f}{theirs[metric]:>10.3f}")
    print(f"{'faithful':<10}{ok:>10.3f}{base_ok:>10.3f}")
    print(f"eval summarize: rougeL={ours['rougeL']:.3f} faithful={ok:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
