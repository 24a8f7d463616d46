"""Token selection for a batch of rows with per-row decoding parameters."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from shared.inference.types import GenerationParams


class RowSampler:
    """Chooses the next token of one row: greedy (temperature 0) or tempered top-p sampling.

    A seeded row owns its own torch.Generator so its draws do not depend on which other rows
    share the batch — the same request gives the same text alone or batched.
    """

    def __init__(self, params: GenerationParams) -> None:
        self.params = params
        self.generator: torch.Generator | None = None
        if params.temperature > 0:
            self.generator = torch.Generator()
            if params.seed is not None:
                self.generator.manual_seed(params.seed)
            else:
                self.generator.seed()

    @property
    def greedy(self) -> bool:
        return self.params.temperature == 0

    def sample(self, logits: torch.Tensor) -> tuple[int, float]:
        """Sample from one row's float32 logits (V,); returns (token id, its log-probability)."""
        assert self.generator is not None
        logprobs = torch.log_softmax(logits / self.params.temperature, dim=-1)
        if self.params.top_p < 1.0:
            sorted_lp, order = torch.sort(logprobs, descending=True)
            probs = sorted_lp.exp()
            # Keep the smallest prefix whose mass reaches top_p (the token crossing it included).
            keep = (probs.cumsum(-1) - probs) < self.params.top_p
            kept_lp = sorted_lp[keep]
            kept_lp = kept_lp - torch.logsumexp(kept_lp, dim=-1)
            choice = int(torch.multinomial(kept_lp.exp(), 1, generator=self.generator))
            return int(order[keep][choice]), float(kept_lp[choice])
        token = int(torch.multinomial(logprobs.exp(), 1, generator=self.generator))
        return token, float(logprobs[token])


def select_tokens(
    logits: torch.Tensor, samplers: Sequence[RowSampler]
) -> tuple[list[int], list[float]]:
    """Next token and its log-probability for each row of `logits` (rows, V), any dtype/device."""
    logits = logits.float()
    logprobs = torch.log_softmax(logits, dim=-1)
    best_lp, best = logprobs.max(dim=-1)
    tokens: list[int] = best.tolist()
    lps: list[float] = best_lp.tolist()
    for row, sampler in enumerate(samplers):
        if not sampler.greedy:
            tokens[row], lps[row] = sampler.sample(logits[row].cpu())
    return tokens, lps
