"""Loading the heavy things once: the embedder and the per-locale indexes."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import AsyncExitStack

from services.emoji.assets import AssetPaths
from services.emoji.catalog import load_catalog
from services.emoji.constants import FALLBACK_LOCALE
from services.emoji.index import Embedder, EmojiIndex, load_or_build
from services.emoji.settings import EmojiSettings
from shared.config import CoreSettings
from shared.errors import ConfigurationError

log = logging.getLogger(__name__)


async def start_embedder(
    settings: EmojiSettings, core: CoreSettings, stack: AsyncExitStack
) -> tuple[Embedder, str]:
    """The inference runtime's embedder (closed with `stack`) and its model name."""
    from shared.inference.runtime import LocalEmbedder
    from shared.inference.settings import InferenceSettings

    inference = InferenceSettings()
    model = settings.embedding_model or inference.embedding_model
    embedder = await LocalEmbedder.start(inference, core, model=model)
    stack.push_async_callback(embedder.close)
    return embedder, model


async def load_indexes(
    paths: AssetPaths, locales: Iterable[str], model: str, embedder: Embedder
) -> dict[str, EmojiIndex]:
    """One index per provisioned locale (English always); builds and caches missing ones."""
    indexes: dict[str, EmojiIndex] = {}
    for locale in dict.fromkeys((FALLBACK_LOCALE, *locales)):
        if not paths.has_locale(locale):
            if locale == FALLBACK_LOCALE:
                raise ConfigurationError(
                    f"emoji assets missing under {paths.root}: "
                    "run `python -m services.emoji.assets`"
                )
            log.warning("no CLDR annotations for %s; its requests use English", locale)
            continue
        indexes[locale] = await load_or_build(
            load_catalog(paths, locale), locale, model, embedder, paths.index_dir
        )
    return indexes
