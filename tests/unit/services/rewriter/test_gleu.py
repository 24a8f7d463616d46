"""GLEU on hand-computed examples."""

from __future__ import annotations

import math

import pytest

from tests.eval.gleu import corpus_score, gleu, sentence_stats, tokenize


def test_tokenize_splits_punctuation_and_clitics_like_the_references() -> None:
    assert tokenize("They don't know, it's fine.") == [
        "They", "do", "n't", "know", ",", "it", "'s", "fine", ".",
    ]  # fmt: skip


def test_sentence_stats_reward_corrections_and_penalise_kept_errors() -> None:
    source = ["he", "go", "home"]
    reference = ["he", "goes", "home"]
    kept = sentence_stats(source, source, reference)
    # Unigrams: "he", "home" match the reference (+2); "go" is in the source but not the
    # reference, so keeping it costs 1. Bigrams: none match, "he go"/"go home" are penalised.
    assert kept.matches[0] == 1
    assert kept.matches[1] == 0
    fixed = sentence_stats(source, reference, reference)
    assert fixed.matches == (3, 2, 1, 0)
    assert fixed.totals == (3, 2, 1, 0)


def test_corpus_score_by_hand() -> None:
    source = ["the", "cat", "sit", "on", "the", "mat"]
    reference = ["the", "cat", "sits", "on", "the", "mat"]
    stats = sentence_stats(source, reference, reference)
    # Perfect hypothesis: every precision is 1, no brevity penalty.
    assert corpus_score(stats) == pytest.approx(1.0)
    partial = sentence_stats(source, ["the", "cat", "sits", "on", "mat"], reference)
    # unigrams 5/5, bigrams: "the cat","cat sits","sits on" match, "on mat" no -> 3/4,
    # trigrams: "the cat sits","cat sits on" -> 2/3, 4-grams: "the cat sits on" -> 1/2;
    # brevity: exp(1 - 6/5).
    expected = math.exp(
        (1 - 6 / 5) + (math.log(1) + math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2)) / 4
    )
    assert corpus_score(partial) == pytest.approx(expected)


def test_corrected_text_beats_unchanged_text() -> None:
    sources = ["I has a apple and a banana in my bag today .", "She go to the school every days ."]
    refs = [
        ["I have an apple and a banana in my bag today .", "She goes to the school every day ."]
    ]
    partly = ["I have a apple and a banana in my bag today .", sources[1]]
    assert gleu(sources, refs[0], refs) == pytest.approx(1.0)
    assert 0 < gleu(sources, sources, refs) < gleu(sources, partly, refs) < 1


def test_multiple_references_average_random_draws_reproducibly() -> None:
    sources = ["he go home ."]
    refs = [["he goes home ."], ["he went home ."]]
    first = gleu(sources, ["he goes home ."], refs, seed=1)
    assert first == gleu(sources, ["he goes home ."], refs, seed=1)
    assert 0 < first < 1  # perfect against one reference, not the other


def test_misaligned_input_is_refused() -> None:
    with pytest.raises(ValueError, match="align"):
        gleu(["a"], ["a", "b"], [["a"]])
