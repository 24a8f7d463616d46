"""Provisioning and catalog loading on a small fabricated CLDR tarball (no network)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from services.emoji.assets import ANNOTATIONS, DERIVED, AssetPaths
from services.emoji.assets.fetch import ensure_annotations, ensure_emojilib, extract_annotations
from services.emoji.catalog import fully_qualified_emoji, load_catalog
from services.emoji.constants import (
    CLDR_NPM_PACKAGES,
    CLDR_VERSION,
    EMOJILIB_NPM_PACKAGE,
    EMOJILIB_VERSION,
)
from services.emoji.glyphs import FontGlyphs
from shared.errors import ConfigurationError


def _tarball(path: Path, kind: str, locales: dict[str, dict[str, dict[str, list[str]]]]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for locale, table in locales.items():
            data = json.dumps({kind: {"identity": {}, "annotations": table}}).encode()
            member = tarfile.TarInfo(f"package/{kind}/{locale}/annotations.json")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path


@pytest.fixture
def paths(tmp_path: Path) -> AssetPaths:
    paths = AssetPaths(tmp_path / "assets")
    paths.npm_dir.mkdir(parents=True)
    base = {
        "en": {
            "🎂": {"default": ["birthday", "cake"], "tts": ["birthday cake"]},
            # CLDR keys drop U+FE0F: this is the entry of 🕶️.
            "🕶": {"default": ["glasses", "sunglasses"], "tts": ["sunglasses"]},
        },
        "de": {"🎂": {"default": ["Geburtstag", "Kuchen"], "tts": ["Geburtstagskuchen"]}},
    }
    derived = {"en": {"🇺🇸": {"default": ["flag"], "tts": ["flag: United States"]}}, "de": {}}
    _tarball(paths.npm_dir / f"{CLDR_NPM_PACKAGES[0]}-{CLDR_VERSION}.tgz", ANNOTATIONS, base)
    _tarball(paths.npm_dir / f"{CLDR_NPM_PACKAGES[1]}-{CLDR_VERSION}.tgz", DERIVED, derived)
    return paths


def test_extracts_wanted_locales_once(paths: AssetPaths) -> None:
    ensure_annotations(paths, ["en", "de"])  # tarballs present: no npm call
    target = paths.annotation_file(ANNOTATIONS, "de")
    assert json.loads(target.read_text())[ANNOTATIONS]["annotations"]["🎂"]["tts"] == [
        "Geburtstagskuchen"
    ]
    before = target.stat().st_mtime_ns
    tarball = paths.npm_dir / f"{CLDR_NPM_PACKAGES[0]}-{CLDR_VERSION}.tgz"
    extract_annotations(paths, tarball, ANNOTATIONS, ["en", "de"])
    assert target.stat().st_mtime_ns == before
    assert not paths.annotation_file(ANNOTATIONS, "fr").exists()


def test_catalog_finds_both_key_forms_and_fills_gaps_from_english(paths: AssetPaths) -> None:
    ensure_annotations(paths, ["en", "de"])
    english = {e.emoji: e for e in load_catalog(paths, "en")}
    assert set(english) == {"🎂", "🕶️", "🇺🇸"}
    assert english["🕶️"].name == "sunglasses"
    assert english["🎂"].text == "birthday cake: birthday, cake"
    assert english["🕶️"].english_name == "sunglasses"
    german = {e.emoji: e for e in load_catalog(paths, "de")}
    assert german["🎂"].name == "Geburtstagskuchen"
    assert german["🇺🇸"].name == "flag: United States"  # not in the German data


def test_emojilib_adds_english_usage_words_once(paths: AssetPaths) -> None:
    table = {"🎂": ["birthday_cake", "cake", "party", "celebration"], "🕶️": ["sunglasses", "cool"]}
    data = json.dumps(table).encode()
    with tarfile.open(
        paths.npm_dir / f"{EMOJILIB_NPM_PACKAGE}-{EMOJILIB_VERSION}.tgz", "w:gz"
    ) as t:
        member = tarfile.TarInfo("package/dist/emoji-en-US.json")
        member.size = len(data)
        t.addfile(member, io.BytesIO(data))
    ensure_annotations(paths, ["en", "de"])
    assert ensure_emojilib(paths) == paths.emojilib_file  # tarball present: no npm call
    english = {e.emoji: e for e in load_catalog(paths, "en")}
    assert english["🎂"].usage == ("party", "celebration")  # slug and CLDR's "cake" left out
    assert english["🎂"].text == "birthday cake: birthday, cake, party, celebration"
    assert english["🕶️"].usage == ("cool",)
    assert {e.emoji: e for e in load_catalog(paths, "de")}["🎂"].usage == ()


def test_missing_locale_is_a_configuration_error(paths: AssetPaths) -> None:
    with pytest.raises(ConfigurationError, match=r"services\.emoji\.assets"):
        load_catalog(paths, "fr")


def test_fully_qualified_list_has_no_skin_tone_variants() -> None:
    listed = fully_qualified_emoji()
    assert len(listed) > 1800
    assert "👍" in listed and "👍🏽" not in listed and "❤️" in listed and "❤" not in listed


def test_font_draws_emoji_and_reports_missing_ones(font_glyphs: FontGlyphs) -> None:
    cat = font_glyphs.render("🐈")
    assert cat is not None and cat.mode == "RGBA"
    assert 100 <= cat.width <= 136 and 100 <= cat.height <= 136
    assert font_glyphs.render("\ue000") is None  # private use: no glyph
    flag = font_glyphs.render("🇺🇸")
    assert flag is not None and flag.width > flag.height  # one flag, not two letters
