"""Stacks that must not be summarised at all: opted-out apps and sensitive categories."""

from __future__ import annotations

from enum import StrEnum

from schemas.summarize import SENSITIVE_CATEGORIES, NotificationStack


class SkipReason(StrEnum):
    """Stable values of `NotificationSummary.skipped_reason`."""

    APP_OPTED_OUT = "app_opted_out"
    SENSITIVE_CATEGORY = "sensitive_category"


def skip_reason(stack: NotificationStack) -> SkipReason | None:
    """Why this stack must not be summarised, or None when it may be."""
    if stack.app_id in stack.opted_out_apps:
        return SkipReason.APP_OPTED_OUT
    # One sensitive notification makes the whole stack sensitive: a summary mixing a headline
    # into other items is exactly the misattribution the rule exists to prevent.
    if not stack.allow_sensitive_categories and any(
        n.category in SENSITIVE_CATEGORIES for n in stack.notifications
    ):
        return SkipReason.SENSITIVE_CATEGORY
    return None
