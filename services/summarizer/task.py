"""One notification stack as a routed task: local draft, remote prompt and the guard.

The router decides where the summary comes from; this class knows how to ask the local model,
what to send a fallback model, and how to judge any answer (`verify`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas.envelope import RequestEnvelope
from schemas.summarize import Notification, NotificationStack
from schemas.topics import Feature
from services.summarizer import prompts
from services.summarizer.draft import SummaryDraft, tidy
from services.summarizer.settings import SummarizerSettings
from shared.inference.candidates import (
    Generator,
    best_of,
    candidate_params,
    consensus,
    generate_with,
)
from shared.inference.types import ChatMessage, Generation, GenerationParams
from shared.routing.reasons import EscalationReason
from shared.routing.task import EnvelopeFields, LocalAttempt
from shared.verification import attribution, contradiction, fluency, leakage, perspective
from shared.verification.grounding import Sources, check

log = logging.getLogger(__name__)

# One sentence is one line: a newline means the model has moved on to something else.
_STOP = ("\n",)


@dataclass
class LocalStats:
    """What the local tier did for one request (read by the handler's statistics)."""

    drafts: int = 0
    rejected: int = 0


class SummaryTask(EnvelopeFields):
    """A `RoutedTask[SummaryDraft]` for one stack (or for what is new since its last summary)."""

    response_model = SummaryDraft
    feature = str(Feature.SUMMARIZE)

    def __init__(
        self,
        request: RequestEnvelope[NotificationStack],
        notifications: Sequence[Notification],
        sources: Sources,
        generator: Generator,
        settings: SummarizerSettings,
        previous: str | None = None,
    ) -> None:
        """`notifications` are those to summarise (all, or the new ones after `previous`);
        `sources` are the facts of the whole stack, which every answer is checked against."""
        self._request = request
        self._notifications = list(notifications)
        self._sources = sources
        self._generator = generator
        self._settings = settings
        self._previous = previous
        self.max_chars = request.payload.max_summary_chars
        self.stats = LocalStats()
        self._prompt_too_long: bool | None = None

    @property
    def envelope(self) -> RequestEnvelope[Any]:
        return self._request

    def pre_reasons(self) -> Sequence[EscalationReason]:
        """TOO_LONG when the prompt exceeds the local buckets. Language and quality-hint
        reasons are the router's own (CAIRN_LOCAL_LANGUAGES, CAIRN_ESCALATE_QUALITY_HINTS)."""
        return [EscalationReason.TOO_LONG] if self._too_long() else []

    def _too_long(self) -> bool:
        if self._prompt_too_long is None:
            tokens = self._generator.count_tokens(self._messages())
            self._prompt_too_long = tokens > self._generator.max_prompt_tokens
        return self._prompt_too_long

    async def run_local(self) -> LocalAttempt[SummaryDraft]:
        """Draft with the local model; a draft that fails the guard is retried once, with a
        stricter prompt naming what was invented.

        The router verifies the returned draft again; checking here as well is what lets the
        second local draft happen before the request leaves the deployment.
        """
        if self._too_long():
            # The router runs local even for a too-long prompt when no fallback is usable;
            # there is nothing to run, and the handler's extractive summary takes over.
            return LocalAttempt(
                result=None,
                model=self._settings.model or "local",
                escalate=EscalationReason.TOO_LONG,
                detail="prompt longer than the local model accepts",
            )
        problem: str | None = None
        prompt_tokens = completion_tokens = 0
        queue_ms = compute_ms = 0.0
        attempts = 2 if self._settings.regenerate else 1
        draft = SummaryDraft(summary="")
        generation: Generation | None = None
        base = GenerationParams(max_new_tokens=self._settings.max_new_tokens, stop=_STOP)
        for attempt in range(attempts):
            choice = await best_of(
                generate_with(
                    self._generator, self._messages(problem), self._settings.local_timeout_s
                ),
                candidate_params(base, self._settings.candidates),
                lambda g: SummaryDraft(summary=tidy(g.text, self.max_chars)),
                self.verify,
                lambda d, peers: consensus(d.summary, [p.summary for p in peers]),
            )
            for candidate in choice.candidates:
                self.stats.drafts += 1
                prompt_tokens += candidate.generation.prompt_tokens
                completion_tokens += candidate.generation.completion_tokens
                queue_ms += candidate.generation.queue_ms
                compute_ms += candidate.generation.compute_ms
            generation, draft, problem = (
                choice.chosen.generation,
                choice.chosen.result,
                choice.chosen.problem,
            )
            if problem is None:
                break
            self.stats.rejected += 1
            log.info(
                "request %s: local round %d: none of %d drafts passed",
                self.request_id,
                attempt + 1,
                len(choice.candidates),
            )
            log.debug("request %s: first draft rejected: %s", self.request_id, problem)
        assert generation is not None  # at least one attempt
        return LocalAttempt(
            result=draft,
            model=generation.model,
            confidence=generation.mean_logprob,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            queue_ms=queue_ms,
            compute_ms=compute_ms,
            detail=problem,
        )

    def remote_prompt(self) -> list[dict[str, str]]:
        """Instructions plus the stack (the router redacts contact details before sending)."""
        return prompts.remote_messages(self._notifications, self.max_chars, self._previous)

    async def verify(self, result: SummaryDraft) -> str | None:
        """None when the summary fits the cap and every entity in it is grounded."""
        return verify_summary(result.summary, self._sources, self.max_chars)

    def _messages(self, rejected: str | None = None) -> list[ChatMessage]:
        return prompts.local_messages(self._notifications, self.max_chars, self._previous, rejected)


def verify_summary(
    summary: str, sources: Sources, max_chars: int, *, generated: bool = True
) -> str | None:
    """The faithfulness guard plus the length cap; None means publishable.

    A generated summary must also read as one: no repetition, third person, and each claim
    attributed to the right person in the right mood. An extractive one (`generated=False`)
    quotes the notifications ("Anna: I'll be late."), so only the facts and the cap apply.
    """
    if not summary.strip():
        return "empty summary"
    if len(summary) > max_chars:
        return f"summary has {len(summary)} characters, cap is {max_chars}"
    report = check(summary, sources)
    if not report.ok:
        return f"not in the notifications: {report.describe()}"
    if not generated:
        return None
    texts = [m.text for m in sources.messages]
    conversation = len({m.speaker for m in sources.messages}) > 1
    return (
        leakage.problem(" ".join(texts), summary, prompts.INSTRUCTIONS)
        or fluency.problem(summary)
        or perspective.problem(summary, texts, conversation=conversation)
        or attribution.problem(summary, sources.messages)
        or contradiction.problem(" ".join(texts), summary)
    )
