import math

import torch

from shared.inference.sampling import RowSampler, select_tokens
from shared.inference.types import GenerationParams


def test_greedy_picks_argmax_with_its_logprob() -> None:
    logits = torch.tensor([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]])
    tokens, lps = select_tokens(logits, [RowSampler(GenerationParams())] * 2)
    assert tokens == [1, 0]
    assert lps[0] == torch.log_softmax(logits[0], -1)[1].item()


def test_seeded_sampling_is_reproducible_and_independent_of_batch() -> None:
    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    params = GenerationParams(temperature=1.0, seed=42)
    alone = [RowSampler(params).sample(logits[1]) for _ in range(2)]
    batched, _ = select_tokens(
        logits, [RowSampler(GenerationParams()), RowSampler(params), RowSampler(params)]
    )
    assert alone[0] == alone[1]
    assert batched[1] == alone[0][0]


def test_top_p_keeps_only_the_nucleus() -> None:
    # p = [0.7, 0.2, 0.1]: top_p 0.6 keeps only the first token, whose renormalised lp is 0.
    logits = torch.log(torch.tensor([0.7, 0.2, 0.1]))
    sampler = RowSampler(GenerationParams(temperature=1.0, top_p=0.6, seed=1))
    for _ in range(20):
        token, lp = sampler.sample(logits)
        assert token == 0
        assert math.isclose(lp, 0.0, abs_tol=1e-6)
