"""The contract between a feature service and the messaging runtime.

A service supplies a `ServiceSpec` (its contracts and topics) and a lifespan that loads heavy
things once and yields a `Handler`. The runtime owns transport: decoding, idempotency, retries,
persistence, publishing, offsets. The same handler also serves `cairn batch` (no Kafka).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from schemas.envelope import Provenance, RequestEnvelope, ResultEnvelope, ResultStatus
from schemas.topics import request_topic, result_topic
from shared.config import CoreSettings
from shared.routing.budget import BudgetStore

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class HandlerResult(Generic[R]):
    """What a handler returns; the runtime wraps it in a `ResultEnvelope`.

    `subject_key` names the thing the result is about (a notification stack id, say) so a
    later request of the same tenant and user can find the latest stored state through
    `StateReader`.
    """

    status: ResultStatus
    provenance: Provenance
    result: R | None = None
    error: str | None = None
    subject_key: str | None = None
    input_text: str | None = None  # stored only where the deployment opts in; hashed always


class Handler(Protocol):
    """Turns one validated request into a result. Raise errors with `retriable` set."""

    async def __call__(self, request: RequestEnvelope[Any], /) -> HandlerResult[Any]: ...


class StateReader(Protocol):
    """Read access to stored results, for features that update earlier work incrementally.

    Reads are scoped to one tenant's user: subject keys (stack ids) are chosen by apps, so
    the same one may name another user's stack.
    """

    async def latest_output(
        self, feature: str, *, tenant_id: str, user_id: str, subject_key: str
    ) -> dict[str, Any] | None: ...


@dataclass
class ServiceContext:
    """What a service's lifespan gets to build its handler with."""

    core: CoreSettings
    state: StateReader | None = None
    # Where routing spend is kept; the runtime passes the database-backed store so every
    # replica of a service shares one budget per tenant.
    budget_store: BudgetStore | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def blob_dir(self) -> Path:
        return self.core.state_dir / "blobs"


Lifespan = Callable[[ServiceContext], AbstractAsyncContextManager[Handler]]


@dataclass(frozen=True)
class ServiceSpec(Generic[P, R]):
    """A deployable service: one feature, its contracts, its topics and its handler factory."""

    name: str
    feature: str
    request_model: type[RequestEnvelope[P]]
    result_model: type[ResultEnvelope[R]]
    lifespan: Lifespan
    input_topic: str = ""
    output_topic: str = ""

    def __post_init__(self) -> None:
        # Topics follow the naming rule unless a test or deployment overrides them.
        if not self.input_topic:
            object.__setattr__(self, "input_topic", request_topic(self.feature))
        if not self.output_topic:
            object.__setattr__(self, "output_topic", result_topic(self.feature))

    def with_topics(self, input_topic: str, output_topic: str) -> ServiceSpec[P, R]:
        return ServiceSpec(
            name=self.name,
            feature=self.feature,
            request_model=self.request_model,
            result_model=self.result_model,
            lifespan=self.lifespan,
            input_topic=input_topic,
            output_topic=output_topic,
        )


HandlerFn = Callable[[RequestEnvelope[Any]], Awaitable[HandlerResult[Any]]]
HandlerIterator = AsyncIterator[HandlerFn]
