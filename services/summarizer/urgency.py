"""Rule-based urgency: which notifications a user should see first, and why.

Rules, not the model, decide urgency: they are predictable, explainable in the `reason` the
app shows, and cannot be talked out of a fraud alert by a clever message body.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.summarize import Notification, RankedNotification, Urgency
from services.summarizer.stack import line, who
from shared.verification.facts import EntityKind, extract

# A time mentioned for today counts as "soon" when it is at most this far ahead.
SOON = timedelta(hours=3)
# Missed calls from one sender in one stack that make the latest of them urgent.
REPEATED_CALLS = 2


@dataclass(frozen=True)
class Rule:
    urgency: Urgency
    reason: str
    pattern: re.Pattern[str]


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# First matching rule wins, so urgent rules come before low ones.
RULES: tuple[Rule, ...] = (
    Rule(
        "urgent",
        "security code or alert",
        _rx(
            r"\b(otp|one[- ]time (pass(word|code)|code)|verification code|security code|passcode|"
            r"2fa|two[- ]factor|security alert|suspicious|fraud|unauthori[sz]ed|new sign[- ]in|"
            r"sign[- ]in attempt|password (was )?(reset|changed)|account (locked|compromised))\b"
        ),
    ),
    Rule(
        "urgent",
        "payment problem",
        _rx(
            r"\b(payment (failed|declined|overdue|unsuccessful)|(card|transaction) (was )?declined|"
            r"insufficient funds|overdrawn|low balance|past due|overdue|declined)\b"
        ),
    ),
    Rule(
        "urgent",
        "marked urgent",
        _rx(
            r"\b(urgent(ly)?|asap|emergency|immediately|right away|right now|call me( back)?|"
            r"as soon as possible|911)\b"
        ),
    ),
    Rule(
        "urgent",
        "deadline soon",
        _rx(
            r"\b(deadline|due (today|tonight|tomorrow|by|in)|expires? (today|tonight|soon|in)|"
            r"(starts|starting|leaves|leaving|boarding|departs|closes) in \d+\s*"
            r"(min|minutes|mins|hours?|hrs?)|in (\d+|a few|five|ten|fifteen) (min|mins|minutes)|"
            r"gate (change|closes))\b"
        ),
    ),
    Rule(
        "urgent",
        "delivery arriving",
        _rx(
            r"\b(out for delivery|arriving (today|now|soon|in)|driver is (nearby|here|arriving|"
            r"outside)|at your door|(is|are) (here|outside)|stops away)\b"
        ),
    ),
    Rule(
        "low",
        "promotion",
        _rx(
            r"\b(sale|\d+% off|discount|promo(tion)?|deal|coupon|offer|unsubscribe|newsletter|"
            r"limited time|free shipping|recommended for you)\b"
        ),
    ),
    Rule(
        "low",
        "social activity",
        _rx(
            r"\b(liked your|reacted to|started following|new follower|commented on your|"
            r"mentioned you in a)\b"
        ),
    ),
)

_MISSED_CALL = _rx(r"\bmissed (voice |video )?call\b")
_TODAY = _rx(r"\b(today|tonight|this (morning|afternoon|evening))\b")


def _time_soon(notification: Notification, now: datetime) -> bool:
    """A clock time later today (in the notification's own UTC offset), within `SOON`."""
    text = line(notification)
    entities = extract(text)
    local_now = now.astimezone(notification.timestamp.tzinfo)
    # "3pm" means today when the text says so, or when it was sent today and names no other day.
    names_a_day = any(e.kind is EntityKind.DATE for e in entities)
    if _TODAY.search(text) is None and (
        names_a_day or notification.timestamp.date() != local_now.date()
    ):
        return False
    minutes_now = local_now.hour * 60 + local_now.minute
    horizon = SOON.total_seconds() / 60
    for entity in entities:
        if entity.kind is EntityKind.TIME:
            for key in entity.keys:
                if isinstance(key, int) and 0 <= key - minutes_now <= horizon:
                    return True
    return False


def classify(
    notification: Notification, now: datetime, repeated_callers: frozenset[str] = frozenset()
) -> tuple[Urgency, str]:
    """The urgency of one notification and the reason shown to the user."""
    text = line(notification)
    if _MISSED_CALL.search(text) and who(notification) in repeated_callers:
        return "urgent", f"repeated missed calls from {who(notification)}"
    for rule in RULES:
        if rule.urgency == "urgent" and rule.pattern.search(text):
            return rule.urgency, rule.reason
    if _time_soon(notification, now):
        return "urgent", "time soon"
    for rule in RULES:
        if rule.urgency != "urgent" and rule.pattern.search(text):
            return rule.urgency, rule.reason
    return "normal", "no urgency signal"


_ORDER: dict[Urgency, int] = {"urgent": 0, "normal": 1, "low": 2}


def rank(notifications: Sequence[Notification], now: datetime) -> list[RankedNotification]:
    """Urgent first, then normal, then low; newest first within each level."""
    calls = Counter(who(n) for n in notifications if _MISSED_CALL.search(line(n)))
    repeated = frozenset(sender for sender, count in calls.items() if count >= REPEATED_CALLS)
    ranked = [
        (n, *classify(n, now, repeated))
        for n in sorted(notifications, key=lambda n: n.timestamp, reverse=True)
    ]
    ranked.sort(key=lambda item: _ORDER[item[1]])  # stable: newest first within a level
    return [
        RankedNotification(notification_id=n.id, urgency=urgency, reason=reason)
        for n, urgency, reason in ranked
    ]
