"""The moderation gate in front of every images call: flagged refuses, failure fails closed.

Text answers are not moderated here: they go back only to the user who wrote the input,
the providers' chat models apply their own policies, and the writing tools' guards keep an
answer a rewrite of the user's own text. A generated image is new content made by Cairn,
so nothing reaches the images API that the moderation endpoint has not cleared.
"""

from __future__ import annotations

import logging

from .errors import BreakerOpen, ContentFlagged, ModerationUnavailable, ProviderError
from .openai_tier import OpenAITier

log = logging.getLogger(__name__)


async def clear_for_images(adapter: OpenAITier, prompt: str) -> None:
    """Return only when the endpoint's moderation cleared `prompt`.

    Raises ContentFlagged (refuse the request) or ModerationUnavailable (no image; the
    router serves the local answer degraded). An open breaker stays BreakerOpen.
    """
    try:
        verdict = await adapter.moderate(prompt)
    except BreakerOpen:
        raise
    except ProviderError as exc:
        detail = str(exc).removeprefix(f"{adapter.name}: ")
        raise ModerationUnavailable(f"moderation failed: {detail}", endpoint=adapter.name) from exc
    if verdict.flagged:
        log.info("%s moderation flagged an image prompt: %s", adapter.name, verdict.categories)
        raise ContentFlagged(verdict.categories, endpoint=adapter.name)
