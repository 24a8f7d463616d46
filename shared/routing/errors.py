"""Fallback-provider failures. Transport and status failures are separate branches.

The router catches all of them (a provider failure never reaches the Kafka consumer);
`retriable` tells the retry loop whether another attempt can help.
"""

from __future__ import annotations

from shared.errors import CairnError


class ProviderError(CairnError):
    """The fallback endpoint did not give a usable answer."""

    retriable = False

    def __init__(self, message: str, *, endpoint: str) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint


class ProviderTransportError(ProviderError):
    """No HTTP answer: connection refused or reset, DNS, TLS."""

    retriable = True


class ProviderTimeout(ProviderTransportError):
    """No answer within the per-attempt timeout."""


class ProviderStatusError(ProviderError):
    """An HTTP error status. Retriable for 408, 409, 429 and 5xx."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        status: int,
        retry_after_s: float | None = None,
        retriable: bool | None = None,
    ) -> None:
        super().__init__(f"HTTP {status}: {message}", endpoint=endpoint)
        self.status = status
        self.retry_after_s = retry_after_s
        self.retriable = _status_retriable(status) if retriable is None else retriable


class ProviderResponseError(ProviderError):
    """HTTP 200 but the body or the structured content is unusable (malformed, refusal,
    truncated). Not retried: the next sample is as likely to fail and costs as much."""


class BudgetExhausted(CairnError):
    """A call's estimated cost does not fit under the tenant's daily cap (or the ledger
    could not be read); nothing was sent."""

    retriable = False


class ContentFlagged(ProviderError):
    """The provider's moderation flagged what would be sent: the request is refused, nothing
    is generated from it and no other tier is asked."""

    def __init__(self, categories: tuple[str, ...], *, endpoint: str) -> None:
        super().__init__(f"moderation flagged: {', '.join(categories) or '-'}", endpoint=endpoint)
        self.categories = categories


class ModerationUnavailable(ProviderError):
    """The moderation call failed (after its retries): fail closed, generate nothing."""


class BreakerOpen(ProviderError):
    """The endpoint's circuit breaker is open; no request was sent."""

    retriable = True


def _status_retriable(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500
