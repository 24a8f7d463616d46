"""The request-level safety filter: descriptions we refuse to turn into emoji or stickers.

Rules, not a model: each category is a few regular expressions over the description, checked
before any retrieval or image generation (and so before anything can reach the images API).
They aim at clear cases (weapons aimed at people, hate symbols, sexual content, self-harm,
real-person likeness); a moderation model is the place for subtler ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    WEAPON_AT_PERSON = "weapon_at_person"
    VIOLENCE = "violence"
    HATE_SYMBOL = "hate_symbol"
    SEXUAL = "sexual"
    SELF_HARM = "self_harm"
    REAL_PERSON = "real_person"


@dataclass(frozen=True)
class Refusal:
    category: Category
    message: str

    @property
    def reason(self) -> str:
        """What goes into `EmojiResult.refused_reason`."""
        return f"{self.category}: {self.message}"


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# Toy guns are fine ("water pistol"); real weapons only together with a target or an aim.
_WEAPON = _any(
    r"(?<!water )(?<!squirt )(?<!nerf )(?<!toy )\b(?:guns?|pistols?|handguns?|revolvers?|"
    r"rifles?|shotguns?|firearms?|ar-?15|ak-?47)\b",
    r"\b(?:knife|knives|daggers?|swords?|machetes?|bombs?|grenades?|explosives?|crossbows?)\b",
)
_AIMED = _any(
    r"\b(?:aim(?:s|ed|ing)?|point(?:s|ed|ing)?|shoot(?:s|ing)?|shot|stab(?:s|bed|bing)?|"
    r"threaten(?:s|ed|ing)?|attack(?:s|ed|ing)?|kill(?:s|ed|ing)?|murder(?:s|ed|ing)?)\b",
    r"\bat (?:a |the |my |his |her |their |some )?(?:person|people|man|woman|men|women|kids?|"
    r"child(?:ren)?|boy|girl|teacher|cop|police|officer|crowd|head|face|someone|somebody|"
    r"you|him|her|them|me|us)\b",
)
_RULES: tuple[tuple[Category, re.Pattern[str], str], ...] = (
    (
        Category.VIOLENCE,
        _any(
            r"\b(?:kill|murder|shoot|stab|behead|execute|lynch)(?:ing)? (?:a |the |my |his |"
            r"her )?(?:people|person|man|woman|kids?|child(?:ren)?|you|him|her|them|everyone|"
            r"teacher|cop|police)\b",
            r"\bschool shoot",
            r"\b(?:beheading|massacre|gore|dead bod(?:y|ies)|mass shooting|terroris[tm])",
        ),
        "violence against people is not allowed",
    ),
    (
        Category.HATE_SYMBOL,
        _any(
            r"\bswastikas?\b",
            r"\b(?:neo-?)?nazis?\b",
            r"\bhakenkreuz",
            r"\bsieg heil\b",
            r"\bheil hitler\b",
            r"\b(?:kkk|ku klux)",
            r"\bwhite (?:power|pride|supremac)",
            r"\b(?:ss|sig) (?:runes?|bolts?)\b",
            r"\b14 ?88\b",
            r"\bburning cross",
            r"\bconfederate flag",
            r"\bcroix gammée|\besvástica",
        ),
        "hate symbols are not allowed",
    ),
    (
        Category.SEXUAL,
        _any(
            r"\b(?:nude|nudes|naked|nsfw|porn\w*|xxx|sex|sexy|sexual\w*|erotic\w*|hentai|"
            r"fetish\w*|orgasm\w*|genital\w*|penis|vagina|boobs?|tits|topless|strip(?:per|tease)"
            r"|onlyfans|horny|aroused)\b",
            r"\b(?:nackt\w*|desnud[oa]s?)\b",
        ),
        "sexual content is not allowed",
    ),
    (
        Category.SELF_HARM,
        _any(
            r"\bsuicid\w*",
            r"\bkill(?:ing)? (?:my|your|him|her|them)sel(?:f|ves)\b",
            r"\bkms\b",
            r"\bself[- ]?harm\w*",
            r"\bcut(?:ting)? (?:my|your|her|his) (?:wrists?|arms?|sel(?:f|ves))",
            r"\bslit(?:ting)? (?:my |your |her |his )?wrists?",
            r"\bhang(?:ing)? (?:my|your|him|her)sel(?:f|ves)\b",
            r"\bnoose\b",
            r"\bend (?:my|your) life\b",
            r"\bwant(?:s)? to die\b",
            r"\boverdos\w*",
        ),
        "self-harm content is not allowed",
    ),
    (
        Category.REAL_PERSON,
        _any(
            r"\b(?:looks? like|looking like|resembl\w+|likeness of|look-?alike of|caricature of|"
            r"deepfake|impersonat\w+|portrait of|photo of|face of)\s+(?-i:[A-Z][\w'’.-]+)"
            r"(?:\s+(?-i:[A-Z][\w'’.-]+))+",
            r"\b(?:real|actual|famous) (?:person|people|celebrity|politician)\b",
            r"\b(?:celebrity|celebrities|politician|president|prime minister|pope)"
            r"(?:'s|’s)? (?:face|likeness|portrait)\b",
            r"\blikeness\b",
        ),
        "stickers of real people's likeness are not allowed",
    ),
)


def check(description: str) -> Refusal | None:
    """The first rule the description breaks, or None when it may be drawn."""
    if _WEAPON.search(description) and _AIMED.search(description):
        return Refusal(Category.WEAPON_AT_PERSON, "weapons aimed at people are not allowed")
    for category, pattern, message in _RULES:
        if pattern.search(description):
            return Refusal(category, message)
    return None
