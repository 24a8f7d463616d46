from __future__ import annotations

import pytest

from services.emoji.safety import Category, check


@pytest.mark.parametrize(
    ("description", "category"),
    [
        ("a gun pointed at a man", Category.WEAPON_AT_PERSON),
        ("guy aiming a rifle at the teacher", Category.WEAPON_AT_PERSON),
        ("knife stabbing a person", Category.WEAPON_AT_PERSON),
        ("kill them all", Category.VIOLENCE),
        ("a swastika flag", Category.HATE_SYMBOL),
        ("nazi cat", Category.HATE_SYMBOL),
        ("KKK hood", Category.HATE_SYMBOL),
        ("naked woman on a beach", Category.SEXUAL),
        ("NSFW cat", Category.SEXUAL),
        ("I want to kill myself", Category.SELF_HARM),
        ("a noose", Category.SELF_HARM),
        ("a cat that looks like Taylor Swift", Category.REAL_PERSON),
        ("portrait of Elon Musk wearing sunglasses", Category.REAL_PERSON),
        ("the president's face on a dog", Category.REAL_PERSON),
    ],
)
def test_refuses(description: str, category: Category) -> None:
    refusal = check(description)
    assert refusal is not None
    assert refusal.category is category
    assert refusal.reason.startswith(f"{category}: ")


@pytest.mark.parametrize(
    "description",
    [
        "a cat wearing sunglasses",
        "a kitchen knife",
        "a sword",
        "a water pistol aimed at a friend",
        "dog with a birthday cake",
        "I'm dying of laughter",
        "sussex county fair",
        "a cat that looks like a loaf of bread",
        "New York pizza",
    ],
)
def test_allows_everyday_requests(description: str) -> None:
    assert check(description) is None
