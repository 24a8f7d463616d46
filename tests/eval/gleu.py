"""GLEU, the JFLEG proofreading metric (Napoles et al. 2015; the 2016 revision used by JFLEG).

Per sentence and n = 1..4, the hypothesis earns its n-grams that match the reference and
loses those that match n-grams of the source which the reference dropped (errors left
uncorrected). Counts are summed over the corpus, combined as a geometric mean of the four
precisions with a brevity penalty. With several references, each sentence uses one
reference drawn at random; the score is the mean over many draws (seeded, so reproducible).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ORDER = 4
DEFAULT_ITERATIONS = 500

# PTB-like: split punctuation and clitics the way the JFLEG references are tokenised, so a
# hypothesis written "developed." scores like "developed ." does.
_CLITIC = re.compile(r"(?i)(\w)(n't|'s|'re|'ve|'ll|'d|'m)\b")
_PUNCT = re.compile(r"([^\w\s'])")


def tokenize(text: str) -> list[str]:
    """Scoring tokens: punctuation and clitics split off, case kept."""
    text = _CLITIC.sub(r"\1 \2", text.replace("’", "'"))
    return _PUNCT.sub(r" \1 ", text).split()


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) + 1 - n))


@dataclass(frozen=True)
class SentenceStats:
    """Sufficient statistics of one (source, hypothesis, reference) triple."""

    hyp_len: int
    ref_len: int
    matches: tuple[int, ...]  # per n: max(0, |h∩r| - |h∩(s-r)|)
    totals: tuple[int, ...]  # per n: hypothesis n-grams

    def __add__(self, other: SentenceStats) -> SentenceStats:
        return SentenceStats(
            self.hyp_len + other.hyp_len,
            self.ref_len + other.ref_len,
            tuple(a + b for a, b in zip(self.matches, other.matches, strict=True)),
            tuple(a + b for a, b in zip(self.totals, other.totals, strict=True)),
        )


def sentence_stats(source: list[str], hypothesis: list[str], reference: list[str]) -> SentenceStats:
    """GLEU statistics of one sentence against one reference (token lists)."""
    matches, totals = [], []
    for n in range(1, ORDER + 1):
        hyp, src, ref = _ngrams(hypothesis, n), _ngrams(source, n), _ngrams(reference, n)
        # n-grams of the source that the reference does not have: errors it corrected.
        src_not_ref = Counter({gram: count for gram, count in src.items() if gram not in ref})
        rewarded = sum((hyp & ref).values())
        penalised = sum((hyp & src_not_ref).values())
        matches.append(max(rewarded - penalised, 0))
        totals.append(max(len(hypothesis) + 1 - n, 0))
    return SentenceStats(len(hypothesis), len(reference), tuple(matches), tuple(totals))


def corpus_score(stats: SentenceStats) -> float:
    """GLEU of summed statistics: brevity penalty times the geometric mean precision."""
    if (
        stats.hyp_len == 0
        or any(m == 0 for m in stats.matches)
        or any(t == 0 for t in stats.totals)
    ):
        return 0.0
    log_precision = (
        sum(math.log(m / t) for m, t in zip(stats.matches, stats.totals, strict=True)) / ORDER
    )
    brevity = min(0.0, 1.0 - stats.ref_len / stats.hyp_len)
    return math.exp(brevity + log_precision)


def gleu(
    sources: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    iterations: int = DEFAULT_ITERATIONS,
    seed: int = 0,
) -> float:
    """Corpus GLEU; `references[k][i]` is the k-th reference of sentence i."""
    if not (len(sources) == len(hypotheses) and all(len(r) == len(sources) for r in references)):
        raise ValueError("sources, hypotheses and every reference set must align")
    if not sources:
        raise ValueError("no sentences")
    per_sentence = [
        [
            sentence_stats(tokenize(src), tokenize(hyp), tokenize(ref_set[i]))
            for ref_set in references
        ]
        for i, (src, hyp) in enumerate(zip(sources, hypotheses, strict=True))
    ]
    if len(references) == 1:
        return corpus_score(_sum(options[0] for options in per_sentence))
    rng = random.Random(seed)
    scores = [
        corpus_score(_sum(rng.choice(options) for options in per_sentence))
        for _ in range(iterations)
    ]
    return sum(scores) / len(scores)


def _sum(stats: Iterable[SentenceStats]) -> SentenceStats:
    total = SentenceStats(0, 0, (0,) * ORDER, (0,) * ORDER)
    for item in stats:
        total = total + item
    return total
