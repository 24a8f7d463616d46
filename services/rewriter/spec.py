"""The deployable rewriter service: its contracts, topics and lifespan."""

from __future__ import annotations

from schemas.rewrite import RewriteRequest, RewriteResult, WritingRequest, WritingResult
from schemas.topics import Feature
from services.rewriter.handler import lifespan
from shared.messaging.handler import ServiceSpec

SPEC: ServiceSpec[WritingRequest, WritingResult] = ServiceSpec(
    name="rewriter",
    feature=str(Feature.REWRITE),
    request_model=RewriteRequest,
    result_model=RewriteResult,
    lifespan=lifespan,
)
