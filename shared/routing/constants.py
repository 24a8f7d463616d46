"""Every default and limit the routing layer uses, in one place."""

from __future__ import annotations

from typing import Final

# Tier names a deployment may list in CAIRN_TIERS, in escalation order.
LOCAL_TIER: Final = "local"
SELFHOSTED_TIER: Final = "selfhosted"
OPENAI_TIER: Final = "openai"
KNOWN_TIERS: Final = (LOCAL_TIER, SELFHOSTED_TIER, OPENAI_TIER)

DEFAULT_OPENAI_MODEL: Final = "gpt-4o-mini"
DEFAULT_OPENAI_IMAGE_MODEL: Final = "gpt-image-1"
DEFAULT_IMAGE_SIZE: Final = "1024x1024"
# Free to call; multilingual, and the model OpenAI recommends for new applications.
DEFAULT_OPENAI_MODERATION_MODEL: Final = "omni-moderation-latest"

# Per HTTP attempt; a summary or a rewrite is a few hundred tokens.
DEFAULT_TIMEOUT_S: Final = 20.0
DEFAULT_IMAGE_TIMEOUT_S: Final = 60.0
DEFAULT_MAX_RETRIES: Final = 2
# Bound on one call's retrying: no sleep starts that would end past this many seconds
# since the first attempt.
DEFAULT_MAX_RETRY_TOTAL_S: Final = 30.0
# Caps spend per call; a truncated answer counts as a bad response (local is served).
DEFAULT_MAX_OUTPUT_TOKENS: Final = 1024
INITIAL_RETRY_DELAY_S: Final = 0.5
MAX_RETRY_DELAY_S: Final = 8.0
# A longer Retry-After means the quota is gone for a while: give up, serve local.
MAX_RETRY_AFTER_S: Final = 20.0
RETRY_JITTER: Final = 0.25
# Requests whose provider attempts are remembered, and for how long: longer than the
# runtime's handler retries of one event take, so they cannot multiply provider calls.
ATTEMPT_LEDGER_CAPACITY: Final = 10_000
ATTEMPT_LEDGER_TTL_S: Final = 900.0

DEFAULT_BREAKER_FAILURES: Final = 5
DEFAULT_BREAKER_COOLDOWN_S: Final = 30.0

# Mean log-probability per generated token; exp(-1.0) is a geometric-mean token
# probability of about 0.37.
DEFAULT_MIN_MEAN_LOGPROB: Final = -1.0
DEFAULT_LATENCY_BUDGET_MS: Final = 2000.0
DEFAULT_LOCAL_LANGUAGES: Final = ("en",)
DEFAULT_ESCALATE_QUALITY_HINTS: Final = ("best",)

# USD per million tokens (input, output) and per image. Public list prices; override with
# CAIRN_PRICES when they change or for a self-hosted model that has a cost. Image models are
# priced per image by "<quality>:<size>" (or "<size>", or `per_image` for any), plus their
# text input tokens; a quality the table lacks is priced as the dearest one of that size.
DEFAULT_PRICES: Final[dict[str, dict[str, object]]] = {
    "gpt-4o-mini": {"input_per_mtok": 0.15, "output_per_mtok": 0.60},
    "gpt-4o": {"input_per_mtok": 2.50, "output_per_mtok": 10.00},
    "gpt-4.1-mini": {"input_per_mtok": 0.40, "output_per_mtok": 1.60},
    "gpt-4.1-nano": {"input_per_mtok": 0.10, "output_per_mtok": 0.40},
    "gpt-image-1": {
        "input_per_mtok": 5.00,
        "images": {
            "low:1024x1024": 0.011,
            "medium:1024x1024": 0.042,
            "high:1024x1024": 0.167,
            "low:1024x1536": 0.016,
            "medium:1024x1536": 0.063,
            "high:1024x1536": 0.25,
            "low:1536x1024": 0.016,
            "medium:1536x1024": 0.063,
            "high:1536x1024": 0.25,
        },
    },
    "dall-e-3": {
        "images": {
            "standard:1024x1024": 0.04,
            "standard:1024x1792": 0.08,
            "standard:1792x1024": 0.08,
            "hd:1024x1024": 0.08,
            "hd:1024x1792": 0.12,
            "hd:1792x1024": 0.12,
        },
    },
    "dall-e-2": {"images": {"256x256": 0.016, "512x512": 0.018, "1024x1024": 0.02}},
}

# Prompt-token bound for budget reservations: bytes of every message plus these overheads
# (role markers and separators; the chat format spends about 4 per message and 3 per reply).
MESSAGE_OVERHEAD_TOKENS: Final = 8
# Output tokens of one generated image at most (gpt-image-1, high quality, 1536 px side).
IMAGE_OUTPUT_TOKENS_BOUND: Final = 6240
PROMPT_OVERHEAD_TOKENS: Final = 16

# Keys that are obviously not real; refused so a template value never reaches a provider.
PLACEHOLDER_SECRETS: Final = frozenset({"", "changeme", "change-me", "sk-...", "your-api-key"})
