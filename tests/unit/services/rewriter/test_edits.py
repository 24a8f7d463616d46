"""Edit spans: they index the original text, and applying them reproduces the output."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.rewriter.edits import Change, apply_changes, classify, diff, edit_ratio, tokenize

PAIRS = [
    ("i will see you tmrw at teh office.", "I will see you tomorrow at the office."),
    ("We has three dog .", "We have three dogs."),
    ("No change here.", "No change here."),
    ("Hello world", "Hello, wide world!"),
    ("  leading and trailing  ", "leading, and trailing"),
    ("Delete the the word.", "Delete the word."),
    ("", "Inserted from nothing."),
]


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_spans_index_the_original_and_reproduce_the_output(source: str, target: str) -> None:
    changes = diff(source, target)
    for change in changes:
        assert source[change.start : change.end] == change.original
    assert apply_changes(source, changes) == target


def test_changes_are_word_level_and_ordered() -> None:
    changes = diff("i will see you tmrw at teh office.", "I will see you tomorrow at the office.")
    assert [(c.original, c.replacement) for c in changes] == [
        ("i", "I"),
        ("tmrw", "tomorrow"),
        ("teh", "the"),
    ]
    assert [c.start for c in changes] == sorted(c.start for c in changes)


def test_insertion_is_an_empty_span_at_its_position() -> None:
    (change,) = diff("Hello world", "Hello big world")
    assert change.start == change.end or change.original.strip() == ""
    assert apply_changes("Hello world", [change]) == "Hello big world"


def test_tokens_cover_the_text_exactly() -> None:
    text = "Don't  stop — it's 10:30, e-mail me!"
    assert "".join(t.text for t in tokenize(text)) == text


# No deadline: the suite shares 2 cores with model tests; speed is not what this checks.
@settings(deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_any_pair_round_trips(source: str, target: str) -> None:
    changes = diff(source, target)
    assert all(source[c.start : c.end] == c.original for c in changes)
    assert apply_changes(source, changes) == target


def test_edit_ratio_ignores_spacing_and_counts_rewrites() -> None:
    assert edit_ratio("It works .", "It works.") == 0.0
    assert edit_ratio("the cat sat on the mat", "the cat sat on the mat") == 0.0
    assert edit_ratio("the cat sat on the mat", "a dog lay under one rug") == 1.0
    assert 0 < edit_ratio("We has three dog.", "We have three dogs.") < 0.5


@pytest.mark.parametrize(
    ("original", "replacement", "reason"),
    [
        ("i", "I", "capitalization"),
        ("teh", "the", "spelling"),
        (" ,", ",", "spacing"),
        (",", ";", "punctuation"),
        ("", "!", "punctuation"),
        ("has", "have", "grammar"),
        ("went", "goes to", "grammar"),
        (" ", "  ", "spacing"),
    ],
)
def test_classify(original: str, replacement: str, reason: str) -> None:
    assert classify(original, replacement) == reason


def test_apply_changes_is_order_independent() -> None:
    changes = [Change(0, 1, "a", "A"), Change(2, 3, "b", "B")]
    assert apply_changes("a b", changes) == apply_changes("a b", changes[::-1]) == "A B"
