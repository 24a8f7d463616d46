"""Why a request escalated, and why it could not.

Both are stored with every result (audit) and used as Prometheus label values, so the
values are stable snake_case strings: rename a member, never its value.
"""

from __future__ import annotations

from enum import StrEnum


class EscalationReason(StrEnum):
    """The only reasons a request leaves the local tier."""

    TOO_LONG = "too_long"  # prompt does not fit the local shape buckets
    UNSUPPORTED_LANGUAGE = "unsupported_language"  # locale outside CAIRN_LOCAL_LANGUAGES
    FREEFORM_INSTRUCTION = "freeform_instruction"  # open-ended instruction, not a fixed tool
    VERIFIER_REJECTED = "verifier_rejected"  # local answer failed the task's verifier
    LOW_CONFIDENCE = "low_confidence"  # mean log-prob under CAIRN_MIN_MEAN_LOGPROB
    LOCAL_OVERLOAD = "local_overload"  # queue full, or no answer within the latency budget
    QUALITY_HINT = "quality_hint"  # the caller asked for a quality in CAIRN_ESCALATE_QUALITY_HINTS
    NO_LOCAL_MATCH = "no_local_match"  # retrieval (Genmoji) found nothing similar enough
    LOCAL_ERROR = "local_error"  # the local tier raised


class DegradedReason(StrEnum):
    """Why an escalation did not happen or did not succeed, so local served (or refused)."""

    NO_CONSENT = "no_consent"  # request not cleared for external processing
    NOT_CONFIGURED = "not_configured"  # no fallback tier, or no API key
    BUDGET_EXHAUSTED = "budget_exhausted"  # tenant's daily tokens/USD spent
    BREAKER_OPEN = "breaker_open"  # endpoint failing; cooling down
    PROVIDER_ERROR = "provider_error"  # transport/status failure after retries
    BAD_RESPONSE = "bad_response"  # malformed or schema-invalid answer
    REMOTE_REJECTED = "remote_rejected"  # remote answer failed the task's verifier
    UNSUPPORTED = "unsupported"  # the tier cannot do this kind of task (no image model)
    UNPRICED_MODEL = "unpriced_model"  # metered model missing from the price table
    CONTENT_FLAGGED = "content_flagged"  # the provider's moderation flagged it: refused
    MODERATION_UNAVAILABLE = "moderation_unavailable"  # moderation failed: no image (closed)
