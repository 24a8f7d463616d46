from __future__ import annotations

from services.emoji.lexical import KeywordIndex, words


def test_words_drop_hashes_case_and_stopwords() -> None:
    assert words("Happy #Birthday to my DOG!") == {"happy", "birthday", "dog"}


def test_hits_count_distinct_keyword_words_per_row() -> None:
    index = KeywordIndex([("birthday cake", "cake", "party"), ("pizza", "cheese"), ("dog",)])
    assert index.hits("pizza party with cake, cake and more cake").tolist() == [2.0, 1.0, 0.0]
