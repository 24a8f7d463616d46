"""Quality harness of the emoji service on TweetEval emoji (validation split, 20 labels).

    .venv/bin/python -m tests.eval.emoji [--data ../shared/eval] [--dev N] [--test N]
        [--weight W] [--sweep W1,W2,...] [--handler-limit N]

Builds the service through its production lifespan (same indexes, same scoring, same
router) and ranks only the 20 label emoji for every tweet (retrieval over their CLDR +
emojilib words, plus the popularity prior), reporting top-1 / top-5 accuracy beside the
trivial baseline (always the split's own most frequent emoji(s)). The validation tweets are
split in two: the first --dev tweets (default 1,000) are the DEV split, the only one that
settings may be chosen on (--sweep ranks it once per popularity weight); the rest (or the
next --test) are the HELD-OUT split, the one to report. It also runs the production handler
on the first --handler-limit dev tweets (no stickers, no consent: nothing leaves the
machine) for latency and hit rates over all ~1,900 emoji. The last line is
`eval emoji: top1=<x> top5=<x>` on the held-out split.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from schemas.emoji import EmojiGenRequest, EmojiRequest
from services.emoji.handler import EmojiHandler, lifespan
from services.emoji.settings import EmojiSettings
from shared.config import REPO_ROOT, CoreSettings
from shared.messaging.handler import ServiceContext

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "eval"
BATCH = 64
# The first 1,000 validation tweets tune, the other 4,000 report (about 8 ms a tweet).
DEFAULT_DEV = 1000
_VS16 = "\ufe0f"


def _norm(e: str) -> str:
    return e.replace(_VS16, "")


def load(data: Path) -> tuple[list[str], list[str], list[str]]:
    """(tweets, their label emoji, the 20 label emoji in label order)."""
    folder = data / "tweeteval-emoji"
    mapping = [
        line.split("\t")[1]
        for line in (folder / "mapping.txt").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts = (folder / "val_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / "val_labels.txt").read_text(encoding="utf-8").splitlines()
    pairs = [(t, mapping[int(y)]) for t, y in zip(texts, labels, strict=True) if y.strip()]
    return [t for t, _ in pairs], [y for _, y in pairs], mapping


def baseline(gold: list[str], k: int) -> float:
    """Accuracy of always answering the k most frequent emoji of this very split."""
    common = {e for e, _ in Counter(gold).most_common(k)}
    return sum(g in common for g in gold) / len(gold)


async def restricted(
    handler: EmojiHandler, texts: list[str], gold: list[str], labels: list[str]
) -> tuple[float, float]:
    top1 = top5 = 0
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        rankings = await handler.retriever.rank(batch, "en", k=5, allowed=labels)
        for ranking, want in zip(rankings, gold[start : start + BATCH], strict=True):
            got = [_norm(m.emoji) for m in ranking]
            top1 += got[0] == _norm(want)
            top5 += _norm(want) in got
    return top1 / len(texts), top5 / len(texts)


async def through_handler(handler: EmojiHandler, texts: list[str], gold: list[str]) -> None:
    latencies, hits, statuses = [], 0, Counter[str]()
    for i, (text, want) in enumerate(zip(texts, gold, strict=True)):
        request = EmojiGenRequest(
            request_id=f"eval-{i}",
            tenant_id="eval",
            user_id="eval",
            occurred_at=datetime.now(UTC),
            payload=EmojiRequest(description=text[:200], count=5, sticker=False),
        )
        started = time.perf_counter()
        out = await handler(request)
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[str(out.status)] += 1
        if out.result is not None:
            hits += _norm(want) in [_norm(c.emoji) for c in out.result.candidates]
    n = len(texts)
    print(
        f"handler on {n} tweets (all ~1,900 emoji): label in top-5 {hits / n:.3f}; "
        f"statuses {dict(statuses)}; latency p50 {statistics.median(latencies):.1f} ms"
    )


def _report(split: str, gold: list[str], top1: float, top5: float) -> None:
    print(
        f"{split:8} n={len(gold):5}  baseline top1={baseline(gold, 1):.3f} "
        f"top5={baseline(gold, 5):.3f}  |  model top1={top1:.3f} top5={top5:.3f}"
    )


async def main_async(args: argparse.Namespace) -> None:
    texts, gold, labels = load(args.data)
    dev = slice(0, args.dev)
    test = slice(args.dev, args.dev + args.test if args.test else None)
    settings = EmojiSettings(EMOJI_LOCALES="en")
    overrides = {"lexical_boost": args.boost, "popularity_weight": args.weight}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    ctx = ServiceContext(core=CoreSettings(), extras={"emoji_settings": settings})
    async with lifespan(ctx) as handler:
        retriever = handler.retriever
        if args.sweep:
            print(f"sweep of the popularity weight on DEV ({args.dev} tweets):")
            for weight in (float(w) for w in args.sweep.split(",")):
                retriever.popularity_weight = weight
                top1, top5 = await restricted(handler, texts[dev], gold[dev], labels)
                print(f"  weight {weight:<7g} top1={top1:.3f} top5={top5:.3f}")
            retriever.popularity_weight = settings.popularity_weight
        print(
            f"labels: {len(labels)}  lexical boost: {settings.lexical_boost}  "
            f"popularity weight: {settings.popularity_weight}"
        )
        started = time.perf_counter()
        dev1, dev5 = await restricted(handler, texts[dev], gold[dev], labels)
        top1, top5 = await restricted(handler, texts[test], gold[test], labels)
        elapsed = time.perf_counter() - started
        ranked = len(gold[dev]) + len(gold[test])
        print(f"ranking time: {elapsed:.1f} s ({1000 * elapsed / ranked:.1f} ms per tweet)")
        _report("dev", gold[dev], dev1, dev5)
        _report("held-out", gold[test], top1, top5)
        if args.handler_limit:
            await through_handler(handler, texts[: args.handler_limit], gold[: args.handler_limit])
    print(f"eval emoji: top1={top1:.3f} top5={top5:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TweetEval emoji: top-1/top-5 accuracy.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="eval data folder")
    parser.add_argument(
        "--dev", type=int, default=DEFAULT_DEV, help="the first N tweets: the tuning split"
    )
    parser.add_argument("--test", type=int, default=0, help="held-out tweets (0: all the rest)")
    parser.add_argument(
        "--handler-limit", type=int, default=60, help="tweets run through the handler"
    )
    parser.add_argument("--boost", type=float, default=None, help="override EMOJI_LEXICAL_BOOST")
    parser.add_argument(
        "--weight", type=float, default=None, help="override EMOJI_POPULARITY_WEIGHT"
    )
    parser.add_argument("--sweep", help="popularity weights to compare on DEV, comma-separated")
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
