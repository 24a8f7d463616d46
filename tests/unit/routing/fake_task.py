"""A scripted `RoutedTask` / `ImageTask` for routing tests: the local tier is not under
test here, so its behaviour is set per test."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from shared.routing import EscalationReason, GeneratedImage, LocalAttempt, RoutingSettings


class Summary(BaseModel):
    summary: str
    key_points: list[str]


class Sticker(BaseModel):
    png_b64: str
    source: str


@dataclass
class FakeTask:
    text: str = "Dinner moved to 8pm, bring the wine."
    feature: str = "summarizer"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    tenant_id: str = "tenant-a"
    consent_external: bool = True
    quality_hint: str | None = None
    locale: str = "en-US"
    local_languages: frozenset[str] | None = None
    reasons: list[EscalationReason] = field(default_factory=list)
    confidence: float | None = -0.2
    local_delay_s: float = 0.0
    local_error: BaseException | None = None
    local_none: bool = False
    escalate: EscalationReason | None = None
    reject_local: str | None = None
    reject_remote: str | None = None
    local_calls: int = 0
    local_cancelled: bool = False
    verified: list[Any] = field(default_factory=list)

    response_model = Summary

    def __post_init__(self) -> None:
        self.local_result = Summary(summary=f"local: {self.text[:40]}", key_points=["local"])

    def pre_reasons(self) -> Sequence[EscalationReason]:
        return self.reasons

    async def run_local(self) -> LocalAttempt[Summary]:
        self.local_calls += 1
        try:
            await asyncio.sleep(self.local_delay_s)
        except asyncio.CancelledError:
            self.local_cancelled = True
            raise
        if self.local_error is not None:
            raise self.local_error
        return LocalAttempt(
            result=None if self.local_none else self.local_result,
            model="local-tiny",
            confidence=self.confidence,
            prompt_tokens=12,
            completion_tokens=6,
            queue_ms=1.0,
            compute_ms=2.0,
            escalate=self.escalate,
        )

    def remote_prompt(self) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": "Summarize the notification."},
            {"role": "user", "content": self.text},
        ]

    async def verify(self, result: Summary) -> str | None:
        self.verified.append(result)
        if result is self.local_result:
            return self.reject_local
        return self.reject_remote


@dataclass
class FakeImageTask(FakeTask):
    feature: str = "emoji"
    text: str = "a cat wearing sunglasses"

    def remote_image_prompt(self) -> str:
        return f"emoji sticker: {self.text}"

    def image_result(self, image: GeneratedImage) -> Sticker:
        return Sticker(png_b64=base64.b64encode(image.png).decode(), source=image.model)

    async def run_local(self) -> LocalAttempt[Sticker]:  # type: ignore[override]
        self.local_calls += 1
        await asyncio.sleep(self.local_delay_s)
        return LocalAttempt(
            result=Sticker(png_b64="", source="retrieval"),
            model="minilm-retrieval",
            escalate=self.escalate,
        )

    async def verify(self, result: Any) -> str | None:
        return None


def routing_env_names() -> list[str]:
    """Every environment variable RoutingSettings reads."""
    return [f.alias for f in RoutingSettings.model_fields.values() if f.alias]


def make_settings(**values: Any) -> RoutingSettings:
    """Settings from explicit values (keyed by env name) over an environment the `clean_env`
    fixture emptied; no .env file."""
    defaults: dict[str, Any] = {"CAIRN_LATENCY_BUDGET_MS": 0}
    return RoutingSettings(_env_file=None, **{**defaults, **values})
