"""The adapter for every OpenAI-compatible tier (ChatGPT, vLLM, TGI): one endpoint, its
client, its circuit breaker and the retry loop.

The SDK client runs with `max_retries=0`: retries live here, once, so that they can consult
the breaker and be counted.
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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import openai
import pydantic
from openai import AsyncOpenAI

from shared.observability.logging import describe_error

from .breaker import CircuitBreaker
from .errors import (
    BreakerOpen,
    ProviderError,
    ProviderResponseError,
    ProviderStatusError,
    ProviderTimeout,
    ProviderTransportError,
)
from .retry import RetryPolicy
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
    ) -> None:
        if not config.configured:
            raise ValueError(f"endpoint {config.name} has no API key or model")
        self.config = config
        self.breaker = breaker
        self._retry = retry
        self._sleep = sleep
        self._on_retry = on_retry
        self._rng = rng or random.Random()
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

    async def complete(self, messages: list[ChatMessage], response_model: type[R]) -> Completion[R]:
        """Chat completion with structured output (json_schema, strict) parsed into
        `response_model`."""

        async def call() -> Completion[R]:
            started = time.perf_counter()
            completion = await self._client.chat.completions.parse(
                model=self.config.model,
                messages=messages,  # type: ignore[arg-type]
                response_format=response_model,
                max_completion_tokens=self.config.max_output_tokens,
            )
            choice = completion.choices[0] if completion.choices else None
            if choice is None:
                raise ProviderResponseError("no choices", endpoint=self.name)
            if choice.message.refusal:
                raise ProviderResponseError(
                    f"model refused: {choice.message.refusal[:200]}", endpoint=self.name
                )
            parsed = choice.message.parsed
            if parsed is None:
                raise ProviderResponseError("empty structured answer", endpoint=self.name)
            usage = completion.usage
            return Completion(
                parsed=parsed,
                model=completion.model or self.config.model,
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                http_attempts=0,
                latency_ms=(time.perf_counter() - started) * 1000,
            )

        result, attempts = await self._with_retries(call)
        return _with_attempts(result, attempts)

    async def generate_image(self, prompt: str) -> ImageAnswer:
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
                response_format="b64_json" if model.startswith("dall-e") else openai.omit,
                timeout=self.config.image_timeout_s,
            )
            data = response.data[0] if response.data else None
            if data is None or not data.b64_json:
                raise ProviderResponseError("no image data", endpoint=self.name)
            try:
                png = base64.b64decode(data.b64_json, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ProviderResponseError(f"bad base64 image: {exc}", endpoint=self.name) from exc
            usage = response.usage
            return ImageAnswer(
                image=GeneratedImage(png=png, model=model, revised_prompt=data.revised_prompt),
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
                http_attempts=0,
                latency_ms=(time.perf_counter() - started) * 1000,
            )

        result, attempts = await self._with_retries(call)
        return ImageAnswer(
            image=result.image,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            http_attempts=attempts,
            latency_ms=result.latency_ms,
        )

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        attempt = 0
        while True:
            if not self.breaker.acquire():
                raise BreakerOpen("circuit breaker open", endpoint=self.name)
            try:
                value = await call()
            except asyncio.CancelledError:
                self.breaker.release()
                raise
            except Exception as raw:
                exc = self._translate(raw)
                if _counts_against_endpoint(exc):
                    self.breaker.record_failure()
                else:
                    # The endpoint answered; the answer was unusable. Neither a failure of
                    # the endpoint nor proof of health.
                    self.breaker.release()
                if not self._retry.should_retry(exc, attempt) or not self.breaker.available():
                    raise exc from raw
                delay = self._retry.delay_s(exc, attempt, self._rng)
                log.info(
                    "%s: attempt %d failed (%s); retrying in %.2fs",
                    self.name,
                    attempt + 1,
                    describe_error(exc),
                    delay,
                )
                if self._on_retry is not None:
                    self._on_retry(self.name, exc, delay)
                await self._sleep(delay)
                attempt += 1
            else:
                self.breaker.record_success()
                return value, attempt + 1

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
