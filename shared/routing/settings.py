"""Routing settings: the tier chain, the fallback endpoints, policy thresholds and budgets.

Every variable is declared once here. Lists are comma-separated (`CAIRN_TIERS=local,openai`);
the price table is JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from shared.config import CairnBaseSettings

from . import constants as c


class ModelPrice(BaseModel):
    """USD list price of one model."""

    model_config = {"frozen": True}

    input_per_mtok: float = Field(0.0, ge=0)
    output_per_mtok: float = Field(0.0, ge=0)
    per_image: float = Field(0.0, ge=0)
    # Per image by "<quality>:<size>" or "<size>"; `per_image` when nothing here matches.
    images: dict[str, float] = Field(default_factory=dict)

    def image_price(self, size: str | None, quality: str | None) -> float:
        """USD for one image; an unknown quality costs as the dearest of its size."""
        if size and quality and f"{quality}:{size}" in self.images:
            return self.images[f"{quality}:{size}"]
        if size and size in self.images:
            return self.images[size]
        same_size = [v for k, v in self.images.items() if size and k.endswith(f":{size}")]
        if same_size:
            return max(same_size)
        if self.per_image or not self.images:
            return self.per_image
        return max(self.images.values())


@dataclass(frozen=True)
class EndpointConfig:
    """One OpenAI-compatible tier, as the adapter needs it."""

    name: str
    base_url: str | None
    api_key: str | None
    model: str
    image_model: str | None
    image_size: str
    image_quality: str | None
    timeout_s: float
    image_timeout_s: float
    max_output_tokens: int
    # External = outside the deployment: needs consent, is metered against tenant budgets.
    external: bool
    # Asked before every images call; None = the tier cannot moderate, so it draws nothing.
    moderation_model: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.api_key) and bool(self.model)


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip().lower() for part in value.split(",") if part.strip())
    return value


CsvTuple = Annotated[tuple[str, ...], NoDecode]


class RoutingSettings(CairnBaseSettings):
    """How requests move between the local model and the fallback tiers."""

    tiers: CsvTuple = Field(
        (c.LOCAL_TIER, c.OPENAI_TIER),
        alias="CAIRN_TIERS",
        description="Tier chain in escalation order: local, selfhosted, openai.",
    )

    openai_api_key: SecretStr | None = Field(
        None,
        alias="OPENAI_API_KEY",
        description="Key of the ChatGPT tier (secret; never logged); unset = no fallback.",
    )
    openai_base_url: AnyHttpUrl | None = Field(
        None, alias="OPENAI_BASE_URL", description="OpenAI API base URL; unset = the SDK's default."
    )
    openai_model: str = Field(
        c.DEFAULT_OPENAI_MODEL,
        alias="OPENAI_MODEL",
        description="Chat model of the ChatGPT tier (structured outputs).",
    )
    openai_image_model: str = Field(
        c.DEFAULT_OPENAI_IMAGE_MODEL,
        alias="OPENAI_IMAGE_MODEL",
        description="Image model of the sticker fallback.",
    )
    openai_image_size: str = Field(
        c.DEFAULT_IMAGE_SIZE,
        alias="OPENAI_IMAGE_SIZE",
        description="Size asked of the image model.",
    )
    openai_image_quality: str | None = Field(
        None,
        alias="OPENAI_IMAGE_QUALITY",
        description="Image quality asked for (low, medium, high; unset: the API's default, "
        "priced as the dearest).",
    )
    openai_moderation_model: str = Field(
        c.DEFAULT_OPENAI_MODERATION_MODEL,
        min_length=1,
        alias="OPENAI_MODERATION_MODEL",
        description="Moderation model asked before every images call; a flagged prompt is "
        "refused, and a failed moderation call means no image is generated.",
    )
    openai_timeout_s: float = Field(
        c.DEFAULT_TIMEOUT_S,
        gt=0,
        alias="OPENAI_TIMEOUT_S",
        description="Timeout of one chat call to OpenAI.",
    )
    openai_image_timeout_s: float = Field(
        c.DEFAULT_IMAGE_TIMEOUT_S,
        gt=0,
        alias="OPENAI_IMAGE_TIMEOUT_S",
        description="Timeout of one image call to OpenAI.",
    )

    selfhosted_base_url: AnyHttpUrl | None = Field(
        None,
        alias="SELFHOSTED_BASE_URL",
        description="OpenAI-compatible endpoint (vLLM, TGI) of the selfhosted tier.",
    )
    selfhosted_model: str | None = Field(
        None, alias="SELFHOSTED_MODEL", description="Model name the self-hosted endpoint serves."
    )
    selfhosted_api_key: SecretStr | None = Field(
        None,
        alias="SELFHOSTED_API_KEY",
        description="Key of the self-hosted endpoint, if it wants one (secret).",
    )
    selfhosted_timeout_s: float = Field(
        c.DEFAULT_TIMEOUT_S,
        gt=0,
        alias="SELFHOSTED_TIMEOUT_S",
        description="Timeout of one call to the self-hosted endpoint.",
    )
    # Inside the deployment's trust boundary: no consent needed, not metered. Off by default,
    # so a self-hosted endpoint is treated like any third party until someone says otherwise.
    selfhosted_internal: bool = Field(
        False,
        alias="SELFHOSTED_INTERNAL",
        description="Inside the trust boundary: no consent needed, not metered.",
    )

    max_output_tokens: int = Field(
        c.DEFAULT_MAX_OUTPUT_TOKENS,
        ge=16,
        alias="CAIRN_FALLBACK_MAX_OUTPUT_TOKENS",
        description="Cap on tokens a fallback answer may use.",
    )
    max_retries: int = Field(
        c.DEFAULT_MAX_RETRIES,
        ge=0,
        le=10,
        alias="CAIRN_FALLBACK_MAX_RETRIES",
        description="HTTP retries per fallback call (honours Retry-After).",
    )
    breaker_failures: int = Field(
        c.DEFAULT_BREAKER_FAILURES,
        ge=1,
        alias="CAIRN_BREAKER_FAILURES",
        description="Consecutive failures that open an endpoint's circuit breaker.",
    )
    breaker_cooldown_s: float = Field(
        c.DEFAULT_BREAKER_COOLDOWN_S,
        gt=0,
        alias="CAIRN_BREAKER_COOLDOWN_S",
        description="How long an open breaker waits before a trial call.",
    )

    min_mean_logprob: float = Field(
        c.DEFAULT_MIN_MEAN_LOGPROB,
        alias="CAIRN_MIN_MEAN_LOGPROB",
        description="Local answers below this mean log-prob escalate (low_confidence).",
    )
    latency_budget_ms: float = Field(
        c.DEFAULT_LATENCY_BUDGET_MS,
        ge=0,
        alias="CAIRN_LATENCY_BUDGET_MS",
        description="Local tier's time before a fallback is tried (local_overload).",
    )
    hedging: bool = Field(
        False,
        alias="CAIRN_HEDGING",
        description="Past the latency budget, race local and fallback; first good one wins.",
    )
    local_languages: CsvTuple = Field(
        c.DEFAULT_LOCAL_LANGUAGES,
        alias="CAIRN_LOCAL_LANGUAGES",
        description="Languages (primary subtags) the local tier serves for features that do "
        "not declare their own; other locales escalate as unsupported_language. Empty = all. "
        "The emoji service declares the locales it has indexes for (EMOJI_LOCALES).",
    )
    escalate_quality_hints: CsvTuple = Field(
        c.DEFAULT_ESCALATE_QUALITY_HINTS,
        alias="CAIRN_ESCALATE_QUALITY_HINTS",
        description="quality_hint values that escalate to a fallback tier.",
    )

    tenant_daily_tokens: int | None = Field(
        None,
        ge=0,
        alias="CAIRN_TENANT_DAILY_TOKENS",
        description="Daily fallback token cap per tenant; unset = no cap.",
    )
    tenant_daily_usd: float | None = Field(
        None,
        ge=0,
        alias="CAIRN_TENANT_DAILY_USD",
        description="Daily fallback spend cap per tenant in USD; unset = no cap.",
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        alias="CAIRN_PRICES",
        description="JSON price table per model, merged over the built-in list prices.",
    )
    # Off: an external model missing from the price table is not called (`unpriced_model`),
    # so no spend goes unmetered.
    allow_unpriced: bool = Field(
        False,
        alias="CAIRN_ALLOW_UNPRICED_MODELS",
        description="Call external models missing from the price table (charged tokens, "
        "0 USD); off: they are skipped as unpriced_model.",
    )

    _split = field_validator("tiers", "local_languages", "escalate_quality_hints", mode="before")(
        _split_csv
    )

    @field_validator("prices", mode="before")
    @classmethod
    def _prices_json(cls, value: Any) -> Any:
        # The environment source decodes JSON itself; explicit strings (tests, CLI) do not.
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("prices", mode="after")
    @classmethod
    def _merge_default_prices(cls, value: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        merged = {name: ModelPrice.model_validate(p) for name, p in c.DEFAULT_PRICES.items()}
        merged.update(value)
        return merged

    @model_validator(mode="after")
    def _check(self) -> RoutingSettings:
        unknown = [t for t in self.tiers if t not in c.KNOWN_TIERS]
        if unknown:
            raise ValueError(f"CAIRN_TIERS: unknown tier(s) {unknown}; known: {c.KNOWN_TIERS}")
        if len(set(self.tiers)) != len(self.tiers):
            raise ValueError("CAIRN_TIERS lists a tier twice")
        if c.LOCAL_TIER in self.tiers and self.tiers[0] != c.LOCAL_TIER:
            raise ValueError("CAIRN_TIERS: 'local' must come first")
        if c.SELFHOSTED_TIER in self.tiers and not (
            self.selfhosted_base_url and self.selfhosted_model
        ):
            raise ValueError(
                "CAIRN_TIERS includes 'selfhosted': set SELFHOSTED_BASE_URL and SELFHOSTED_MODEL"
            )
        for name, secret in (
            ("OPENAI_API_KEY", self.openai_api_key),
            ("SELFHOSTED_API_KEY", self.selfhosted_api_key),
        ):
            if secret is not None and secret.get_secret_value().strip() in c.PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} is a placeholder; unset it or give a real key")
        return self

    @property
    def local_enabled(self) -> bool:
        return c.LOCAL_TIER in self.tiers

    def endpoints(self) -> list[EndpointConfig]:
        """The remote tiers in escalation order (configured or not: the router reports why)."""
        out: list[EndpointConfig] = []
        for tier in self.tiers:
            if tier == c.OPENAI_TIER:
                out.append(
                    EndpointConfig(
                        name=tier,
                        base_url=str(self.openai_base_url) if self.openai_base_url else None,
                        api_key=_secret(self.openai_api_key),
                        model=self.openai_model,
                        image_model=self.openai_image_model,
                        image_size=self.openai_image_size,
                        image_quality=self.openai_image_quality,
                        timeout_s=self.openai_timeout_s,
                        image_timeout_s=self.openai_image_timeout_s,
                        max_output_tokens=self.max_output_tokens,
                        external=True,
                        moderation_model=self.openai_moderation_model,
                    )
                )
            elif tier == c.SELFHOSTED_TIER:
                out.append(
                    EndpointConfig(
                        name=tier,
                        base_url=str(self.selfhosted_base_url),
                        # vLLM/TGI often run without auth; the SDK still wants a key, and it
                        # must never fall back to OPENAI_API_KEY from the environment.
                        api_key=_secret(self.selfhosted_api_key) or "unused",
                        model=self.selfhosted_model or "",
                        image_model=None,
                        image_size=self.openai_image_size,
                        image_quality=None,
                        timeout_s=self.selfhosted_timeout_s,
                        image_timeout_s=self.selfhosted_timeout_s,
                        max_output_tokens=self.max_output_tokens,
                        external=not self.selfhosted_internal,
                    )
                )
        return out

    def price(self, model: str) -> ModelPrice | None:
        """Price of `model`; dated snapshots (`gpt-4o-mini-2024-07-18`) match their family."""
        if model in self.prices:
            return self.prices[model]
        family = max(
            (name for name in self.prices if model.startswith(name + "-")), key=len, default=None
        )
        return self.prices[family] if family else None


def _secret(value: SecretStr | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value().strip() or None
