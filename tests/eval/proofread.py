"""Proofreading quality on JFLEG dev: GLEU of the production handler vs the unchanged text.

    .venv/bin/python -m tests.eval.proofread [--data ../shared/eval] [--limit 100] [--rules]

Runs the rewriter's own lifespan and handler (same prompts, guards, router and fallbacks;
no Kafka) over the first `--limit` sentences of `jfleg/dev.src`, scores the published texts
against the four references, and prints the trivial baseline (every sentence unchanged)
beside it, with the latency per request and which sources the published texts came from.
Requests carry no external consent, so every answer is local or a local fallback.

`--rules` scores the rule checkers instead, without the model (cheap enough for the whole
split, `--limit 0`): each source alone, unverified, and their verified best (the handler's
rules-only proofread). The last line is `eval proofread: gleu=<x>`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from schemas.envelope import RequestEnvelope
from schemas.rewrite import WritingOperation, WritingRequest, WritingResult
from services.rewriter import guards, proofread
from services.rewriter.handler import lifespan
from services.rewriter.lints import LintChecker
from services.rewriter.sources import RuleCorrector
from shared.config import REPO_ROOT, CoreSettings
from shared.messaging.handler import HandlerResult, ServiceContext
from tests.eval.gleu import gleu

DEFAULT_DATA = Path("../shared/eval")
DEFAULT_LIMIT = 100
# Concurrent requests: the local generator micro-batches them (~3x throughput at 8 on CPU).
DEFAULT_CONCURRENCY = 8
REFERENCES = 4
BEST_RULES = "rules, verified best"


def load(data: Path, limit: int | None) -> tuple[list[str], list[list[str]]]:
    """Sources and reference sets (`refs[k][i]`), cut to the first `limit` sentences."""
    folder = (data if data.is_absolute() else REPO_ROOT / data) / "jfleg"
    sources = (folder / "dev.src").read_text(encoding="utf-8").splitlines()
    refs = [
        (folder / f"dev.ref{k}").read_text(encoding="utf-8").splitlines() for k in range(REFERENCES)
    ]
    if limit is not None:
        sources, refs = sources[:limit], [r[:limit] for r in refs]
    return sources, refs


def request(index: int, text: str) -> RequestEnvelope[WritingRequest]:
    return RequestEnvelope[WritingRequest](
        request_id=f"jfleg-dev-{index}",
        tenant_id="eval",
        user_id="eval",
        occurred_at=datetime.now(UTC),
        payload=WritingRequest(operation=WritingOperation.PROOFREAD, text=text),
    )


async def run(sources: list[str], concurrency: int) -> list[HandlerResult[WritingResult]]:
    """Every source through the production handler, `concurrency` at a time, in order."""
    gate = asyncio.Semaphore(concurrency)
    async with lifespan(ServiceContext(core=CoreSettings())) as handle:

        async def one(index: int, text: str) -> HandlerResult[WritingResult]:
            async with gate:
                return await handle(request(index, text))

        return list(await asyncio.gather(*(one(i, s) for i, s in enumerate(sources))))


def rule_sources(sources: list[str], refs: list[list[str]]) -> float:
    """GLEU of each rule checker alone and of their verified best; returns the latter.

    Sentence by sentence, so quire's tagger runs once per sentence (its answers are
    remembered for the chains and the verified best)."""
    checker = LintChecker()
    corrector = RuleCorrector(checker)
    alone: dict[str, Callable[[str], str]] = {
        "quire-grammar": corrector.quire,
        "harper (safe fixes)": corrector.harper,
        "harper (suggestions)": corrector.harper_suggest,
        "quire, then harper (sugg.)": lambda s: corrector.harper_suggest(corrector.quire(s)),
    }
    hypotheses: dict[str, list[str]] = {name: [] for name in (*alone, BEST_RULES)}
    spent: dict[str, float] = dict.fromkeys(hypotheses, 0.0)
    winners: Counter[str] = Counter()
    for source in sources:
        for name, correct in alone.items():
            started = time.perf_counter()
            hypotheses[name].append(correct(source))
            spent[name] += time.perf_counter() - started

        def verify(text: str, source: str = source) -> str | None:
            return guards.verify(
                WritingOperation.PROOFREAD, None, source, text, checker.spelling_errors
            )

        started = time.perf_counter()
        chosen = proofread.best_verified(source, [], corrector, verify)
        spent[BEST_RULES] += time.perf_counter() - started
        hypotheses[BEST_RULES].append(chosen.proposal.text if chosen is not None else source)
        winners[chosen.proposal.label() if chosen is not None else "unchanged"] += 1
    print(f"{'baseline (unchanged text)':<27} gleu={gleu(sources, sources, refs):.3f}")
    for name, texts in hypotheses.items():
        ms = spent[name] * 1000 / len(sources)
        print(f"{name:<27} gleu={gleu(sources, texts, refs):.3f} ({ms:.0f} ms each)")
    print(f"rules winners: {dict(winners)}")
    return gleu(sources, hypotheses[BEST_RULES], refs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="0 = all 754")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--rules", action="store_true", help="rule checkers only, no model")
    args = parser.parse_args()

    sources, refs = load(args.data, args.limit or None)
    print(f"jfleg dev: first {len(sources)} sentences")
    if args.rules:
        print(f"eval proofread: gleu={rule_sources(sources, refs):.3f}")
        return
    started = time.perf_counter()
    published = asyncio.run(run(sources, args.concurrency))
    elapsed = time.perf_counter() - started

    hypotheses = [
        r.result.text if r.result is not None else source
        for r, source in zip(published, sources, strict=True)
    ]
    statuses = Counter(f"{r.status}/{r.provenance.model}" for r in published)
    verified = sum(r.provenance.verified for r in published)
    changed = sum(h != s for h, s in zip(hypotheses, sources, strict=True))
    baseline = gleu(sources, sources, refs)
    score = gleu(sources, hypotheses, refs)

    print(f"sentences: {len(sources)} in {elapsed:.0f} s ({elapsed / len(sources):.2f} s each)")
    latencies = sorted(r.provenance.latency_ms for r in published)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    print(f"published: {dict(statuses)}; verified {verified}; changed {changed}")
    print(
        f"latency per request at concurrency {args.concurrency}: "
        f"p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms"
    )
    print(f"baseline (unchanged text) gleu={baseline:.3f}")
    print(f"handler                   gleu={score:.3f}")
    print(f"eval proofread: gleu={score:.3f}")


if __name__ == "__main__":
    main()
