"""Tier chain for assistant requests: local -> (self-hosted OpenAI-compatible) -> ChatGPT.

Feature handlers wrap a request in a `RoutedTask` (or `ImageTask`) and call
`Router.route(task)` / `Router.route_image(task)`; the returned `RoutedOutcome` carries the
answer and the audit (tier, reasons, degraded/refused, tokens, cost) to persist.
"""

from .budget import BudgetLimits, BudgetStore, InMemoryBudgetStore, Spend
from .errors import (
    BreakerOpen,
    BudgetExhausted,
    ProviderError,
    ProviderResponseError,
    ProviderStatusError,
    ProviderTimeout,
    ProviderTransportError,
)
from .metrics import RoutingMetrics
from .outcome import AttemptOutcome, RoutedOutcome, TierAttempt
from .reasons import DegradedReason, EscalationReason
from .redaction import Redaction
from .retry import RetryPolicy
from .router import Router
from .settings import RoutingSettings
from .task import ChatMessage, GeneratedImage, ImageTask, LocalAttempt, RoutedTask

__all__ = [
    "AttemptOutcome",
    "BreakerOpen",
    "BudgetExhausted",
    "BudgetLimits",
    "BudgetStore",
    "ChatMessage",
    "DegradedReason",
    "EscalationReason",
    "GeneratedImage",
    "ImageTask",
    "InMemoryBudgetStore",
    "LocalAttempt",
    "ProviderError",
    "ProviderResponseError",
    "ProviderStatusError",
    "ProviderTimeout",
    "ProviderTransportError",
    "Redaction",
    "RetryPolicy",
    "RoutedOutcome",
    "RoutedTask",
    "Router",
    "RoutingMetrics",
    "RoutingSettings",
    "Spend",
    "TierAttempt",
]
