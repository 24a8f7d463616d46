"""Idempotency scoped like a public API: the key, the request's fingerprint, the conflict.

A request is identified by (tenant_id, feature, request_id). The same key with the same
content is a replay (a redelivery, a producer retry, an app resending): it gets the stored
result again, with no compute. The same key with other content is a client error, an
*idempotency conflict*: it gets a `failed` result whose error is `idempotency_conflict`, never
the stored answer (it belongs to another request), and nothing is stored over the original.

The fingerprint is a SHA-256 over a canonical JSON of what defines the answer:

- `feature`, `tenant_id`, `user_id`: who the answer is for. The same id from another user of
  the tenant is not a replay, so it can never receive that user's result.
- `payload`: the text, notifications or description, and their options.
- `locale`, `consent_external`, `quality_hint`: each changes the answer (the language
  handling, whether the fallback tier may run, the routing preference).
- `schema_version`: a later contract version is another request.

Left out on purpose: `occurred_at` and `trace`. A retry re-stamps them (a new attempt, a new
span) while asking the same thing; including them would turn every honest retry into a
conflict. `request_id` is left out because it is already in the key.

The JSON is built from the validated envelope (defaults filled in), so an event that spells
out a default (`"locale": "en-US"`) and one that omits it fingerprint alike. Strings are
hashed as received: no case folding, trimming or Unicode normalisation, which could merge two
different texts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from schemas.envelope import IDEMPOTENCY_CONFLICT, Provenance, RequestEnvelope, ResultStatus
from shared.messaging.handler import HandlerResult
from shared.persistence.repository import ResultKey

FINGERPRINT_FIELDS = frozenset(
    {"schema_version", "tenant_id", "user_id", "locale", "consent_external", "quality_hint"}
)
# What the conflict result names as its producer: the runtime, before any handler ran.
CONFLICT_TIER = "runtime"
CONFLICT_MODEL = "idempotency-check"


def result_key(feature: str, request: RequestEnvelope[Any]) -> ResultKey:
    return ResultKey(tenant_id=request.tenant_id, feature=feature, request_id=request.request_id)


def canonical_request(feature: str, request: RequestEnvelope[Any]) -> str:
    """The canonical JSON the fingerprint is taken over (sorted keys, no spaces, UTF-8)."""
    document = request.model_dump(mode="json", include=set(FINGERPRINT_FIELDS | {"payload"}))
    document["feature"] = feature
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_fingerprint(feature: str, request: RequestEnvelope[Any]) -> str:
    return hashlib.sha256(canonical_request(feature, request).encode("utf-8")).hexdigest()


def conflict_result(latency_ms: float) -> HandlerResult[Any]:
    """The answer to a request that reuses a stored key with other content."""
    return HandlerResult(
        status=ResultStatus.FAILED,
        provenance=Provenance(
            tier=CONFLICT_TIER,
            model=CONFLICT_MODEL,
            verified=False,
            degraded_reason=IDEMPOTENCY_CONFLICT,
            latency_ms=latency_ms,
        ),
        error=IDEMPOTENCY_CONFLICT,
    )
