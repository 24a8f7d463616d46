"""The fallback tiers: which may take a request (configured, consent, breaker, price,
budget), and trying them in CAIRN_TIERS order until one gives a verified answer.

Metered (external) tiers reserve budget before every HTTP attempt and settle after it (see
`budget.py`); what the provider billed is charged even when the answer is then rejected."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic

from .breaker import CircuitBreaker
from .budget import BudgetLimits, BudgetStore, Charge, Ledger, Meter, Usage
from .errors import (
    BreakerOpen,
    BudgetExhausted,
    ContentFlagged,
    ModerationUnavailable,
    ProviderError,
    ProviderResponseError,
)
from .metrics import RoutingMetrics
from .openai_tier import OpenAITier, Sleep
from .outcome import AttemptOutcome, TierAttempt
from .reasons import DegradedReason
from .retry import AttemptLedger, RetryPolicy
from .settings import EndpointConfig, RoutingSettings
from .task import R, TaskBase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteAnswer(Generic[R]):
    """A fallback tier's answer, already rehydrated and priced."""

    result: R
    tier: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    http_attempts: int


class Meters:
    """Makes the meter of one metered call (None for unmetered tiers) and keeps it, so the
    chain can read what was charged even when the call raised."""

    def __init__(self, ledger: Ledger | None, tenant: str) -> None:
        self._ledger = ledger
        self._tenant = tenant
        self.meter: Meter | None = None

    def make(self, estimate: Charge, price_of: Callable[[Usage], float]) -> Meter | None:
        if self._ledger is None:
            return None
        self.meter = Meter(self._ledger, self._tenant, estimate, price_of)
        return self.meter

    @property
    def charged(self) -> Charge | None:
        return self.meter.charged if self.meter is not None else None


# How a route asks one endpoint (chat completion or image), given its adapter and where to
# get the call's budget meter.
RemoteCall = Callable[[OpenAITier, Meters], Awaitable[RemoteAnswer[R]]]
Verify = Callable[[R], Awaitable[str | None]]


@dataclass
class RemoteTier:
    config: EndpointConfig
    adapter: OpenAITier | None  # None when not configured (no API key)

    @property
    def name(self) -> str:
        return self.config.name


Plan = list[tuple[RemoteTier, DegradedReason | None]]


class FallbackChain:
    """The configured OpenAI-compatible tiers, their breakers and the tenants' budgets."""

    def __init__(
        self,
        settings: RoutingSettings,
        *,
        budget_store: BudgetStore,
        metrics: RoutingMetrics,
        retry: RetryPolicy,
        clock: Callable[[], float],
        today: Callable[[], dt.date],
        sleep: Sleep,
    ) -> None:
        self.settings = settings
        self.ledger = Ledger(budget_store, BudgetLimits.from_settings(settings), today)
        self.tiers: list[RemoteTier] = []
        for config in settings.endpoints():
            adapter = None
            if config.configured:
                breaker = CircuitBreaker(
                    config.name,
                    failure_threshold=settings.breaker_failures,
                    cooldown_s=settings.breaker_cooldown_s,
                    clock=clock,
                    listener=metrics.breaker_changed,
                )
                metrics.breaker_changed(config.name, breaker.state)
                adapter = OpenAITier(
                    config,
                    retry=retry,
                    breaker=breaker,
                    sleep=sleep,
                    on_retry=metrics.retried,
                    ledger=AttemptLedger(),
                )
            else:
                log.info("fallback tier %s has no API key; requests will skip it", config.name)
            self.tiers.append(RemoteTier(config, adapter))

    @property
    def budget_store(self) -> BudgetStore:
        return self.ledger.store

    @property
    def limits(self) -> BudgetLimits:
        return self.ledger.limits

    def priced(self, config: EndpointConfig, *, needs_image: bool) -> bool:
        """Whether a metered call to this endpoint can be priced (or may go unpriced)."""
        model = config.image_model if needs_image else config.model
        return self.settings.allow_unpriced or (
            model is not None and self.settings.price(model) is not None
        )

    def breaker(self, tier: str) -> CircuitBreaker | None:
        for remote in self.tiers:
            if remote.name == tier and remote.adapter is not None:
                return remote.adapter.breaker
        return None

    async def aclose(self) -> None:
        for remote in self.tiers:
            if remote.adapter is not None:
                await remote.adapter.aclose()

    async def plan(self, task: TaskBase[R], *, needs_image: bool) -> Plan:
        """Each tier in order, with why it cannot take this request (None: it can)."""
        plan: Plan = []
        spend_ok: bool | None = None
        for remote in self.tiers:
            why: DegradedReason | None = None
            if remote.adapter is None:
                why = DegradedReason.NOT_CONFIGURED
            elif needs_image and not remote.config.image_model:
                why = DegradedReason.UNSUPPORTED
            elif remote.config.external and not task.consent_external:
                why = DegradedReason.NO_CONSENT
            elif remote.config.external and not self.priced(remote.config, needs_image=needs_image):
                why = DegradedReason.UNPRICED_MODEL
            elif not remote.adapter.breaker.available():
                why = DegradedReason.BREAKER_OPEN
            elif remote.config.external:
                if spend_ok is None:
                    spend_ok = await self.ledger.allows(task.tenant_id)
                if not spend_ok:
                    why = DegradedReason.BUDGET_EXHAUSTED
            plan.append((remote, why))
        return plan

    async def run(
        self,
        task: TaskBase[R],
        plan: Plan,
        call: RemoteCall[R],
        verify: Verify[R],
        attempts: list[TierAttempt],
    ) -> RemoteAnswer[R] | None:
        """Try the tiers in order, recording each in `attempts`; the first verified answer
        wins. Provider failures are recorded, never raised."""
        for remote, why in plan:
            if why is not None or remote.adapter is None:
                attempts.append(
                    TierAttempt(remote.name, AttemptOutcome.SKIPPED, degraded_reason=why)
                )
                continue
            started = time.perf_counter()
            record = TierAttempt(remote.name, AttemptOutcome.FAILED, model=remote.config.model)
            attempts.append(record)
            meters = Meters(self.ledger if remote.config.external else None, task.tenant_id)
            try:
                answer = await call(remote.adapter, meters)
            except asyncio.CancelledError:
                record.outcome = AttemptOutcome.CANCELLED
                record.latency_ms = _ms_since(started)
                _charged(record, meters)
                raise
            except BudgetExhausted as exc:
                record.outcome = AttemptOutcome.SKIPPED
                record.degraded_reason = DegradedReason.BUDGET_EXHAUSTED
                record.detail = str(exc)
                _charged(record, meters)
                continue
            except BreakerOpen:
                record.outcome = AttemptOutcome.SKIPPED
                record.degraded_reason = DegradedReason.BREAKER_OPEN
                _charged(record, meters)
                continue
            except ContentFlagged as exc:
                # A refusal, not a failure: no other tier is asked to draw it.
                record.outcome = AttemptOutcome.REJECTED
                record.degraded_reason = DegradedReason.CONTENT_FLAGGED
                record.detail = ", ".join(exc.categories) or "flagged"
                record.latency_ms = _ms_since(started)
                return None
            except ProviderError as exc:
                record.degraded_reason = _degraded_reason(exc)
                record.detail = str(exc)
                record.latency_ms = _ms_since(started)
                _charged(record, meters)
                continue
            record.model = answer.model
            record.prompt_tokens = answer.prompt_tokens
            record.completion_tokens = answer.completion_tokens
            record.cost_usd = answer.cost_usd
            record.http_attempts = answer.http_attempts
            # Already charged, attempt by attempt, whatever the verifier says next: the
            # provider bills the call.
            _charged(record, meters)
            rejection = await verify(answer.result)
            record.latency_ms = _ms_since(started)
            if rejection is not None:
                record.outcome = AttemptOutcome.REJECTED
                record.degraded_reason = DegradedReason.REMOTE_REJECTED
                record.detail = rejection
                continue
            record.outcome = AttemptOutcome.SERVED
            return answer
        return None


def _charged(record: TierAttempt, meters: Meters) -> None:
    """Every attempt's charge, billed-but-unusable ones included, goes on the record."""
    charged = meters.charged
    if charged is not None:
        record.cost_usd = charged.usd


def _degraded_reason(exc: ProviderError) -> DegradedReason:
    if isinstance(exc, ModerationUnavailable):
        return DegradedReason.MODERATION_UNAVAILABLE
    if isinstance(exc, ProviderResponseError):
        return DegradedReason.BAD_RESPONSE
    return DegradedReason.PROVIDER_ERROR


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
