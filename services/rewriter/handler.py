"""The writing-tools handler: route the request, check the answer, publish it or a safe fallback.

The lifespan loads the local generator, the router and the harper linter once per process.
A caller that already holds a started generator or router (the eval harness, tests) passes
it in `ServiceContext.extras` under "generator" / "router"; the lifespan then does not
start or close it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Protocol

import harper

from schemas.envelope import RequestEnvelope
from schemas.rewrite import WritingOperation, WritingRequest, WritingResult
from services.rewriter import proofread, results
from services.rewriter.lints import LintChecker
from services.rewriter.settings import RewriterSettings
from services.rewriter.sources import RuleCorrector
from services.rewriter.task import Draft, WritingTask
from shared.inference.candidates import Generator
from shared.messaging.handler import HandlerResult, ServiceContext
from shared.observability.logging import verdict_kind
from shared.routing.constants import LOCAL_TIER
from shared.routing.outcome import RoutedOutcome
from shared.routing.router import start_router

log = logging.getLogger(__name__)


class Router(Protocol):
    """The part of the router the rewriter uses."""

    async def route(self, task: WritingTask) -> RoutedOutcome[Draft]: ...


class RewriteHandler:
    """`async (request) -> HandlerResult[WritingResult]` for the rewrite feature."""

    def __init__(
        self,
        generator: Generator,
        router: Router,
        checker: LintChecker,
        settings: RewriterSettings,
        corrector: RuleCorrector | None = None,
    ) -> None:
        self._generator = generator
        self._router = router
        self._checker = checker
        self._settings = settings
        self._corrector = corrector or RuleCorrector(checker)

    async def __call__(
        self, request: RequestEnvelope[WritingRequest]
    ) -> HandlerResult[WritingResult]:
        started = time.perf_counter()
        payload = request.payload
        task = WritingTask(request, self._generator, self._checker, self._settings, self._corrector)
        outcome = await self._router.route(task)
        if outcome.result is None:
            # The router refuses when no tier it may use gave an acceptable answer.
            problem: str | None = _local_rejection(outcome) or "no acceptable answer"
        else:
            problem = await task.verify(outcome.result)
        hints = (
            await asyncio.to_thread(self._checker.hints, payload.text)
            if payload.operation is WritingOperation.PROOFREAD
            else []
        )
        checked = results.Checked(outcome, problem, _ms_since(started))
        if problem is None:
            return results.verified(payload, checked, hints)

        log.warning(
            "request %s: no verified %s (tier %s): %s",
            request.request_id,
            payload.operation,
            outcome.tier,
            verdict_kind(problem),
        )
        log.debug("request %s: rewrite rejected because %s", request.request_id, problem)
        if payload.operation is not WritingOperation.PROOFREAD:
            return results.fallback(payload, checked)
        # The rule checkers alone (quire, harper and both), verified like any draft; harper's
        # unambiguous fixes when none of them passes.
        rules = await asyncio.to_thread(
            proofread.best_verified, payload.text, [], self._corrector, task.verify_text
        )
        if rules is not None:
            corrected = proofread.result_of(payload.text, rules.proposal.text, hints)
            return results.fallback(
                payload, checked, corrected, harper_verified=True, model=rules.proposal.label()
            )
        harper = proofread.harper_only(payload.text, hints)
        harper_problem = await task.verify(Draft(text=harper.text))
        return results.fallback(payload, checked, harper, harper_verified=harper_problem is None)


@asynccontextmanager
async def lifespan(ctx: ServiceContext) -> AsyncIterator[RewriteHandler]:
    """Load the generator, router and linter once; yield the handler; release them."""
    settings = RewriterSettings()
    async with AsyncExitStack() as stack:
        generator: Generator | None = ctx.extras.get("generator")
        if generator is None:
            # Imported here: torch loads only in a process that serves a model.
            from shared.inference.runtime import start_generator

            generator = await start_generator(stack, ctx.core, model=settings.generator_model)
        router: Router | None = ctx.extras.get("router")
        if router is None:
            router = await start_router(stack, budget_store=ctx.budget_store)
        dialect = harper.Dialect[settings.dialect.upper()]
        checker = await asyncio.to_thread(LintChecker, dialect)
        corrector = await asyncio.to_thread(RuleCorrector, checker)
        log.info("rewriter ready (model %s)", settings.generator_model or "default")
        yield RewriteHandler(generator, router, checker, settings, corrector)


def _local_rejection(outcome: RoutedOutcome[Draft]) -> str | None:
    """Why the local tier's answer was not served, from the router's audit."""
    for attempt in outcome.attempts:
        if attempt.tier == LOCAL_TIER and attempt.detail:
            return attempt.detail
    return None


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
