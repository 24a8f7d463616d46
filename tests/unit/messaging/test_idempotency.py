"""The request fingerprint: equal for a retry of the same request, different for any change
that could change the answer, and blind to nothing that tells two texts apart."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.envelope import IDEMPOTENCY_CONFLICT, ResultStatus
from schemas.rewrite import RewriteRequest
from shared.messaging.handling import result_document
from shared.messaging.idempotency import (
    canonical_request,
    conflict_result,
    request_fingerprint,
    result_key,
)
from shared.persistence.repository import ResultKey

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
TEXT = "Könnten Sie mir bitte die Unterlagen schicken?"
TRACE = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "request_id": "req-1",
        "tenant_id": "tenant-a",
        "user_id": "user-a",
        "occurred_at": T0.isoformat(),
        "payload": {"text": TEXT, "operation": "proofread"},
    }
    base.update(changes)
    return base


def fp(raw: dict[str, Any], feature: str = "rewrite") -> str:
    return request_fingerprint(feature, RewriteRequest.model_validate(raw))


def test_a_retry_with_new_timestamp_and_trace_has_the_same_fingerprint() -> None:
    retry = event(occurred_at=(T0 + timedelta(minutes=3)).isoformat(), trace=TRACE)
    assert fp(retry) == fp(event())
    canonical = canonical_request("rewrite", RewriteRequest.model_validate(retry))
    assert "occurred_at" not in canonical and "trace" not in canonical
    assert "request_id" not in json.loads(canonical)


def test_spelled_out_defaults_fingerprint_like_omitted_ones() -> None:
    assert fp(event(locale="en-US", consent_external=False, quality_hint="balanced")) == fp(event())


@pytest.mark.parametrize(
    "changes",
    [
        {"tenant_id": "tenant-b"},
        {"user_id": "user-b"},
        {"user_id": "USER-A"},
        {"locale": "de-DE"},
        {"consent_external": True},
        {"quality_hint": "best"},
        {"payload": {"text": TEXT.replace("?", "!"), "operation": "proofread"}},
        {"payload": {"text": TEXT, "operation": "rewrite", "tone": "friendly"}},
        {"payload": {"text": TEXT, "operation": "summary"}},
        {"payload": {"text": "書類を送っていただけますか?", "operation": "proofread"}},
    ],
)
def test_anything_that_can_change_the_answer_changes_the_fingerprint(
    changes: dict[str, Any],
) -> None:
    assert fp(event(**changes)) != fp(event())


def test_the_feature_is_part_of_the_fingerprint() -> None:
    assert fp(event(), "rewrite") != fp(event(), "emoji")


def test_texts_are_hashed_as_sent_with_no_normalisation() -> None:
    composed = "Café Müller"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    variants = [composed, decomposed, composed + " ", composed.lower(), composed.upper()]
    prints = {fp(event(payload={"text": t, "operation": "proofread"})) for t in variants}
    assert len(prints) == len(variants)


def test_the_key_is_tenant_feature_and_the_id_as_sent() -> None:
    request = RewriteRequest.model_validate(event(request_id="REQ-1"))
    assert result_key("rewrite", request) == ResultKey("tenant-a", "rewrite", "REQ-1")


def test_the_conflict_result_is_a_valid_failed_envelope_without_an_answer() -> None:
    from services.rewriter.spec import SPEC

    request = RewriteRequest.model_validate(event(trace=TRACE))
    doc = result_document(SPEC, request, conflict_result(1.5))
    assert doc["status"] == ResultStatus.FAILED.value == "failed"
    assert doc["error"] == IDEMPOTENCY_CONFLICT == "idempotency_conflict"
    assert doc["result"] is None
    assert doc["provenance"]["degraded_reason"] == IDEMPOTENCY_CONFLICT
    assert doc["provenance"]["tier"] == "runtime" and doc["provenance"]["cost_usd"] == 0
    # Addressed to the request that asked, never to the stored one's owner.
    assert (doc["request_id"], doc["tenant_id"], doc["user_id"]) == (
        "req-1",
        "tenant-a",
        "user-a",
    )
    assert doc["trace"]["traceparent"] == TRACE["traceparent"]
