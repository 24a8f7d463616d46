"""The notification-summary handler: the business rule, top to bottom.

1. Opted-out apps and sensitive categories are refused before anything runs.
2. Notifications are put in time order and ranked by rule-based urgency.
3. One notification is its own summary; a stored summary that already covers the stack is
   published again; otherwise the router gets a task (whole stack, or the stored summary
   plus what is new) and returns a draft from the local model or a fallback tier.
4. A draft is published only if the faithfulness guard passes; otherwise an extractive
   summary, quoted from the notifications, is.

The lifespan loads the local generator and the router once per process. A caller that
already holds them (the eval harness, tests) passes them in `ServiceContext.extras` under
"generator" / "router"; the lifespan then neither starts nor closes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from schemas.envelope import RequestEnvelope
from schemas.summarize import NotificationStack
from services.summarizer import extractive, results
from services.summarizer.draft import SummaryDraft, tidy
from services.summarizer.incremental import find_previous
from services.summarizer.policy import skip_reason
from services.summarizer.settings import SummarizerSettings
from services.summarizer.stack import in_time_order, sources_of
from services.summarizer.task import SummaryTask, verify_summary
from services.summarizer.urgency import rank
from shared.errors import PermanentError
from shared.inference.candidates import Generator
from shared.messaging.handler import ServiceContext, StateReader
from shared.observability.logging import verdict_kind
from shared.routing.outcome import RoutedOutcome
from shared.routing.router import start_router

log = logging.getLogger(__name__)


class Router(Protocol):
    """The part of the router the summarizer uses."""

    async def route(self, task: SummaryTask) -> RoutedOutcome[SummaryDraft]: ...


@dataclass
class SummarizerStats:
    """Counters of what the handler published (plain data; for logs, metrics and the eval)."""

    requests: int = 0
    skipped: int = 0
    single: int = 0
    reused: int = 0
    incremental: int = 0
    generated: int = 0
    extractive_fallback: int = 0
    local_drafts: int = 0
    local_rejected: int = 0


class SummarizeHandler:
    """`async (request) -> HandlerResult[NotificationSummary]` for the summarize feature."""

    def __init__(
        self,
        generator: Generator,
        router: Router,
        settings: SummarizerSettings,
        state: StateReader | None = None,
    ) -> None:
        self._generator = generator
        self._router = router
        self._settings = settings
        self._state = state
        self.stats = SummarizerStats()

    async def __call__(self, request: RequestEnvelope[NotificationStack]) -> results.Result:
        started = time.perf_counter()
        self.stats.requests += 1
        payload = request.payload
        reason = skip_reason(payload)
        if reason is not None:
            self.stats.skipped += 1
            return results.skipped(payload.stack_id, reason, _ms_since(started))

        notifications = in_time_order(payload.notifications)
        stack = results.Stack(
            payload.stack_id, notifications, rank(notifications, request.occurred_at)
        )
        cap = payload.max_summary_chars
        if len(notifications) == 1:
            self.stats.single += 1
            text = extractive.single(notifications[0], cap)
            return results.extractive(stack, text, self._settings, _ms_since(started))

        sources = sources_of(notifications)
        previous = await find_previous(self._state, request, notifications, sources)
        if previous is not None and not previous.new and len(previous.summary) <= cap:
            self.stats.reused += 1
            return results.reused(
                stack, previous.summary, previous.extractive, self._settings, _ms_since(started)
            )
        if previous is not None and previous.new:
            self.stats.incremental += 1
            task = SummaryTask(
                request, previous.new, sources, self._generator, self._settings, previous.summary
            )
        else:
            task = SummaryTask(request, notifications, sources, self._generator, self._settings)

        outcome = await self._router.route(task)
        self.stats.local_drafts += task.stats.drafts
        self.stats.local_rejected += task.stats.rejected
        problem = "no answer" if outcome.result is None else None
        text = "" if outcome.result is None else tidy(outcome.result.summary, cap)
        # Checked again whatever the router did: nothing unverified is ever published.
        problem = problem or verify_summary(text, sources, cap)
        if problem is None:
            self.stats.generated += 1
            return results.generated(stack, text, self._settings, outcome, _ms_since(started))

        log.info(
            "request %s: no verified summary (tier %s): %s; publishing an extractive one",
            request.request_id,
            outcome.tier,
            verdict_kind(problem),
        )
        log.debug("request %s: summary rejected because %s", request.request_id, problem)
        self.stats.extractive_fallback += 1
        text = extractive.summarise(notifications, stack.ranked, cap)
        if verify_summary(text, sources, cap, generated=False) is not None:
            # Quoting the sources cannot invent anything; if it does, the extractor is broken.
            raise PermanentError(f"extractive summary of {request.request_id} failed the guard")
        fallback = f"extractive fallback: {problem}"
        if outcome.degraded_reason is not None:
            # Why no better tier answered either (no_consent, provider_error...): the audit
            # must tell these apart, as the rewriter's fallbacks do.
            fallback += f"; escalation not possible: {outcome.degraded_reason}"
        return results.extractive(
            stack,
            text,
            self._settings,
            _ms_since(started),
            fallback_reason=fallback,
            outcome=outcome,
        )


@asynccontextmanager
async def lifespan(ctx: ServiceContext) -> AsyncIterator[SummarizeHandler]:
    """Load the generator and router once; yield the handler; release them."""
    settings = SummarizerSettings()
    async with AsyncExitStack() as stack:
        generator: Generator | None = ctx.extras.get("generator")
        if generator is None:
            # Imported here: torch loads only in a process that serves a model.
            from shared.inference.runtime import start_generator

            generator = await start_generator(stack, ctx.core, model=settings.model)
        router: Router | None = ctx.extras.get("router")
        if router is None:
            router = await start_router(stack, budget_store=ctx.budget_store)
        log.info("summarizer ready (model %s)", settings.model or "default")
        yield SummarizeHandler(generator, router, settings, ctx.state)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
