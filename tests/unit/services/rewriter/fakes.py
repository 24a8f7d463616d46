"""A scripted stand-in for the local generator: replies from a list, records every prompt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.inference.types import ChatMessage, Generation, GenerationParams


@dataclass
class ScriptedGenerator:
    """Answers each `generate` with the next scripted reply (the last one repeats)."""

    replies: list[str]
    max_prompt_tokens: int = 2048
    model: str = "scripted"
    prompts: list[list[ChatMessage]] = field(default_factory=list)
    params: list[GenerationParams] = field(default_factory=list)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        # About one token a word, plus a template overhead, like a real chat template.
        return 8 + sum(len(m.content.split()) + 4 for m in messages)

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        timeout_s: float | None = None,
    ) -> Generation:
        self.prompts.append(list(messages))
        self.params.append(params)
        text = self.replies[min(len(self.prompts), len(self.replies)) - 1]
        return Generation(
            text=text,
            prompt_tokens=self.count_tokens(messages),
            completion_tokens=len(text.split()) + 1,
            mean_logprob=-0.2,
            token_logprobs=(),
            finish_reason="stop",
            queue_ms=0.0,
            compute_ms=1.0,
            model=self.model,
            batch_size=1,
        )
