"""The summarizer as a deployable service."""

from __future__ import annotations

from schemas.summarize import (
    NotificationStack,
    NotificationSummary,
    SummarizeRequest,
    SummarizeResult,
)
from schemas.topics import Feature
from services.summarizer.handler import lifespan
from shared.messaging.handler import ServiceSpec

SPEC: ServiceSpec[NotificationStack, NotificationSummary] = ServiceSpec(
    name="summarizer",
    feature=str(Feature.SUMMARIZE),
    request_model=SummarizeRequest,
    result_model=SummarizeResult,
    lifespan=lifespan,
)
