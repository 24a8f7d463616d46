"""The contract between a feature handler and the router.

A handler wraps one request in a task object: the router runs its local attempt, decides
whether to escalate, and, if it does, sends the task's (redacted) prompt to the fallback
tiers. The router never sees the local model itself, only this protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from schemas.envelope import RequestEnvelope

from .reasons import EscalationReason

R = TypeVar("R", bound=BaseModel)

ChatMessage = dict[str, str]


class EnvelopeFields:
    """The routing fields of a task, read from its request envelope.

    Feature tasks inherit this and provide `envelope`; the router only reads the properties.
    """

    @property
    def envelope(self) -> RequestEnvelope[Any]:
        raise NotImplementedError

    @property
    def request_id(self) -> str:
        return self.envelope.request_id

    @property
    def tenant_id(self) -> str:
        return self.envelope.tenant_id

    @property
    def consent_external(self) -> bool:
        return self.envelope.consent_external

    @property
    def quality_hint(self) -> str | None:
        return str(self.envelope.quality_hint)

    @property
    def locale(self) -> str:
        return self.envelope.locale

    @property
    def local_languages(self) -> frozenset[str] | None:
        return None


@dataclass
class LocalAttempt(Generic[R]):
    """What the local tier produced for one request.

    `result` is None when the local tier has nothing to offer (then say why in `escalate`).
    `confidence` is the mean log-probability per generated token, when the model gives one.
    """

    result: R | None
    model: str
    confidence: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    queue_ms: float = 0.0
    compute_ms: float = 0.0
    # A reason only the task can see, e.g. NO_LOCAL_MATCH when retrieval similarity is low.
    escalate: EscalationReason | None = None
    detail: str | None = None


class TaskBase(Protocol[R]):
    """What every routed task provides; see `RoutedTask` and `ImageTask`."""

    @property
    def feature(self) -> str: ...

    @property
    def request_id(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...

    @property
    def consent_external(self) -> bool:
        """The request may be processed outside the deployment (ChatGPT)."""
        ...

    @property
    def quality_hint(self) -> str | None:
        """e.g. "fast" | "balanced" | "best"; escalates when in CAIRN_ESCALATE_QUALITY_HINTS."""
        ...

    @property
    def locale(self) -> str:
        """BCP 47 tag such as "en-US"; its language is checked against the task's
        `local_languages`, or CAIRN_LOCAL_LANGUAGES when the task declares none."""
        ...

    @property
    def local_languages(self) -> frozenset[str] | None:
        """Primary language subtags this feature's local tier serves (the emoji service:
        the locales it has indexes for); None = CAIRN_LOCAL_LANGUAGES; empty = all."""
        ...

    def pre_reasons(self) -> Sequence[EscalationReason]:
        """Reasons known before running local that only the task can judge: TOO_LONG (token
        count over the local buckets), FREEFORM_INSTRUCTION. The router adds language and
        quality-hint reasons itself."""
        ...

    async def run_local(self) -> LocalAttempt[R]:
        """Run the local model. May raise `shared.errors.Overloaded` when its queue is full.
        Do not verify here: the router calls `verify` on every candidate answer."""
        ...

    async def verify(self, result: R) -> str | None:
        """None when `result` is acceptable, else why not (unfaithful, wrong language...).
        Applied to local and remote answers alike."""
        ...


class RoutedTask(TaskBase[R], Protocol[R]):
    """A text task: the fallback answers with structured output of `response_model`."""

    @property
    def response_model(self) -> type[R]: ...

    def remote_prompt(self) -> list[ChatMessage]:
        """Chat messages for a fallback model. The router redacts them before sending and
        restores the placeholders in the parsed answer."""
        ...


@dataclass(frozen=True)
class GeneratedImage:
    """An image from a fallback tier's images API."""

    png: bytes
    model: str
    revised_prompt: str | None = None


class ImageTask(TaskBase[R], Protocol[R]):
    """An image task (Genmoji): the fallback is an images API."""

    def remote_image_prompt(self) -> str:
        """The prompt for the images API (redacted before sending, like text prompts)."""
        ...

    def image_result(self, image: GeneratedImage) -> R:
        """Wrap the generated image into the task's result type."""
        ...
