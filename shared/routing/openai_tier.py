"""The adapter for every OpenAI-compatible tier (ChatGPT, vLLM, TGI): one endpoint, its
client, its circuit breaker, its budget meter and the retry loop.

The SDK client runs with `max_retries=0`: retries live here, once (tenacity, with the
policy of `retry.py`), so that they can consult the breaker, reserve budget per attempt and
be counted. Each attempt: reserve its estimate, take a breaker permit, send, then settle the
reservation with the usage the provider reported, even when the answer is then unusable.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import openai
import pydantic
from openai import AsyncOpenAI
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from .breaker import CircuitBreaker
from .budget import Meter, Usage
from .errors import (
    BreakerOpen,
    BudgetExhausted,
    ProviderError,
    ProviderResponseError,
    ProviderStatusError,
    ProviderTimeout,
    ProviderTransportError,
)
from .retry import AttemptLedger, RetryPolicy
from .settings import EndpointConfig
from .task import ChatMessage, GeneratedImage, R

log = logging.getLogger(__name__)

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
# (endpoint, error, delay_s) for each retry, e.g. to count retries in metrics.
RetryListener = Callable[[str, ProviderError, float], None]


@dataclass(frozen=True)
class Completion(Generic[R]):
    """A structured answer parsed into the task's model, with the usage the API reported."""

    parsed: R
    model: str
    prompt_tokens: int
    completion_tokens: int
    http_attempts: int
    latency_ms: float


@dataclass(frozen=True)
class ImageAnswer:
    image: GeneratedImage
    input_tokens: int
    output_tokens: int
    http_attempts: int
    latency_ms: float


class _Billed(Exception):
    """An unusable answer the provider still billed: the error, with the usage reported."""

    def __init__(self, error: ProviderError, usage: Usage) -> None:
        super().__init__(str(error))
        self.error = error
        self.usage = usage


@dataclass(frozen=True)
class ModerationVerdict:
    """What the moderation endpoint said about one input."""

    flagged: bool
    # The wire names of the categories that were hit ("violence", "self-harm/intent").
    categories: tuple[str, ...]
    model: str
    http_attempts: int


class OpenAITier:
    """One OpenAI-compatible endpoint."""

    def __init__(
        self,
        config: EndpointConfig,
        *,
        retry: RetryPolicy,
        breaker: CircuitBreaker,
        sleep: Sleep = asyncio.sleep,
        on_retry: RetryListener | None = None,
        rng: random.Random | None = None,
        ledger: AttemptLedger | None = None,
    ) -> None:
        if not config.configured:
            raise ValueError(f"endpoint {config.name} has no API key or model")
        self.config = config
        self.breaker = breaker
        self._retry = retry
        self._sleep = sleep
        self._on_retry = on_retry
        self._rng = rng or random.Random()
        self.ledger = ledger or AttemptLedger()
        self._client = AsyncOpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=0,
        )

    @property
    def name(self) -> str:
        return self.config.name

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(
        self,
        messages: list[ChatMessage],
        response_model: type[R],
        *,
        key: Hashable | None = None,
        meter: Meter | None = None,
    ) -> Completion[R]:
        """Chat completion with structured output (json_schema, strict) parsed into
        `response_model`. `key` names the request across re-runs (see `AttemptLedger`)."""

        async def call() -> Completion[R]:
            started = time.perf_counter()
            raw = await self._client.chat.completions.with_raw_response.parse(
                model=self.config.model,
                messages=messages,  # type: ignore[arg-type]
                response_format=response_model,
                max_completion_tokens=self.config.max_output_tokens,
            )
            body = _json_body(raw.http_response)
            usage = _chat_usage(body)
            try:
                completion = raw.parse()
                choice = completion.choices[0] if completion.choices else None
                if choice is None:
                    raise ProviderResponseError("no choices", endpoint=self.name)
                if choice.message.refusal:
                    raise ProviderResponseError("model refused", endpoint=self.name)
                parsed = choice.message.parsed
                if parsed is None:
                    raise ProviderResponseError("empty structured answer", endpoint=self.name)
            except Exception as exc:
                if usage is None:
                    raise
                raise _Billed(self._translate(exc), usage) from exc
            model = completion.model or self.config.model
            return Completion(
                parsed=parsed,
                model=model,
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                http_attempts=0,
                latency_ms=(time.perf_counter() - started) * 1000,
            )

        result, attempts = await self._with_retries(
            call,
            key=key,
            meter=meter,
            usage_of=lambda r: Usage(r.prompt_tokens, r.completion_tokens),
        )
        return _with_attempts(result, attempts)

    async def generate_image(
        self, prompt: str, *, key: Hashable | None = None, meter: Meter | None = None
    ) -> ImageAnswer:
        """One PNG from the images API (`b64_json`)."""
        model = self.config.image_model
        if not model:
            raise ProviderResponseError("no image model configured", endpoint=self.name)

        async def call() -> ImageAnswer:
            started = time.perf_counter()
            # DALL-E models need response_format; GPT image models always answer b64_json
            # and reject the parameter.
            response = await self._client.images.generate(
                model=model,
                prompt=prompt,
                n=1,
                size=self.config.image_size,
                quality=self.config.image_quality or openai.omit,  # type: ignore[arg-type]
                response_format="b64_json" if model.startswith("dall-e") else openai.omit,
                timeout=self.config.image_timeout_s,
            )
            raw_usage = response.usage
            usage = Usage(
                prompt_tokens=raw_usage.input_tokens if raw_usage else 0,
                completion_tokens=raw_usage.output_tokens if raw_usage else 0,
                images=len(response.data or []),
            )
            data = response.data[0] if response.data else None
            if data is None or not data.b64_json:
                raise _Billed(ProviderResponseError("no image data", endpoint=self.name), usage)
            try:
                png = base64.b64decode(data.b64_json, validate=True)
            except (binascii.Error, ValueError) as exc:
                error = ProviderResponseError(f"bad base64 image: {exc}", endpoint=self.name)
                raise _Billed(error, usage) from exc
            return ImageAnswer(
                image=GeneratedImage(png=png, model=model, revised_prompt=data.revised_prompt),
                input_tokens=usage.prompt_tokens,
                output_tokens=usage.completion_tokens,
                http_attempts=0,
                latency_ms=(time.perf_counter() - started) * 1000,
            )

        result, attempts = await self._with_retries(
            call,
            key=key,
            meter=meter,
            usage_of=lambda r: Usage(r.input_tokens, r.output_tokens, images=1),
        )
        return ImageAnswer(
            image=result.image,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            http_attempts=attempts,
            latency_ms=result.latency_ms,
        )

    async def moderate(self, text: str) -> ModerationVerdict:
        """The moderation endpoint's verdict on `text` (retried and breaker-guarded like
        every call here); raises ProviderError when no verdict could be had."""
        model = self.config.moderation_model
        if not model:
            raise ProviderResponseError("no moderation model configured", endpoint=self.name)

        async def call() -> ModerationVerdict:
            response = await self._client.moderations.create(model=model, input=text)
            if not response.results:
                raise ProviderResponseError("no moderation result", endpoint=self.name)
            result = response.results[0]
            hits = result.categories.model_dump(by_alias=True)
            return ModerationVerdict(
                flagged=bool(result.flagged),
                categories=tuple(sorted(name for name, hit in hits.items() if hit)),
                model=response.model or model,
                http_attempts=0,
            )

        verdict, attempts = await self._with_retries(call)
        return ModerationVerdict(verdict.flagged, verdict.categories, verdict.model, attempts)

    async def _with_retries(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        key: Hashable | None = None,
        meter: Meter | None = None,
        usage_of: Callable[[T], Usage] | None = None,
    ) -> tuple[T, int]:
        """Run `call` under the retry policy; returns its value and the HTTP attempts made.

        Attempts count against `key` in the ledger, so a request re-run (by the runtime's
        handler retries, say) never gets more than `max_attempts` provider calls in all.
        """
        ledger_key: Hashable = key if key is not None else object()
        policy = self._retry
        sent = 0

        def used() -> int:
            return self.ledger.used(ledger_key)

        def retry(exc: BaseException) -> bool:
            return policy.should_retry(exc, max(0, used() - 1))

        def stop(state: RetryCallState) -> bool:
            # The total bound counts from the request's first attempt, re-runs included.
            return (
                used() >= policy.max_attempts
                or not self.breaker.available()
                or self.ledger.elapsed_s(ledger_key) + state.upcoming_sleep >= policy.max_total_s
            )

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            delay = state.upcoming_sleep
            log.info(
                "%s: attempt %d failed (%s); retrying in %.2fs",
                self.name,
                used(),
                type(exc).__name__,
                delay,
            )
            if self._on_retry is not None and isinstance(exc, ProviderError):
                self._on_retry(self.name, exc, delay)

        async def attempt() -> T:
            nonlocal sent
            if self.ledger.closed(ledger_key) or used() >= policy.max_attempts:
                raise ProviderError(
                    f"no attempts left for this request ({used()} made)", endpoint=self.name
                )
            if meter is not None:
                await meter.before_attempt()
            permit = self.breaker.acquire()
            if permit is None:
                if meter is not None:
                    await meter.not_billed()
                raise BreakerOpen("circuit breaker open", endpoint=self.name)
            self.ledger.add(ledger_key)
            sent += 1
            try:
                value = await call()
            except asyncio.CancelledError:
                self.breaker.release(permit)
                if meter is not None:
                    meter.unknown()
                raise
            except _Billed as billed:
                # The endpoint answered and billed; the answer was unusable. Neither a
                # failure of the endpoint nor proof of health.
                self.breaker.release(permit)
                if meter is not None:
                    await meter.billed(billed.usage)
                raise billed.error from billed
            except Exception as raw:
                exc = self._translate(raw)
                if _counts_against_endpoint(exc):
                    self.breaker.record_failure(permit)
                else:
                    self.breaker.release(permit)
                if meter is not None:
                    if _maybe_billed(exc):
                        meter.unknown()
                    else:
                        await meter.not_billed()
                raise exc from raw
            self.breaker.record_success(permit)
            if meter is not None and usage_of is not None:
                await meter.billed(usage_of(value))
            return value

        retrying = AsyncRetrying(
            stop=stop,
            wait=policy.wait(),
            retry=retry_if_exception(retry),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async for try_ in retrying:
                with try_:
                    value = await attempt()
        except (ProviderError, BudgetExhausted):
            if sent:
                # Given up after sending: this was the request's one retry loop.
                self.ledger.close(ledger_key)
            raise
        return value, sent

    def _translate(self, exc: Exception) -> ProviderError:
        """SDK and parsing exceptions -> our tree (transport vs status vs response)."""
        name = self.name
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeout("timed out", endpoint=name)
        if isinstance(exc, openai.APIConnectionError):
            return ProviderTransportError(f"connection failed: {exc}", endpoint=name)
        if isinstance(exc, openai.APIStatusError):
            return ProviderStatusError(
                _error_message(exc),
                endpoint=name,
                status=exc.status_code,
                retry_after_s=retry_after_s(exc.response.headers),
                retriable=_should_retry_header(exc.response.headers),
            )
        if isinstance(exc, openai.LengthFinishReasonError):
            return ProviderResponseError("answer truncated (max tokens)", endpoint=name)
        if isinstance(exc, openai.ContentFilterFinishReasonError):
            return ProviderResponseError("answer blocked by content filter", endpoint=name)
        if isinstance(exc, (json.JSONDecodeError, pydantic.ValidationError, ValueError)):
            return ProviderResponseError(f"malformed answer: {_short(exc)}", endpoint=name)
        if isinstance(exc, openai.APIError):
            return ProviderResponseError(f"unexpected response: {_short(exc)}", endpoint=name)
        if isinstance(exc, OSError):
            return ProviderTransportError(f"transport: {_short(exc)}", endpoint=name)
        return ProviderResponseError(
            f"unexpected {type(exc).__name__}: {_short(exc)}", endpoint=name
        )


def _with_attempts(result: Completion[R], attempts: int) -> Completion[R]:
    return Completion(
        parsed=result.parsed,
        model=result.model,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        http_attempts=attempts,
        latency_ms=result.latency_ms,
    )


def _maybe_billed(exc: ProviderError) -> bool:
    """No usage came back, yet the provider may have done (and billed) the work: a timeout
    after the request was sent, or a 200 whose body could not be read."""
    return isinstance(exc, (ProviderTimeout, ProviderResponseError))


def _json_body(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _chat_usage(body: Any) -> Usage | None:
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    try:
        return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None


def _counts_against_endpoint(exc: ProviderError) -> bool:
    """Failures that say the endpoint is unwell: transport errors, 408/409/429/5xx, and
    auth failures (every call will fail until someone fixes the key)."""
    if isinstance(exc, ProviderTransportError):
        return True
    if isinstance(exc, ProviderStatusError):
        return exc.retriable or exc.status in (401, 403)
    return False


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, `retry-after` (seconds or an HTTP date)."""
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    value = headers.get("retry-after")
    if value:
        parsed = email.utils.parsedate_tz(value)
        if parsed is not None:
            return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))
    return None


def _should_retry_header(headers: Mapping[str, str]) -> bool | None:
    # The server may say explicitly whether a retry can help.
    value = headers.get("x-should-retry")
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("error", {})
        if isinstance(message, dict):
            message = message.get("message")
        if isinstance(message, str):
            return message[:200]
    return _short(exc)


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
