"""The hardness policy: which named reasons send a request past the local tier."""

from __future__ import annotations

from .reasons import EscalationReason
from .settings import RoutingSettings
from .task import LocalAttempt, R, TaskBase


def language_of(locale: str) -> str:
    """Primary language subtag: "en-US", "en_GB", "EN" -> "en"."""
    return locale.replace("_", "-").split("-", 1)[0].strip().lower()


class HardnessPolicy:
    def __init__(self, settings: RoutingSettings) -> None:
        self.min_mean_logprob = settings.min_mean_logprob
        self.languages = frozenset(settings.local_languages)
        self.quality_hints = frozenset(settings.escalate_quality_hints)

    def before_local(self, task: TaskBase[R]) -> list[EscalationReason]:
        """Reasons known from the request alone."""
        reasons = list(task.pre_reasons())
        declared = task.local_languages
        languages = self.languages if declared is None else declared
        if languages and task.locale and language_of(task.locale) not in languages:
            reasons.append(EscalationReason.UNSUPPORTED_LANGUAGE)
        if task.quality_hint and task.quality_hint.lower() in self.quality_hints:
            reasons.append(EscalationReason.QUALITY_HINT)
        return _unique(reasons)

    def after_local(
        self, attempt: LocalAttempt[R], rejection: str | None
    ) -> list[EscalationReason]:
        """Reasons found in the local answer (`rejection` is the verifier's verdict)."""
        reasons: list[EscalationReason] = []
        if attempt.escalate is not None:
            reasons.append(attempt.escalate)
        if attempt.result is None:
            if attempt.escalate is None:
                reasons.append(EscalationReason.LOCAL_ERROR)
            return reasons
        if rejection is not None:
            reasons.append(EscalationReason.VERIFIER_REJECTED)
        if attempt.confidence is not None and attempt.confidence < self.min_mean_logprob:
            reasons.append(EscalationReason.LOW_CONFIDENCE)
        return _unique(reasons)


def _unique(reasons: list[EscalationReason]) -> list[EscalationReason]:
    return list(dict.fromkeys(reasons))
