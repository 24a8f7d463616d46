from __future__ import annotations

import pytest

from services.emoji.structure import Relation, parse


@pytest.mark.parametrize(
    ("description", "relation", "parts"),
    [
        ("a cat wearing sunglasses", Relation.WEARING, ("cat", "sunglasses")),
        ("dog with a birthday cake", Relation.WITH, ("dog", "birthday cake")),
        ("cat and dog", Relation.AND, ("cat", "dog")),
        ("a cat on a skateboard", Relation.ON, ("cat", "skateboard")),
        ("a cat in a box", Relation.IN, ("cat", "box")),
        ("A bear holding a balloon", Relation.HOLDING, ("bear", "balloon")),
        ("a dog with a ball and a frisbee", Relation.WITH, ("dog", "ball", "frisbee")),
        (
            "a cat wearing sunglasses and a party hat",
            Relation.WEARING,
            ("cat", "sunglasses", "party hat"),
        ),
        ("emoji of a pizza", Relation.SINGLE, ("pizza",)),
        ("my card was charged twice", Relation.SINGLE, ("card was charged twice",)),
    ],
)
def test_english_structures(description: str, relation: Relation, parts: tuple[str, ...]) -> None:
    composition = parse(description)
    assert composition.relation is relation
    assert composition.parts == parts


def test_other_languages_use_their_connectors() -> None:
    assert parse("eine Katze mit einer Sonnenbrille", "de-DE").parts == ("Katze", "Sonnenbrille")
    assert parse("un chat avec un gâteau", "fr").relation is Relation.WITH
    assert parse("un perro y un gato", "es-MX").parts == ("perro", "gato")


def test_dangling_connector_is_a_single_subject() -> None:
    # "with" has nothing after it: no composition to draw.
    composition = parse("a party with")
    assert composition.relation is Relation.SINGLE
    assert composition.parts == ("party with",)
