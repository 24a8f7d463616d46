"""The error tree. Each error says whether retrying can help (`retriable`).

The messaging runtime reads only that attribute: a retriable error is retried with backoff,
anything else goes to the dead-letter topic at once.
"""

from __future__ import annotations


class CairnError(RuntimeError):
    """Base of every error Cairn raises on purpose."""

    retriable: bool = False


class TransientError(CairnError):
    """A dependency is unavailable or overloaded; the same input can succeed later."""

    retriable = True


class PermanentError(CairnError):
    """The input itself cannot be processed; retrying gives the same answer."""

    retriable = False


class InvalidEventError(PermanentError):
    """An event failed to decode or validate against its contract."""


class ConfigurationError(CairnError):
    """The deployment is misconfigured (missing model, bad URL); fix config, not input."""


class Overloaded(TransientError):
    """A bounded queue is full; the caller should escalate or wait."""


def is_retriable(exc: BaseException) -> bool:
    """Retriable if it says so, or if it is a transport-level failure of the standard library.

    Cairn's errors and aiokafka's (`KafkaError.retriable`) carry the flag as a class attribute.
    """
    flag = getattr(type(exc), "retriable", None)
    if isinstance(flag, bool):
        return flag
    return isinstance(exc, (ConnectionError, TimeoutError, OSError))
