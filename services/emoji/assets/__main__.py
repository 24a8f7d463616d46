"""`python -m services.emoji.assets`: provision the emoji service's assets, idempotently.

    CLDR annotations   npm pack cldr-annotations-full / -derived-full @48.2.0 (locales wanted)
    usage keywords     npm pack emojilib@4.0.3 (English)
    emoji font         Noto Color Emoji: the system's, else apt-get download + dpkg-deb -x
    embedding indexes  one npz per locale, keyed by model + annotation texts

Everything lands under `<CAIRN_STATE_DIR>/assets` (or EMOJI_ASSETS_DIR). A second run finds
it all in place and returns in well under a second without loading a model.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from contextlib import AsyncExitStack

from services.emoji.assets import AssetPaths
from services.emoji.assets.fetch import ensure_annotations, ensure_emojilib, ensure_font
from services.emoji.catalog import load_catalog
from services.emoji.constants import FALLBACK_LOCALE
from services.emoji.index import cache_path
from services.emoji.loading import load_indexes, start_embedder
from services.emoji.settings import EmojiSettings
from shared.config import CoreSettings

log = logging.getLogger("services.emoji.assets")


def _model_name(settings: EmojiSettings) -> str:
    from shared.inference.settings import InferenceSettings

    return settings.embedding_model or InferenceSettings().embedding_model


async def _build_indexes(
    paths: AssetPaths, settings: EmojiSettings, core: CoreSettings, locales: list[str]
) -> None:
    model = _model_name(settings)
    present = [loc for loc in locales if paths.has_locale(loc)]
    if all(
        cache_path(paths.index_dir, loc, model, load_catalog(paths, loc)).is_file()
        for loc in present
    ):
        log.info("emoji indexes up to date for %s", ",".join(present))
        return
    async with AsyncExitStack() as stack:
        embedder, model = await start_embedder(settings, core, stack)
        await load_indexes(paths, present, model, embedder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--locales", help="comma-separated CLDR locales (default EMOJI_LOCALES)")
    parser.add_argument("--no-index", action="store_true", help="skip building the indexes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    settings = EmojiSettings()
    core = CoreSettings()
    paths = AssetPaths(settings.resolved_assets_dir(core))
    wanted = args.locales.split(",") if args.locales else list(settings.locales)
    locales = list(dict.fromkeys([FALLBACK_LOCALE, *(w.strip() for w in wanted if w.strip())]))

    ensure_annotations(paths, locales)
    ensure_emojilib(paths)
    font = ensure_font(paths)
    if not args.no_index:
        asyncio.run(_build_indexes(paths, settings, core, locales))
    log.info("emoji assets ready under %s (font %s)", paths.root, font)
    return 0


if __name__ == "__main__":
    sys.exit(main())
