"""Cairn's public event contracts (pydantic v2)."""

from schemas.emoji import EmojiGenRequest, EmojiGenResult, EmojiRequest, EmojiResult
from schemas.envelope import (
    Provenance,
    QualityHint,
    RequestEnvelope,
    ResultEnvelope,
    ResultStatus,
    TraceContext,
)
from schemas.rewrite import RewriteRequest, RewriteResult, WritingRequest, WritingResult
from schemas.summarize import (
    NotificationStack,
    NotificationSummary,
    SummarizeRequest,
    SummarizeResult,
)
from schemas.topics import DLQ_TOPIC, Feature, request_topic, result_topic

__all__ = [
    "DLQ_TOPIC",
    "EmojiGenRequest",
    "EmojiGenResult",
    "EmojiRequest",
    "EmojiResult",
    "Feature",
    "NotificationStack",
    "NotificationSummary",
    "Provenance",
    "QualityHint",
    "RequestEnvelope",
    "ResultEnvelope",
    "ResultStatus",
    "RewriteRequest",
    "RewriteResult",
    "SummarizeRequest",
    "SummarizeResult",
    "TraceContext",
    "WritingRequest",
    "WritingResult",
    "request_topic",
    "result_topic",
]
