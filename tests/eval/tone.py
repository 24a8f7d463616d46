"""Tone rewrites on realistic messages: how many come back changed and verified.

    .venv/bin/python -m tests.eval.tone [--limit 20] [--tones professional,friendly]
                                        [--candidates 3] [--no-baseline]
                                        [--baseline plain|single|bare]

tests/eval/data/tone_messages.jsonl holds short emails, chats and notices written for this
set (names, numbers, dates, times, negations). Each message x tone runs through the
rewriter's own lifespan and handler (same prompts, candidates, guards, router and fallbacks;
no Kafka). Requests carry no external consent, so every answer is local or a local fallback.

A request counts as a success when it came back `ok` from the local tier with a text that
differs from the input (the handler verified it). The rest are listed by their degraded
reason. The same requests then run again on the same loaded generator as a baseline, unless
`--no-baseline`: by default one greedy draft per round and no worked examples
(REWRITER_CANDIDATES=1, REWRITER_DEMONSTRATIONS=false: the rewriter before either measure);
`--baseline single` or `bare` takes away only one of them.
The last line is `eval tone: changed_verified=<x> baseline=<x>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.envelope import RequestEnvelope, ResultStatus
from schemas.rewrite import Tone, WritingOperation, WritingRequest, WritingResult
from services.rewriter.handler import lifespan
from services.rewriter.settings import RewriterSettings
from shared.config import CoreSettings
from shared.inference.types import ChatMessage, Generation, GenerationParams
from shared.messaging.handler import HandlerResult, ServiceContext
from shared.routing.constants import LOCAL_TIER

DATA = Path(__file__).parent / "data" / "tone_messages.jsonl"
TONES = (Tone.PROFESSIONAL, Tone.FRIENDLY, Tone.CONCISE)
# Concurrent requests: the local generator micro-batches them (as tests/eval/proofread.py).
DEFAULT_CONCURRENCY = 8
CANDIDATES_ENV = "REWRITER_CANDIDATES"
DEMONSTRATIONS_ENV = "REWRITER_DEMONSTRATIONS"
# The baselines `--baseline` can run on the same loaded generator: what the rewriter would
# be without one of the quality measures (candidates, worked examples) or without both.
BASELINES: dict[str, tuple[int | None, bool]] = {
    "plain": (1, False),  # one greedy draft per round, bare instruction
    "single": (1, True),  # one draft per round, worked examples shown
    "bare": (None, False),  # the same candidates, no worked examples
}
TARGET = 0.80


@dataclass(frozen=True)
class Outcome:
    message_id: str
    tone: Tone
    source: str
    status: str
    tier: str
    text: str | None
    degraded_reason: str | None

    @property
    def success(self) -> bool:
        return (
            self.status == ResultStatus.OK
            and self.tier == LOCAL_TIER
            and self.text is not None
            and self.text.strip() != self.source.strip()
        )

    @property
    def why(self) -> str:
        """Why a request is not a success, in one short bucket."""
        if self.success:
            return "ok"
        if self.degraded_reason:
            return reason_kind(self.degraded_reason)
        if self.status == ResultStatus.OK and self.tier == LOCAL_TIER:
            return "ok but unchanged"
        return f"{self.status}/{self.tier}"


def reason_kind(degraded_reason: str) -> str:
    """The verifier's verdict without its details ("length out of bounds: 41 chars ...")."""
    head = degraded_reason.split(";")[0].removeprefix("no verified answer: ")
    return head.split(":")[0].strip()


class Recorder:
    """The loaded generator, keeping every raw draft so rejected ones can be shown."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.drafts: list[tuple[str, str]] = []  # (prompt text, generated text)

    @property
    def max_prompt_tokens(self) -> int:
        return int(self._inner.max_prompt_tokens)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return int(self._inner.count_tokens(messages))

    async def generate(
        self, messages: Sequence[ChatMessage], params: GenerationParams, **kw: Any
    ) -> Generation:
        generation: Generation = await self._inner.generate(messages, params, **kw)
        self.drafts.append(("\n".join(m.content for m in messages), generation.text))
        return generation

    def drafts_for(self, source: str, tone: Tone) -> list[str]:
        return [t for prompt, t in self.drafts if source in prompt and tone.value in prompt]


def load(limit: int | None) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    return rows[:limit] if limit else rows


def request(message: dict[str, str], tone: Tone) -> RequestEnvelope[WritingRequest]:
    return RequestEnvelope[WritingRequest](
        request_id=f"{message['id']}-{tone.value}",
        tenant_id="eval",
        user_id="eval",
        occurred_at=datetime.now(UTC),
        payload=WritingRequest(operation=WritingOperation.REWRITE, tone=tone, text=message["text"]),
    )


def outcome(message: dict[str, str], tone: Tone, res: HandlerResult[WritingResult]) -> Outcome:
    return Outcome(
        message_id=message["id"],
        tone=tone,
        source=message["text"],
        status=str(res.status),
        tier=res.provenance.tier,
        text=res.result.text if res.result is not None else None,
        degraded_reason=res.provenance.degraded_reason,
    )


async def run_pass(
    jobs: Sequence[tuple[dict[str, str], Tone]],
    candidates: int,
    concurrency: int,
    extras: dict[str, Any],
    demonstrations: bool = True,
) -> list[Outcome]:
    """Every job through a fresh handler with `candidates` per round, in order."""
    # RewriterSettings is read from the environment when the lifespan starts.
    os.environ[CANDIDATES_ENV] = str(candidates)
    os.environ[DEMONSTRATIONS_ENV] = str(demonstrations).lower()
    gate = asyncio.Semaphore(concurrency)
    async with lifespan(ServiceContext(core=CoreSettings(), extras=extras)) as handle:

        async def one(message: dict[str, str], tone: Tone) -> Outcome:
            async with gate:
                return outcome(message, tone, await handle(request(message, tone)))

        return list(await asyncio.gather(*(one(m, t) for m, t in jobs)))


def share(outcomes: Sequence[Outcome]) -> float:
    return sum(o.success for o in outcomes) / max(1, len(outcomes))


def summary(label: str, outcomes: Sequence[Outcome], elapsed: float) -> list[str]:
    lines = [f"{label}: {len(outcomes)} requests in {elapsed:.0f} s"]
    for tone in TONES:
        subset = [o for o in outcomes if o.tone is tone]
        if subset:
            hits = sum(o.success for o in subset)
            lines.append(f"  {tone.value:<13} {hits:>3}/{len(subset):<3} = {share(subset):.3f}")
    lines.append(
        f"  {'overall':<13} {sum(o.success for o in outcomes):>3}/{len(outcomes):<3} "
        f"= {share(outcomes):.3f}"
    )
    reasons = Counter(o.why for o in outcomes if not o.success)
    for reason, count in reasons.most_common():
        lines.append(f"  not served changed+verified: {count:>3}  {reason}")
    return lines


async def evaluate(args: argparse.Namespace) -> tuple[list[Outcome], list[Outcome] | None]:
    messages = load(args.limit)
    tones = [Tone(t) for t in args.tones.split(",")]
    jobs = [(m, t) for m in messages for t in tones]
    async with AsyncExitStack() as stack:
        # One generator for both passes: the baseline then differs only in its settings.
        from shared.inference.runtime import start_generator

        generator = Recorder(await start_generator(stack, CoreSettings()))
        extras: dict[str, Any] = {"generator": generator}
        started = time.perf_counter()
        main = await run_pass(jobs, args.candidates, args.concurrency, extras, demonstrations=True)
        print(
            "\n".join(summary(f"candidates={args.candidates}", main, time.perf_counter() - started))
        )
        if args.show:
            for o in main:
                print(f"    [{o.why}] {o.message_id} {o.tone.value}: {o.text!r}")
                if not o.success:
                    for draft in dict.fromkeys(generator.drafts_for(o.source, o.tone)):
                        print(f"        draft: {draft!r}")
            generator.drafts.clear()
        if args.no_baseline:
            return main, None
        started = time.perf_counter()
        base_candidates, base_demonstrations = BASELINES[args.baseline]
        n = base_candidates or args.candidates
        base = await run_pass(jobs, n, args.concurrency, extras, base_demonstrations)
        label = f"baseline {args.baseline}: candidates={n} demonstrations={base_demonstrations}"
        print("\n".join(summary(label, base, time.perf_counter() - started)))
        return main, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="first N messages (0 = all)")
    parser.add_argument("--tones", default=",".join(t.value for t in TONES))
    parser.add_argument(
        "--candidates",
        type=int,
        default=RewriterSettings().candidates,
        help="per local round (default REWRITER_CANDIDATES, 3 unless set)",
    )
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--baseline",
        choices=sorted(BASELINES),
        default="plain",
        help="plain: 1 draft, no worked examples (the rewriter before both measures); "
        "single: 1 draft with examples; bare: the same candidates without examples",
    )
    parser.add_argument("--show", action="store_true", help="print every output (DEBUG use)")
    args = parser.parse_args()
    main_run, base = asyncio.run(evaluate(args))
    baseline = f"{share(base):.3f}" if base is not None else "not run"
    print(f"target >= {TARGET}")
    print(f"eval tone: changed_verified={share(main_run):.3f} baseline={baseline}")


if __name__ == "__main__":
    main()
