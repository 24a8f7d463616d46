"""What a refusal names: its category and a message for `EmojiResult.refused_reason`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    WEAPON_AT_PERSON = "weapon_at_person"
    VIOLENCE = "violence"
    HATE_SYMBOL = "hate_symbol"
    SEXUAL = "sexual"
    SELF_HARM = "self_harm"
    REAL_PERSON = "real_person"


MESSAGES: dict[Category, str] = {
    Category.WEAPON_AT_PERSON: "weapons aimed at people are not allowed",
    Category.VIOLENCE: "violence against people is not allowed",
    Category.HATE_SYMBOL: "hate symbols are not allowed",
    Category.SEXUAL: "sexual content is not allowed",
    Category.SELF_HARM: "self-harm content is not allowed",
    Category.REAL_PERSON: "stickers of real people's likeness are not allowed",
}


@dataclass(frozen=True)
class Refusal:
    """Why a description is refused, and which check said so (rules, semantic, moderation)."""

    category: str
    message: str
    source: str = "rules"

    @classmethod
    def of(cls, category: Category, source: str = "rules") -> Refusal:
        return cls(category, MESSAGES[category], source)

    @property
    def reason(self) -> str:
        """What goes into `EmojiResult.refused_reason`."""
        return f"{self.category}: {self.message}"
