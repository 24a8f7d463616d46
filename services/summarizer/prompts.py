"""Prompts for the local model and the remote fallback.

The local model (a 0.5B coder model by default) misreads long instructions, so its prompt is
short, shows one worked example and asks for one sentence; the guard and the extractive
fallback catch what it still gets wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.summarize import Notification
from services.summarizer.stack import line
from shared.inference.types import ChatMessage

SYSTEM = (
    "You summarize phone notifications in one short sentence: who did or wants what. "
    "Write in the third person and name people exactly as the notifications do. "
    "Use only names, numbers, times and dates that appear in the notifications."
)
STRICT = (
    " Your last summary was rejected ({problem}). Mention only what the notifications say, "
    "and copy every name, number and time exactly as written."
)
# Two senders, because threads are conversations; measured on DialogSum dev, this example and
# the third-person instruction beat both no example and a one-sender example.
_EXAMPLE_IN = (
    "Notifications:\n"
    "- Dana: Are we still on for lunch on Friday?\n"
    "- Sam: Yes! I booked a table at Luigi's for 12:30.\n"
    "- Dana: Great, see you there."
)
_EXAMPLE_OUT = "Sam booked a table at Luigi's for lunch with Dana on Friday at 12:30."
# What the model was told: none of these phrases may reach a published summary. (A copied
# worked example is caught by the fact check: its names and times are not in the stack.)
INSTRUCTIONS = (SYSTEM, STRICT)


def _listing(notifications: Sequence[Notification]) -> str:
    return "\n".join(f"- {line(n)}" for n in notifications)


def user_text(notifications: Sequence[Notification], previous: str | None = None) -> str:
    """The stack as the model reads it; with `previous`, only what is new since that summary."""
    if previous is None:
        return f"Notifications:\n{_listing(notifications)}"
    return f"Earlier summary: {previous}\nNew notifications:\n{_listing(notifications)}"


def local_messages(
    notifications: Sequence[Notification],
    max_chars: int,
    previous: str | None = None,
    rejected: str | None = None,
) -> list[ChatMessage]:
    """Few-shot chat for the local model; `rejected` (why the last draft failed) makes it the
    stricter retry."""
    system = SYSTEM + f" At most {max_chars} characters."
    if rejected:
        system += STRICT.format(problem=rejected)
    return [
        ChatMessage("system", system),
        ChatMessage("user", _EXAMPLE_IN),
        ChatMessage("assistant", _EXAMPLE_OUT),
        ChatMessage("user", user_text(notifications, previous)),
    ]


def remote_messages(
    notifications: Sequence[Notification], max_chars: int, previous: str | None = None
) -> list[dict[str, str]]:
    """OpenAI chat messages; the answer is parsed into `SummaryDraft`."""
    system = (
        f"{SYSTEM} At most {max_chars} characters. Put the most urgent item first. "
        "Answer with the summary only, in the language of the notifications."
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": user_text(notifications, previous)},
    ]
