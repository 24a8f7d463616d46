"""Prometheus export of routing outcomes. The outcome dataclass is the statistic; this module
only consumes it."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from .breaker import BreakerState
from .outcome import RoutedOutcome
from .task import R

_BREAKER_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


class RoutingMetrics:
    """The routing layer's metrics, registered once per registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else REGISTRY
        self.registry = reg
        self.requests = Counter(
            "cairn_routing_requests",
            "Routed requests by answering tier and status (served|degraded|refused|raised).",
            ["feature", "tier", "status"],
            registry=reg,
        )
        self.escalations = Counter(
            "cairn_routing_escalations",
            "Escalation reasons, by feature and the tier that finally answered.",
            ["feature", "tier", "reason"],
            registry=reg,
        )
        self.degraded = Counter(
            "cairn_routing_degraded",
            "Requests that wanted a fallback and did not get one, by why.",
            ["feature", "reason"],
            registry=reg,
        )
        self.tier_attempts = Counter(
            "cairn_routing_tier_attempts",
            "Each tier tried or skipped for a request, by outcome.",
            ["feature", "tier", "outcome"],
            registry=reg,
        )
        self.tokens = Counter(
            "cairn_routing_tokens",
            "Tokens used per tier (including answers that were not served).",
            ["feature", "tier", "kind"],
            registry=reg,
        )
        self.cost = Counter(
            "cairn_routing_cost_usd",
            "Fallback spend in USD (from API usage and the price table).",
            ["feature", "tier"],
            registry=reg,
        )
        self.latency = Histogram(
            "cairn_routing_latency_seconds",
            "End-to-end routing latency by answering tier.",
            ["feature", "tier"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.retries = Counter(
            "cairn_routing_retries",
            "HTTP retries against fallback endpoints.",
            ["endpoint", "error"],
            registry=reg,
        )
        self.breaker_state = Gauge(
            "cairn_routing_breaker_state",
            "Circuit breaker per endpoint: 0 closed, 1 half-open, 2 open.",
            ["endpoint"],
            registry=reg,
        )
        self.hedges = Counter(
            "cairn_routing_hedges",
            "Hedged races started at the latency budget, by winner (local|remote|none).",
            ["feature", "winner"],
            registry=reg,
        )

    def observe(self, feature: str, outcome: RoutedOutcome[R]) -> None:
        tier = outcome.tier or "none"
        status = "refused" if outcome.refused else "degraded" if outcome.degraded else "served"
        self.requests.labels(feature, tier, status).inc()
        for reason in outcome.reasons:
            self.escalations.labels(feature, tier, str(reason)).inc()
        if outcome.degraded_reason is not None:
            self.degraded.labels(feature, str(outcome.degraded_reason)).inc()
        for attempt in outcome.attempts:
            self.tier_attempts.labels(feature, attempt.tier, str(attempt.outcome)).inc()
            if attempt.prompt_tokens:
                self.tokens.labels(feature, attempt.tier, "prompt").inc(attempt.prompt_tokens)
            if attempt.completion_tokens:
                self.tokens.labels(feature, attempt.tier, "completion").inc(
                    attempt.completion_tokens
                )
            if attempt.cost_usd:
                self.cost.labels(feature, attempt.tier).inc(attempt.cost_usd)
        self.latency.labels(feature, tier).observe(outcome.latency_ms / 1000)

    def breaker_changed(self, endpoint: str, state: BreakerState) -> None:
        self.breaker_state.labels(endpoint).set(_BREAKER_VALUE[state])

    def retried(self, endpoint: str, error: BaseException, delay_s: float) -> None:
        self.retries.labels(endpoint, type(error).__name__).inc()


_default: RoutingMetrics | None = None


def default_metrics() -> RoutingMetrics:
    """The process-wide instance on the default registry (created on first use)."""
    global _default
    if _default is None:
        _default = RoutingMetrics()
    return _default
