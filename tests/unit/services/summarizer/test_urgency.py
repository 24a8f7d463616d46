"""Rule-based urgency ranking."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.summarize import NotificationCategory
from services.summarizer.urgency import classify, rank

from .factories import T0, note


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("Your verification code is 482913", "security code or alert"),
        ("Suspicious sign-in attempt from a new device", "security code or alert"),
        ("Fraud alert: did you spend $912.40 at ACME?", "security code or alert"),
        ("Payment failed for your subscription", "payment problem"),
        ("Your card was declined at Shell", "payment problem"),
        ("Please call me back ASAP", "marked urgent"),
        ("URGENT: the server is down", "marked urgent"),
        ("Report due tomorrow, don't forget", "deadline soon"),
        ("Boarding starts in 20 minutes at gate B4", "deadline soon"),
        ("Your parcel is out for delivery", "delivery arriving"),
        ("Driver is outside with your order", "delivery arriving"),
    ],
)
def test_urgent_signals(body: str, reason: str) -> None:
    assert classify(note("n", body), T0) == ("urgent", reason)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("Spring sale: 30% off everything", "promotion"),
        ("Bob liked your photo", "social activity"),
    ],
)
def test_low_signals(body: str, reason: str) -> None:
    assert classify(note("n", body), T0) == ("low", reason)


def test_plain_message_is_normal() -> None:
    assert classify(note("n", "How was your weekend?"), T0) == ("normal", "no urgency signal")


def test_a_time_later_today_is_urgent_only_when_soon() -> None:
    meeting = note("n", "Standup moved to 10:30")  # sent 09:00 UTC on T0's day
    assert classify(meeting, T0 + timedelta(minutes=15)) == ("urgent", "time soon")
    assert classify(meeting, T0 + timedelta(hours=2))[0] == "normal"  # already past
    assert classify(note("n", "Standup moved to 4pm"), T0)[0] == "normal"  # 7 hours ahead
    assert classify(note("n", "Standup tomorrow at 10:30"), T0)[0] == "normal"  # not today
    assert classify(note("n", "Standup Monday at 10:30"), T0)[0] == "normal"


def test_repeated_missed_calls_from_one_sender_are_urgent() -> None:
    stack = [
        note("c1", "Missed call", sender="Mom", minutes=0),
        note("c2", "Missed call", sender="Mom", minutes=2),
        note("c3", "Missed call", sender="Dentist", minutes=5),
    ]
    by_id = {r.notification_id: r for r in rank(stack, T0 + timedelta(minutes=10))}
    assert by_id["c1"].urgency == by_id["c2"].urgency == "urgent"
    assert by_id["c2"].reason == "repeated missed calls from Mom"
    assert by_id["c3"].urgency == "normal"


def test_rank_puts_urgent_first_then_newest_first() -> None:
    stack = [
        note("old", "Lunch?", minutes=0),
        note("promo", "Big sale today only", minutes=1, category=NotificationCategory.OTHER),
        note("otp", "Your one-time code is 1234", minutes=2),
        note("new", "See you there", minutes=3),
    ]
    ranked = rank(stack, T0 + timedelta(hours=5))
    assert [r.notification_id for r in ranked] == ["otp", "new", "old", "promo"]
    assert [r.urgency for r in ranked] == ["urgent", "normal", "normal", "low"]
