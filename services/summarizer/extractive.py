"""Extractive summaries: the notifications' own sentences, urgent first, within the cap.

The fallback that is always available and always faithful: it quotes the sources (sender
and a sentence of each), so the faithfulness guard passes by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.summarize import Notification, RankedNotification
from services.summarizer.stack import line, who
from services.summarizer.text import cap, sentences

SEPARATOR = " "


def _piece(notification: Notification) -> str:
    """Who, and the first sentence of what they wrote, ending in punctuation."""
    first = next(iter(sentences(notification.body)), "") or notification.title.strip()
    head = who(notification)
    piece = f"{head}: {first}" if head and first else head or first
    return piece if piece[-1:] in ".!?…" else piece + "."


def single(notification: Notification, max_chars: int) -> str:
    """A one-notification stack needs no summary: the notification itself, capped."""
    return cap(line(notification), max_chars)


def summarise(
    notifications: Sequence[Notification], ranked: Sequence[RankedNotification], max_chars: int
) -> str:
    """Pick sentences in rank order until the cap is full; show urgent ones first, then the
    rest in time order so the result still reads as a story."""
    by_id = {n.id: n for n in notifications}
    position = {n.id: i for i, n in enumerate(notifications)}
    chosen: list[tuple[RankedNotification, str]] = []
    used = 0
    seen: set[str] = set()
    for item in ranked:
        piece = _piece(by_id[item.notification_id])
        if piece.lower() in seen:
            continue  # "Missed call." three times says nothing twice
        if not chosen and len(piece) > max_chars:
            piece = cap(piece, max_chars)
        extra = len(piece) + (len(SEPARATOR) if chosen else 0)
        if used + extra > max_chars:
            continue
        chosen.append((item, piece))
        seen.add(piece.lower())
        used += extra
    chosen.sort(key=lambda c: (c[0].urgency != "urgent", position[c[0].notification_id]))
    return SEPARATOR.join(piece for _, piece in chosen)
