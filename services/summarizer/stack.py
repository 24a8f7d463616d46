"""A notification stack as the summariser sees it: ordered, and as plain source texts."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.summarize import Notification
from shared.verification.attribution import Message
from shared.verification.grounding import Sources


def in_time_order(notifications: Sequence[Notification]) -> list[Notification]:
    """Oldest first; equal timestamps keep the order the app sent them in."""
    return sorted(notifications, key=lambda n: n.timestamp)


def who(notification: Notification) -> str:
    """The name a reader knows the notification by: its sender, else its title."""
    return (notification.sender or notification.title).strip()


def line(notification: Notification) -> str:
    """One notification as one line of text: "Sender: body" (or "Title: body")."""
    body = " ".join(notification.body.split())
    title = notification.title.strip()
    head = who(notification)
    if notification.sender and title and title != notification.sender:
        body = f"{title} — {body}" if body else title
    return f"{head}: {body}" if head else body


def sources_of(notifications: Sequence[Notification]) -> Sources:
    """Everything a summary of these notifications may quote, and the counts it may state."""
    texts = [part for n in notifications for part in (n.sender or "", n.title, n.body) if part]
    senders = {n.sender for n in notifications if n.sender}
    messages = [Message(who(n), _said(n)) for n in notifications]
    return Sources.of(texts, counts=(len(notifications), len(senders)), messages=messages)


def _said(notification: Notification) -> str:
    """What a notification says: its body, after its title when the title is more than the
    sender's name ("Deposit due. Can you send it by Friday?")."""
    title, body = notification.title.strip(), notification.body.strip()
    if title and title != (notification.sender or "").strip() and body:
        return f"{title.rstrip('.!?')}. {body}"
    return body or title
