"""Retrieval with the real MiniLM over the provisioned CLDR annotations."""

from __future__ import annotations

import pytest

from services.emoji.constants import DEFAULT_MATCH_THRESHOLD, DEFAULT_POPULARITY_WEIGHT
from services.emoji.popularity import occurrences
from services.emoji.retrieval import Retriever

pytestmark = pytest.mark.model

EVERYDAY = [
    ("happy birthday to my little brother!", "🎂"),
    ("my card was charged twice", "💳"),
    ("appointment with the dentist tomorrow", "🦷"),
    ("pizza party tonight", "🍕"),
    ("it's raining again", "🌧️"),
    ("let's go to the beach", "🏖️"),
    ("coffee?", "☕"),
    ("I'm so tired", "😫"),
]


async def test_everyday_sentences_have_the_emoji_in_the_top_3(retriever: Retriever) -> None:
    rankings = await retriever.rank([text for text, _ in EVERYDAY], "en-US", k=3)
    missed = [
        (text, want, [m.emoji for m in got])
        for (text, want), got in zip(EVERYDAY, rankings, strict=True)
        if want not in [m.emoji for m in got]
    ]
    assert not missed


async def test_scores_are_cosines_in_ranked_order(retriever: Retriever) -> None:
    (ranking,) = await retriever.rank(["birthday cake"], "en", k=5)
    assert ranking[0].emoji == "🎂"
    assert ranking[0].name == "birthday cake"
    assert [m.score for m in ranking] == sorted((m.score for m in ranking), reverse=True)
    assert all(-1.0 <= m.cosine <= 1.0 and m.score >= m.cosine for m in ranking)


async def test_unrelated_text_stays_under_the_threshold(retriever: Retriever) -> None:
    rankings = await retriever.rank(
        ["the quarterly report is due", "my flight to Paris is delayed", "zqxv blorp"], "en", k=1
    )
    assert all(r[0].cosine < DEFAULT_MATCH_THRESHOLD for r in rankings)
    (clear,) = await retriever.rank(["a birthday cake"], "en", k=1)
    assert clear[0].cosine >= DEFAULT_MATCH_THRESHOLD


async def test_german_uses_the_german_annotations(retriever: Retriever) -> None:
    assert retriever.resolve_locale("de-AT") == ("de", True)
    assert retriever.resolve_locale("sw-KE") == ("en", False)
    cake, tooth = await retriever.rank(
        ["Alles Gute zum Geburtstag, Kuchen!", "Ich gehe zum Zahnarzt"], "de-DE", k=3
    )
    assert cake[0].name == "Geburtstagskuchen"
    assert "🦷" in [m.emoji for m in tooth]


async def test_allowed_restricts_the_ranking(retriever: Retriever) -> None:
    allowed = ["❤️", "🔥", "📷", "🎄"]
    (ranking,) = await retriever.rank(["merry christmas everyone"], "en", k=10, allowed=allowed)
    assert ranking[0].emoji == "🎄"
    assert sorted(m.emoji for m in ranking) == sorted(allowed)


async def test_a_literal_match_beats_popularity(retriever: Retriever) -> None:
    assert retriever.popularity_weight == DEFAULT_POPULARITY_WEIGHT > 0
    assert occurrences()["😂"] > 10_000 and "🦷" not in occurrences()
    cake, tooth, card = await retriever.rank(
        ["birthday cake", "dentist", "card charged"], "en", k=3
    )
    assert (cake[0].emoji, tooth[0].emoji, card[0].emoji) == ("🎂", "🦷", "💳")
    assert tooth[0].score == pytest.approx(tooth[0].cosine + retriever.lexical_boost)


async def test_popularity_ranks_a_vague_text(retriever: Retriever) -> None:
    """With nothing literal to go by, the frequently used emoji come first, as on keyboards."""
    allowed = ["😂", "🧐"]  # 14,622 tweets vs none
    (plain,) = await retriever.rank(["ok"], "en", k=2, allowed=allowed)
    assert plain[0].emoji == "😂" and plain[0].score > plain[0].cosine
    assert plain[1].score == pytest.approx(plain[1].cosine)
