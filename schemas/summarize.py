"""Notification summaries: a stack of notifications from one app and thread → one summary."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from schemas.envelope import Identifier, RequestEnvelope, ResultEnvelope, StrictModel
from schemas.limits import (
    DEFAULT_SUMMARY_CHARS,
    MAX_NOTIFICATION_BODY_CHARS,
    MAX_NOTIFICATION_TITLE_CHARS,
    MAX_NOTIFICATIONS_PER_STACK,
    MAX_OPTED_OUT_APPS,
    MAX_SUMMARY_CHARS,
    MIN_SUMMARY_CHARS,
)


class NotificationCategory(StrEnum):
    MESSAGE = "message"
    EMAIL = "email"
    SOCIAL = "social"
    CALENDAR = "calendar"
    FINANCE = "finance"
    DELIVERY = "delivery"
    TRAVEL = "travel"
    NEWS = "news"
    ENTERTAINMENT = "entertainment"
    SYSTEM = "system"
    OTHER = "other"


# Categories whose summaries can misstate facts in public view (the December 2024 incident):
# not summarised unless the tenant opts in.
SENSITIVE_CATEGORIES: frozenset[NotificationCategory] = frozenset(
    {NotificationCategory.NEWS, NotificationCategory.ENTERTAINMENT}
)


class Notification(StrictModel):
    id: Identifier
    app_id: Identifier
    category: NotificationCategory = NotificationCategory.OTHER
    thread_id: Identifier | None = None
    sender: Annotated[str, StringConstraints(max_length=MAX_NOTIFICATION_TITLE_CHARS)] | None = None
    title: Annotated[str, StringConstraints(max_length=MAX_NOTIFICATION_TITLE_CHARS)] = ""
    body: Annotated[str, StringConstraints(max_length=MAX_NOTIFICATION_BODY_CHARS)]
    timestamp: AwareDatetime


class NotificationStack(StrictModel):
    """One app's notifications for one thread, oldest first or in any order (sorted on use)."""

    stack_id: Identifier
    app_id: Identifier
    thread_id: Identifier | None = None
    notifications: list[Notification] = Field(min_length=1, max_length=MAX_NOTIFICATIONS_PER_STACK)
    opted_out_apps: list[Identifier] = Field(
        default_factory=list,
        max_length=MAX_OPTED_OUT_APPS,
        description="Apps the user excluded from summaries.",
    )
    allow_sensitive_categories: bool = Field(
        False, description="Tenant opt-in to summarise news and entertainment apps."
    )
    max_summary_chars: int = Field(
        DEFAULT_SUMMARY_CHARS, ge=MIN_SUMMARY_CHARS, le=MAX_SUMMARY_CHARS
    )

    @model_validator(mode="after")
    def _one_app_unique_ids(self) -> NotificationStack:
        apps = {n.app_id for n in self.notifications}
        if apps != {self.app_id}:
            raise ValueError(
                f"a stack holds one app's notifications: stack app_id={self.app_id!r}, "
                f"notifications from {sorted(apps)}"
            )
        ids = [n.id for n in self.notifications]
        if len(ids) != len(set(ids)):
            raise ValueError("notification ids in a stack must be unique")
        return self


Urgency = Literal["urgent", "normal", "low"]


class RankedNotification(StrictModel):
    notification_id: Identifier
    urgency: Urgency
    reason: str


class NotificationSummary(StrictModel):
    stack_id: Identifier
    summary: str = Field(description="Length-capped summary; empty when skipped.")
    covered_ids: list[Identifier]
    ranked: list[RankedNotification] = Field(description="Urgent first, then newest first.")
    labels: list[str] = Field(
        description="Labels the app must show, e.g. 'summarized-by-ai', a disclaimer."
    )
    extractive: bool = Field(
        False, description="Built from the notifications' own sentences, not generated."
    )
    skipped_reason: str | None = Field(
        None, description="Why the stack was not summarised (opt-out, sensitive category)."
    )


SummarizeRequest = RequestEnvelope[NotificationStack]
SummarizeResult = ResultEnvelope[NotificationSummary]
