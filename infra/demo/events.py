"""The sample app's traffic: a realistic mix of requests for the three features."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.topics import Feature

NOW = datetime.now(UTC)


def _t(minutes_ago: int) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


def _envelope(payload: dict[str, Any], user: str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": f"demo-{uuid.uuid4().hex[:12]}",
        "tenant_id": "demo-tenant",
        "user_id": user,
        "occurred_at": NOW.isoformat(),
        "locale": "en-US",
        "payload": payload,
        **extra,
    }


def notification_stack(
    stack_id: str,
    app: str,
    category: str,
    items: Sequence[tuple[str, str, str, int]],
    **extra: Any,
) -> dict[str, Any]:
    """A notification stack payload: (sender, title, body, minutes ago) per notification."""
    return {
        "stack_id": stack_id,
        "app_id": app,
        "thread_id": stack_id,
        "notifications": [
            {
                "id": f"{stack_id}-{i}",
                "app_id": app,
                "category": category,
                "thread_id": stack_id,
                "sender": sender,
                "title": title,
                "body": body,
                "timestamp": _t(minutes),
            }
            for i, (sender, title, body, minutes) in enumerate(items)
        ],
        **extra,
    }


def summarize_events() -> list[dict[str, Any]]:
    stacks = [
        notification_stack(
            "family-chat",
            "messages",
            "message",
            [
                ("Mom", "Family", "Dinner is at 7pm on Saturday at Grandma's.", 50),
                ("Dad", "Family", "I'll pick up the cake from Rosie's Bakery.", 40),
                ("Anna", "Family", "Can someone bring the folding chairs?", 20),
                ("Mom", "Family", "Please confirm by Friday so I can book the table.", 5),
            ],
        ),
        notification_stack(
            "bank-alerts",
            "bank",
            "finance",
            [
                (
                    "Bank",
                    "Card payment",
                    "Your card ending 4821 was charged $82.40 at FreshMart.",
                    30,
                ),
                (
                    "Bank",
                    "Security alert",
                    "New sign-in from Chrome on Windows. Not you? Lock your card now.",
                    3,
                ),
            ],
        ),
        notification_stack(
            "parcel-93",
            "parcels",
            "delivery",
            [
                ("Parcels", "Shipped", "Your order #A-9932 has shipped.", 600),
                (
                    "Parcels",
                    "Out for delivery",
                    "Your parcel arrives today between 2pm and 4pm.",
                    60,
                ),
            ],
        ),
        notification_stack(
            "work-standup",
            "slack",
            "message",
            [
                ("Priya", "#launch", "The launch review moved to 3:30pm today.", 25),
                ("Marco", "#launch", "I updated the pricing deck, 12 slides now.", 15),
                ("Priya", "#launch", "Urgent: legal needs the final copy before 2pm.", 2),
            ],
        ),
        notification_stack(
            "headlines",
            "newsapp",
            "news",
            [
                ("Daily News", "Breaking", "Parliament votes on the budget tonight.", 10),
                ("Daily News", "Sport", "City win the derby 2-1.", 5),
            ],
        ),
    ]
    return [_envelope(s, user=f"user-{s['stack_id']}") for s in stacks]


EMAIL = (
    "Hi Sam, i wanted to let you know that the the report is almost finish. "
    "I will send it to you tomorow morning, and we can discuss the numbers on Tuesday at 10am. "
    "Thanks for you patience!"
)


def rewrite_events() -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = [
        {"operation": "proofread", "text": EMAIL},
        {"operation": "proofread", "text": "Their going to the park tomorow, weather permiting."},
        {
            "operation": "rewrite",
            "tone": "professional",
            "text": "hey, cant make it friday, can we do monday instead? sorry!!",
        },
        {
            "operation": "rewrite",
            "tone": "friendly",
            "text": "Your request has been received and will be processed within 5 business days.",
        },
        {"operation": "rewrite", "tone": "concise", "text": EMAIL},
        {"operation": "summary", "text": EMAIL},
        {
            "operation": "key_points",
            "text": "The team agreed to ship version 2.1 on March 3. Marta owns the release "
            "notes. The budget stays at $40,000. QA starts on February 20.",
        },
        {
            "operation": "list",
            "text": "For the trip we need passports, the charger, two umbrellas and snacks "
            "for the train.",
        },
        {
            "operation": "table",
            "text": "Alice scored 91 in math and 84 in physics. Bob scored 78 in math and "
            "88 in physics.",
        },
    ]
    return [_envelope(p, user=f"writer-{i}") for i, p in enumerate(ops)]


def emoji_events() -> list[dict[str, Any]]:
    descriptions = [
        "a cat wearing sunglasses",
        "birthday cake with candles",
        "my card got charged twice",
        "dog with a party hat",
        "going to the dentist tomorrow",
        "pizza and a movie night",
    ]
    return [
        _envelope({"description": d, "count": 3, "variations": 2}, user=f"emoji-{i}")
        for i, d in enumerate(descriptions)
    ]


def all_events() -> dict[Feature, list[dict[str, Any]]]:
    return {
        Feature.SUMMARIZE: summarize_events(),
        Feature.REWRITE: rewrite_events(),
        Feature.EMOJI: emoji_events(),
    }
