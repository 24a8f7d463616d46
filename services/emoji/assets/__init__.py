"""Where the emoji service's provisioned assets live (annotations, font, index caches).

`python -m services.emoji.assets` fills these paths; the service only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.emoji.constants import (
    CLDR_VERSION,
    EMOJILIB_VERSION,
    FONT_FILE_NAME,
    SYSTEM_FONT_PATHS,
)

ANNOTATIONS: str = "annotations"
DERIVED: str = "annotationsDerived"


@dataclass(frozen=True)
class AssetPaths:
    """The layout under the assets root (default `<state_dir>/assets`)."""

    root: Path

    @property
    def npm_dir(self) -> Path:
        return self.root / "npm"

    @property
    def cldr_dir(self) -> Path:
        return self.root / "cldr" / CLDR_VERSION

    @property
    def emojilib_file(self) -> Path:
        """emojilib's English keyword table (emoji -> [slug, usage words...])."""
        return self.root / "emojilib" / EMOJILIB_VERSION / "emoji-en-US.json"

    @property
    def font_dir(self) -> Path:
        return self.root / "fonts"

    @property
    def index_dir(self) -> Path:
        return self.root / "emoji-index"

    def annotation_file(self, kind: str, locale: str) -> Path:
        """CLDR JSON of one locale; kind is ANNOTATIONS or DERIVED."""
        return self.cldr_dir / kind / locale / "annotations.json"

    def has_locale(self, locale: str) -> bool:
        return self.annotation_file(ANNOTATIONS, locale).is_file()

    def font_file(self, override: Path | None = None) -> Path | None:
        """The emoji font to draw with: the configured one, the provisioned one, the system's."""
        if override is not None:
            return override if override.is_file() else None
        for candidate in (self.font_dir / FONT_FILE_NAME, *map(Path, SYSTEM_FONT_PATHS)):
            if candidate.is_file():
                return candidate
        return None
