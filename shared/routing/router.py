"""The router: runs a task through the tier chain and says how it got its answer.

    policy reasons before local? ──yes, and a fallback is usable──▶ fallback tiers ─┐
        │ no                                                                        │ failed
        ▼                                                                           ▼
    local tier (timer at the latency budget when a fallback is usable)        local tier
        │  past the budget: hedging on  → race local and fallback, first acceptable wins
        │                   hedging off → abandon local, go to the fallback
        ▼
    reasons in the local answer? ──no──▶ serve local
        │ yes
        ▼
    fallback tiers in CAIRN_TIERS order (each: configured? consent? breaker? budget?)
        │ none answered acceptably
        ▼
    serve the local answer flagged degraded, or refuse when there is none acceptable.

Provider failures never raise. `route` raises only when no answer at all is possible: a
retriable error (`Overloaded` / `TransientError`) when the local tier failed transiently, or
the local tier's own non-retriable error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Generic

import pydantic

from shared.errors import Overloaded, TransientError, is_retriable
from shared.observability.logging import describe_error

from .breaker import CircuitBreaker
from .budget import (
    BudgetStore,
    Charge,
    InMemoryBudgetStore,
    Usage,
    chat_cost_usd,
    image_cost_usd,
    prompt_tokens_upper_bound,
    schema_text,
    utc_today,
)
from .constants import IMAGE_OUTPUT_TOKENS_BOUND, LOCAL_TIER
from .errors import ProviderResponseError
from .fallback import FallbackChain, Meters, Plan, RemoteAnswer, RemoteCall
from .metrics import RoutingMetrics, default_metrics
from .moderation import clear_for_images
from .openai_tier import OpenAITier, Sleep
from .outcome import AttemptOutcome, RoutedOutcome, TierAttempt
from .policy import HardnessPolicy
from .reasons import DegradedReason, EscalationReason
from .redaction import Redaction, redact_messages
from .retry import RetryPolicy
from .settings import RoutingSettings
from .task import ChatMessage, ImageTask, LocalAttempt, R, RoutedTask, TaskBase

log = logging.getLogger(__name__)

PLACEHOLDER_NOTE = (
    "Some details in the user's text were replaced by placeholders such as [EMAIL_1] or "
    "[PHONE_2]. Where your answer needs one of them, copy the placeholder exactly; never "
    "guess what it stands for."
)


@dataclass
class _LocalResult(Generic[R]):
    attempt: LocalAttempt[R] | None
    error: BaseException | None
    rejection: str | None
    reasons: list[EscalationReason]
    latency_ms: float

    @property
    def acceptable(self) -> bool:
        """Servable, if only as a degraded answer: a result the verifier accepted."""
        return self.attempt is not None and self.attempt.result is not None and not self.rejection


@dataclass
class _Run:
    """The state of one routing decision."""

    started: float
    reasons: list[EscalationReason] = field(default_factory=list)
    attempts: list[TierAttempt] = field(default_factory=list)
    local: TierAttempt | None = None
    remote_tried: bool = False

    def add_reasons(self, reasons: list[EscalationReason]) -> None:
        for reason in reasons:
            if reason not in self.reasons:
                self.reasons.append(reason)

    @property
    def degraded_reason(self) -> DegradedReason:
        for attempt in reversed(self.attempts):
            if attempt.degraded_reason is not None:
                return attempt.degraded_reason
        return DegradedReason.NOT_CONFIGURED

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts)

    @property
    def flagged(self) -> bool:
        """A provider's moderation flagged the request: refuse it, local answer included."""
        return any(a.degraded_reason is DegradedReason.CONTENT_FLAGGED for a in self.attempts)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


class Router:
    """Routes tasks through local -> [selfhosted] -> openai, as CAIRN_TIERS orders."""

    def __init__(
        self,
        settings: RoutingSettings,
        *,
        budget_store: BudgetStore | None = None,
        retry: RetryPolicy | None = None,
        metrics: RoutingMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], dt.date] = utc_today,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.policy = HardnessPolicy(settings)
        self.metrics = metrics or default_metrics()
        self.fallback = FallbackChain(
            settings,
            budget_store=budget_store or InMemoryBudgetStore(),
            metrics=self.metrics,
            retry=retry or RetryPolicy(max_retries=settings.max_retries),
            clock=clock,
            today=today,
            sleep=sleep,
        )

    @property
    def tiers(self) -> list[str]:
        return list(self.settings.tiers)

    @property
    def budget_store(self) -> BudgetStore:
        return self.fallback.budget_store

    def breaker(self, tier: str) -> CircuitBreaker | None:
        """The circuit breaker of a fallback tier (for health checks and tests)."""
        return self.fallback.breaker(tier)

    async def aclose(self) -> None:
        await self.fallback.aclose()

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- public entry points

    async def route(self, task: RoutedTask[R]) -> RoutedOutcome[R]:
        """Answer a text task; see the module docstring for the decision."""
        redaction = Redaction()
        messages: list[ChatMessage] | None = None

        async def call(adapter: OpenAITier, meters: Meters) -> RemoteAnswer[R]:
            nonlocal messages
            if messages is None:
                messages = redact_messages(task.remote_prompt(), redaction)
                if not redaction.empty:
                    messages.insert(0, {"role": "system", "content": PLACEHOLDER_NOTE})
            config = adapter.config
            price = self.settings.price(config.model)

            def price_of(usage: Usage) -> float:
                return chat_cost_usd(price, usage.prompt_tokens, usage.completion_tokens)

            # One attempt's upper bound: every prompt byte a token, the schema (it is part of
            # the prompt the provider bills) and the whole output allowance.
            prompt_bound = prompt_tokens_upper_bound(
                messages, schema_text(task.response_model.model_json_schema())
            )
            estimate = Usage(prompt_bound, config.max_output_tokens)
            meter = meters.make(Charge(estimate.tokens, price_of(estimate)), price_of)
            completion = await adapter.complete(
                messages, task.response_model, key=_request_key(task), meter=meter
            )
            try:
                result = redaction.rehydrate_model(completion.parsed)
            except pydantic.ValidationError as exc:
                raise ProviderResponseError(
                    f"answer invalid after restoring placeholders: {exc.error_count()} errors",
                    endpoint=adapter.name,
                ) from exc
            charged = meters.charged
            return RemoteAnswer(
                result=result,
                model=completion.model,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=charged.usd
                if charged is not None
                else price_of(Usage(completion.prompt_tokens, completion.completion_tokens)),
                http_attempts=completion.http_attempts,
                tier=adapter.name,
            )

        return await self._route(task, call, redaction, needs_image=False)

    async def route_image(self, task: ImageTask[R]) -> RoutedOutcome[R]:
        """Answer an image task (Genmoji): local first, the images API as fallback."""
        redaction = Redaction()

        async def call(adapter: OpenAITier, meters: Meters) -> RemoteAnswer[R]:
            prompt = redaction.redact(task.remote_image_prompt())
            await clear_for_images(adapter, prompt)  # raises unless moderation cleared it
            config = adapter.config
            price = self.settings.price(config.image_model or "")

            def price_of(usage: Usage) -> float:
                return image_cost_usd(
                    price,
                    usage.images,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    size=config.image_size,
                    quality=config.image_quality,
                )

            bound = Usage(
                prompt_tokens_upper_bound([{"role": "user", "content": prompt}]),
                IMAGE_OUTPUT_TOKENS_BOUND,
                images=1,
            )
            meter = meters.make(Charge(bound.tokens, price_of(bound)), price_of)
            answer = await adapter.generate_image(prompt, key=_request_key(task), meter=meter)
            charged = meters.charged
            return RemoteAnswer(
                result=task.image_result(answer.image),
                model=answer.image.model,
                prompt_tokens=answer.input_tokens,
                completion_tokens=answer.output_tokens,
                cost_usd=charged.usd
                if charged is not None
                else price_of(Usage(answer.input_tokens, answer.output_tokens, images=1)),
                http_attempts=answer.http_attempts,
                tier=adapter.name,
            )

        return await self._route(task, call, redaction, needs_image=True)

    # -- the decision

    async def _route(
        self,
        task: TaskBase[R],
        call: RemoteCall[R],
        redaction: Redaction,
        *,
        needs_image: bool,
    ) -> RoutedOutcome[R]:
        run = _Run(started=time.perf_counter())
        run.add_reasons(self.policy.before_local(task))
        plan = await self.fallback.plan(task, needs_image=needs_image)

        if not self.settings.local_enabled:
            answer = await self._escalate(run, task, plan, call)
            if answer is not None:
                return self._served_remote(task, run, answer, redaction)
            return self._no_local(task, run, redaction)

        usable = any(why is None for _, why in plan)
        local: _LocalResult[R] | None
        if run.reasons and usable:
            # Known hard before running local: go straight to the fallback, keep local as
            # the last resort.
            answer = await self._escalate(run, task, plan, call)
            if answer is not None:
                return self._served_remote(task, run, answer, redaction)
            local = await self._run_local(task)
            self._record_local(run, local)
            run.add_reasons(local.reasons)
            return self._served_local(task, run, local, redaction)

        local, answer = await self._local_first(task, run, plan, call, usable=usable)
        if local is not None:
            run.add_reasons(local.reasons)
        if answer is not None:
            return self._served_remote(task, run, answer, redaction)
        if not run.reasons:
            return self._served_local(task, run, local, redaction)
        if not run.remote_tried:
            answer = await self._escalate(run, task, plan, call)
            if answer is not None:
                return self._served_remote(task, run, answer, redaction)
        return self._served_local(task, run, local, redaction)

    async def _local_first(
        self,
        task: TaskBase[R],
        run: _Run,
        plan: Plan,
        call: RemoteCall[R],
        *,
        usable: bool,
    ) -> tuple[_LocalResult[R] | None, RemoteAnswer[R] | None]:
        budget_s = self.settings.latency_budget_ms / 1000
        if not usable or budget_s <= 0:
            local = await self._run_local(task)
            self._record_local(run, local)
            return local, None

        local_task = asyncio.create_task(self._run_local(task))
        try:
            done, _ = await asyncio.wait({local_task}, timeout=budget_s)
        except asyncio.CancelledError:
            local_task.cancel()
            raise
        if done:
            local = local_task.result()
            self._record_local(run, local)
            return local, None

        run.add_reasons([EscalationReason.LOCAL_OVERLOAD])
        detail = f"no local answer within the {self.settings.latency_budget_ms:.0f} ms budget"
        if not self.settings.hedging:
            local_task.cancel()
            await asyncio.gather(local_task, return_exceptions=True)
            run.local = TierAttempt(
                LOCAL_TIER,
                AttemptOutcome.ABANDONED,
                reasons=[EscalationReason.LOCAL_OVERLOAD],
                detail=detail,
                latency_ms=run.elapsed_ms(),
            )
            run.attempts.append(run.local)
            return None, None
        return await self._hedge(task, run, plan, call, local_task)

    async def _hedge(
        self,
        task: TaskBase[R],
        run: _Run,
        plan: Plan,
        call: RemoteCall[R],
        local_task: asyncio.Task[_LocalResult[R]],
    ) -> tuple[_LocalResult[R] | None, RemoteAnswer[R] | None]:
        """Race the running local attempt against the fallback; first acceptable wins."""
        remote_task = asyncio.create_task(self._escalate(run, task, plan, call))
        local: _LocalResult[R] | None = None
        answer: RemoteAnswer[R] | None = None
        winner = "none"
        try:
            pending: set[asyncio.Task[_LocalResult[R]] | asyncio.Task[RemoteAnswer[R] | None]]
            pending = {local_task, remote_task}
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if remote_task in done:
                    answer = remote_task.result()
                    if answer is not None:
                        winner = "remote"
                        break
                if local_task in done:
                    local = local_task.result()
                    if local.acceptable and not local.reasons:
                        winner = "local"
                        break
        finally:
            for pending_task in (local_task, remote_task):
                if not pending_task.done():
                    pending_task.cancel()
            await asyncio.gather(local_task, remote_task, return_exceptions=True)
        if local is not None:
            self._record_local(run, local)
        else:
            run.local = TierAttempt(
                LOCAL_TIER,
                AttemptOutcome.CANCELLED,
                reasons=[EscalationReason.LOCAL_OVERLOAD],
                detail="lost the hedged race",
                latency_ms=run.elapsed_ms(),
            )
            run.attempts.insert(0, run.local)
        self.metrics.hedges.labels(task.feature, winner).inc()
        log.info("hedged race for %s request %s: winner=%s", task.feature, task.request_id, winner)
        return local, answer

    async def _run_local(self, task: TaskBase[R]) -> _LocalResult[R]:
        started = time.perf_counter()
        try:
            attempt = await task.run_local()
        except Overloaded as exc:
            return _LocalResult(
                None, exc, None, [EscalationReason.LOCAL_OVERLOAD], _ms_since(started)
            )
        except Exception as exc:
            log.warning(
                "local tier failed for %s request %s: %s",
                task.feature,
                task.request_id,
                describe_error(exc),
            )
            return _LocalResult(None, exc, None, [EscalationReason.LOCAL_ERROR], _ms_since(started))
        rejection = None
        if attempt.result is not None:
            rejection = await self._verify(task, attempt.result)
        reasons = self.policy.after_local(attempt, rejection)
        return _LocalResult(attempt, None, rejection, reasons, _ms_since(started))

    async def _verify(self, task: TaskBase[R], result: R) -> str | None:
        try:
            return await task.verify(result)
        except Exception as exc:
            log.warning(
                "verifier failed for %s request %s: %s",
                task.feature,
                task.request_id,
                describe_error(exc),
            )
            return f"verifier error: {type(exc).__name__}"

    async def _escalate(
        self, run: _Run, task: TaskBase[R], plan: Plan, call: RemoteCall[R]
    ) -> RemoteAnswer[R] | None:
        run.remote_tried = True

        async def verify(result: R) -> str | None:
            return await self._verify(task, result)

        return await self.fallback.run(task, plan, call, verify, run.attempts)

    # -- outcomes

    def _record_local(self, run: _Run, local: _LocalResult[R]) -> None:
        attempt = local.attempt
        detail: str | None
        if local.error is not None:
            outcome, detail = AttemptOutcome.FAILED, f"{type(local.error).__name__}: {local.error}"
        elif attempt is None or attempt.result is None or local.rejection:
            outcome = AttemptOutcome.REJECTED
            detail = local.rejection or (attempt.detail if attempt else None)
        elif local.reasons:
            outcome, detail = AttemptOutcome.ESCALATED, attempt.detail
        else:
            outcome, detail = AttemptOutcome.SERVED, attempt.detail
        run.local = TierAttempt(
            LOCAL_TIER,
            outcome,
            model=attempt.model if attempt else None,
            reasons=list(local.reasons),
            detail=detail,
            latency_ms=local.latency_ms,
            prompt_tokens=attempt.prompt_tokens if attempt else 0,
            completion_tokens=attempt.completion_tokens if attempt else 0,
        )
        run.attempts.insert(0, run.local)

    def _served_remote(
        self, task: TaskBase[R], run: _Run, answer: RemoteAnswer[R], redaction: Redaction
    ) -> RoutedOutcome[R]:
        outcome = RoutedOutcome(
            result=answer.result,
            tier=answer.tier,
            model=answer.model,
            reasons=list(run.reasons),
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            cost_usd=run.cost_usd,
            latency_ms=run.elapsed_ms(),
            redactions=redaction.counts,
            attempts=run.attempts,
        )
        return self._done(task, outcome)

    def _served_local(
        self,
        task: TaskBase[R],
        run: _Run,
        local: _LocalResult[R] | None,
        redaction: Redaction,
    ) -> RoutedOutcome[R]:
        """Serve the local answer (degraded when a fallback was wanted), refuse, or raise."""
        if local is None:
            # Abandoned at the latency budget and no fallback answered.
            self._no_answer(task, run)
            raise Overloaded(
                f"{task.feature}: local tier past its latency budget and no fallback answered"
            )
        if local.error is not None:
            self._no_answer(task, run)
            if isinstance(local.error, TransientError):
                raise local.error
            if is_retriable(local.error):
                message = f"{task.feature}: local tier failed: {local.error}"
                raise TransientError(message) from local.error
            raise local.error
        # A late local answer (the latency budget passed, the fallback did not answer first)
        # is still a full-quality answer: lateness alone does not make it degraded.
        degraded = any(r is not EscalationReason.LOCAL_OVERLOAD for r in run.reasons)
        attempt = local.attempt
        assert attempt is not None
        served = local.acceptable and attempt.result is not None and not run.flagged
        if served and run.local is not None:
            run.local.outcome = AttemptOutcome.SERVED
        outcome: RoutedOutcome[R] = RoutedOutcome(
            result=attempt.result if served else None,
            tier=LOCAL_TIER if served else None,
            model=attempt.model,
            reasons=list(run.reasons),
            degraded=degraded,
            degraded_reason=run.degraded_reason if degraded else None,
            refused=not served,
            prompt_tokens=attempt.prompt_tokens,
            completion_tokens=attempt.completion_tokens,
            cost_usd=run.cost_usd,
            latency_ms=run.elapsed_ms(),
            confidence=attempt.confidence,
            redactions=redaction.counts,
            attempts=run.attempts,
        )
        return self._done(task, outcome)

    def _no_local(self, task: TaskBase[R], run: _Run, redaction: Redaction) -> RoutedOutcome[R]:
        """No local tier configured and no fallback answer."""
        transient = any(
            a.degraded_reason
            in (
                DegradedReason.PROVIDER_ERROR,
                DegradedReason.BREAKER_OPEN,
                DegradedReason.MODERATION_UNAVAILABLE,
            )
            for a in run.attempts
        )
        if transient:
            self._no_answer(task, run)
            raise TransientError(f"{task.feature}: no local tier and the fallback tiers failed")
        outcome: RoutedOutcome[R] = RoutedOutcome(
            result=None,
            tier=None,
            model=None,
            reasons=list(run.reasons),
            degraded=True,
            degraded_reason=run.degraded_reason,
            refused=True,
            cost_usd=run.cost_usd,
            latency_ms=run.elapsed_ms(),
            redactions=redaction.counts,
            attempts=run.attempts,
        )
        return self._done(task, outcome)

    def _no_answer(self, task: TaskBase[R], run: _Run) -> None:
        """Count and log a request the router raises for (no answer was possible)."""
        self.metrics.requests.labels(task.feature, "none", "raised").inc()
        for reason in run.reasons:
            self.metrics.escalations.labels(task.feature, "none", str(reason)).inc()
        log.warning(
            "no answer for %s request %s: reasons=%s attempts=%s",
            task.feature,
            task.request_id,
            ",".join(run.reasons) or "-",
            [(a.tier, str(a.outcome)) for a in run.attempts],
        )
        log.debug("attempt details of request %s: %s", task.request_id, run.attempts)

    def _done(self, task: TaskBase[R], outcome: RoutedOutcome[R]) -> RoutedOutcome[R]:
        self.metrics.observe(task.feature, outcome)
        log.info(
            "routed %s request %s: tier=%s reasons=%s degraded=%s refused=%s cost_usd=%.6f",
            task.feature,
            task.request_id,
            outcome.tier,
            ",".join(outcome.reasons) or "-",
            outcome.degraded_reason or outcome.degraded,
            outcome.refused,
            outcome.cost_usd,
        )
        return outcome


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _request_key(task: TaskBase[R]) -> tuple[str, str, str]:
    """Names a request across re-runs, so they share one budget of provider attempts."""
    return (task.tenant_id, task.feature, task.request_id)


async def start_router(stack: AsyncExitStack, *, budget_store: BudgetStore | None = None) -> Router:
    """A router from the environment's settings, closed with `stack` (service lifespans)."""
    from shared.routing.settings import RoutingSettings

    router = Router(RoutingSettings(), budget_store=budget_store)
    stack.push_async_callback(router.aclose)
    return router
