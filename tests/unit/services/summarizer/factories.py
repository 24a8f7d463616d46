"""Builders and test doubles shared by the summarizer tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.envelope import QualityHint, RequestEnvelope
from schemas.summarize import Notification, NotificationCategory, NotificationStack
from shared.inference.types import ChatMessage, Generation, GenerationParams

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def note(
    nid: str,
    body: str,
    *,
    sender: str | None = "Alice",
    minutes: int = 0,
    category: NotificationCategory = NotificationCategory.MESSAGE,
    app_id: str = "chat",
    title: str = "",
) -> Notification:
    return Notification(
        id=nid,
        app_id=app_id,
        category=category,
        sender=sender,
        title=title,
        body=body,
        timestamp=T0 + timedelta(minutes=minutes),
    )


def request(
    notifications: Sequence[Notification],
    *,
    stack_id: str = "stack-1",
    max_chars: int = 160,
    opted_out: Sequence[str] = (),
    allow_sensitive: bool = False,
    consent: bool = False,
    locale: str = "en-US",
    quality: QualityHint = QualityHint.BALANCED,
    now: datetime | None = None,
    tenant: str = "tenant-1",
    user: str = "user-1",
) -> RequestEnvelope[NotificationStack]:
    app_id = notifications[0].app_id
    return RequestEnvelope[NotificationStack](
        request_id=f"req-{stack_id}-{len(notifications)}",
        tenant_id=tenant,
        user_id=user,
        occurred_at=now or T0 + timedelta(hours=1),
        locale=locale,
        consent_external=consent,
        quality_hint=quality,
        payload=NotificationStack(
            stack_id=stack_id,
            app_id=app_id,
            notifications=list(notifications),
            opted_out_apps=list(opted_out),
            allow_sensitive_categories=allow_sensitive,
            max_summary_chars=max_chars,
        ),
    )


@dataclass
class FakeGenerator:
    """Answers with scripted texts in turn (the last one repeats) and records every prompt."""

    replies: list[str]
    max_prompt_tokens: int = 2048
    calls: list[list[ChatMessage]] = field(default_factory=list)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m.content) // 4 + 4 for m in messages)

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams = GenerationParams(),  # noqa: B008 (frozen)
        *,
        timeout_s: float | None = None,
    ) -> Generation:
        self.calls.append(list(messages))
        text = self.replies[min(len(self.calls), len(self.replies)) - 1]
        return Generation(
            text=text,
            prompt_tokens=self.count_tokens(messages),
            completion_tokens=max(1, len(text) // 4),
            mean_logprob=-0.2,
            token_logprobs=(-0.2,),
            finish_reason="stop",
            queue_ms=0.0,
            compute_ms=1.0,
            model="fake-generator",
            batch_size=1,
        )

    def last_prompt(self) -> str:
        return self.calls[-1][-1].content


StateKey = tuple[str, str, str, str]  # (feature, tenant_id, user_id, subject_key)


@dataclass
class FakeState:
    """A `StateReader` over a dict of stored result payloads, keyed like the repository."""

    stored: dict[StateKey, dict[str, Any]] = field(default_factory=dict)
    reads: list[StateKey] = field(default_factory=list)

    async def latest_output(
        self, feature: str, *, tenant_id: str, user_id: str, subject_key: str
    ) -> dict[str, Any] | None:
        key = (feature, tenant_id, user_id, subject_key)
        self.reads.append(key)
        return self.stored.get(key)
