from __future__ import annotations

from services.emoji.lexical import KeywordIndex, query_text, words


def test_words_drop_hashes_case_and_stopwords() -> None:
    assert words("Happy #Birthday to my DOG!") == {"happy", "birthday", "dog"}


def test_hits_count_distinct_keyword_words_per_row() -> None:
    index = KeywordIndex([("birthday cake", "cake", "party"), ("pizza", "cheese"), ("dog",)])
    assert index.hits("pizza party with cake, cake and more cake").tolist() == [2.0, 1.0, 0.0]


def test_query_text_drops_links_and_handles_but_keeps_words() -> None:
    assert query_text("@user happy #birthday http://t.co/x!") == "happy birthday"
    assert query_text("mail a@b.com, coffee @ Blue Bottle") == "mail a@b.com, coffee @ Blue Bottle"
    assert query_text("@user") == "@user"  # nothing else: kept as it is
