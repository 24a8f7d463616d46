"""The emoji catalog of one locale: every fully-qualified emoji with its CLDR name and keywords.

The Python `emoji` package gives the list of fully-qualified emoji (skin-tone variants left
out: they add ~3,700 near-duplicates that retrieval cannot tell apart); CLDR gives the words,
and for English emojilib adds usage words ("love, like" for hearts). CLDR keys drop U+FE0F,
so both forms are looked up.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import emoji as emoji_pkg

from services.emoji.assets import ANNOTATIONS, DERIVED, AssetPaths
from services.emoji.constants import FALLBACK_LOCALE
from shared.errors import ConfigurationError

log = logging.getLogger(__name__)

_VS16 = "\ufe0f"
_SKIN_TONES = frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))


@dataclass(frozen=True)
class EmojiEntry:
    """One emoji as retrieval sees it."""

    emoji: str
    name: str
    keywords: tuple[str, ...]
    english_name: str  # from the `emoji` package, language-independent lookups (faces, ...)
    usage: tuple[str, ...] = ()  # emojilib words that CLDR lacks (English only)

    @property
    def text(self) -> str:
        """What gets embedded: the CLDR name, then its keywords, then the usage words."""
        extra = [k for k in (*self.keywords, *self.usage) if k.casefold() != self.name.casefold()]
        return f"{self.name}: {', '.join(extra)}" if extra else self.name


@cache
def fully_qualified_emoji() -> tuple[str, ...]:
    """Fully-qualified emoji without skin-tone modifiers, in the `emoji` package's order."""
    qualified = emoji_pkg.STATUS["fully_qualified"]
    return tuple(
        e
        for e, data in emoji_pkg.EMOJI_DATA.items()
        if data["status"] == qualified and not _SKIN_TONES.intersection(e)
    )


def english_name(e: str) -> str:
    """`:cat_face:` -> `cat face` (the `emoji` package's CLDR-derived English name)."""
    data = emoji_pkg.EMOJI_DATA.get(e) or emoji_pkg.EMOJI_DATA.get(e.replace(_VS16, ""))
    return str(data["en"]).strip(":").replace("_", " ") if data else ""


def _load(path: Path, kind: str) -> dict[str, Any]:
    if not path.is_file():
        return {}
    document = json.loads(path.read_text(encoding="utf-8"))
    annotations: dict[str, Any] = document[kind]["annotations"]
    return annotations


def _lookup(tables: list[dict[str, Any]], e: str) -> dict[str, Any] | None:
    for table in tables:
        for key in (e, e.replace(_VS16, "")):
            found = table.get(key)
            if found and found.get("tts"):
                return dict(found)
    return None


def _usage_words(path: Path) -> dict[str, list[str]]:
    """emojilib: emoji (U+FE0F dropped) -> its words, without the leading name slug."""
    if not path.is_file():
        log.warning("emojilib keywords not provisioned at %s; CLDR words only", path)
        return {}
    table: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))
    return {e.replace(_VS16, ""): [w.replace("_", " ") for w in ws[1:]] for e, ws in table.items()}


def _new_words(words: list[str], known: tuple[str, ...]) -> tuple[str, ...]:
    seen = {k.casefold() for k in known}
    fresh = []
    for word in words:
        if word.casefold() not in seen:
            seen.add(word.casefold())
            fresh.append(word)
    return tuple(fresh)


def load_catalog(paths: AssetPaths, locale: str) -> list[EmojiEntry]:
    """The catalog of a provisioned CLDR locale; English words fill the locale's gaps."""
    if not paths.has_locale(locale):
        raise ConfigurationError(
            f"CLDR annotations for {locale!r} are not provisioned under {paths.cldr_dir}; "
            "run `python -m services.emoji.assets`"
        )
    own = [_load(paths.annotation_file(k, locale), k) for k in (ANNOTATIONS, DERIVED)]
    fallback = [_load(paths.annotation_file(k, FALLBACK_LOCALE), k) for k in (ANNOTATIONS, DERIVED)]
    usage = _usage_words(paths.emojilib_file) if locale == FALLBACK_LOCALE else {}
    entries: list[EmojiEntry] = []
    gaps = 0
    for e in fully_qualified_emoji():
        found = _lookup(own, e)
        if found is None:
            found = _lookup(fallback, e)
            gaps += 1
        if found is None:
            continue  # newer than this CLDR release: nothing to retrieve it by
        name = str(found["tts"][0])
        keywords = tuple(str(k) for k in found.get("default", ()))
        entries.append(
            EmojiEntry(
                emoji=e,
                name=name,
                keywords=keywords,
                english_name=english_name(e),
                usage=_new_words(usage.get(e.replace(_VS16, ""), []), (name, *keywords)),
            )
        )
    log.info("emoji catalog %s: %d entries (%d filled from English)", locale, len(entries), gaps)
    return entries
