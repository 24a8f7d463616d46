"""One writing request as a routed task: local drafts, the remote prompt and the verifier.

The router decides where the answer comes from; this class only knows how to ask the local
model, what to send a fallback model, and how to judge any answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from schemas.envelope import RequestEnvelope
from schemas.rewrite import Tone, WritingOperation, WritingRequest
from schemas.topics import Feature
from services.rewriter import cleanup, guards, policy, prompts, proofread
from services.rewriter.edits import edit_ratio
from services.rewriter.lints import LintChecker
from services.rewriter.settings import RewriterSettings
from services.rewriter.sources import RuleCorrector
from shared.inference.candidates import (
    Candidate,
    Generator,
    best_of,
    candidate_params,
    consensus,
    generate_with,
)
from shared.inference.types import ChatMessage, Generation, GenerationParams
from shared.routing.reasons import EscalationReason
from shared.routing.task import EnvelopeFields, LocalAttempt
from shared.verification import tone as tones

log = logging.getLogger(__name__)


class Draft(BaseModel):
    """An answer from any tier, before proofreading edits are computed from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str


class WritingTask(EnvelopeFields):
    """A `RoutedTask[Draft]` for one writing request."""

    feature = str(Feature.REWRITE)
    response_model = Draft

    def __init__(
        self,
        request: RequestEnvelope[WritingRequest],
        generator: Generator,
        checker: LintChecker,
        settings: RewriterSettings,
        corrector: RuleCorrector | None = None,
    ) -> None:
        self._request = request
        self._generator = generator
        self._checker = checker
        self._settings = settings
        self._corrector = corrector
        self.payload = request.payload

    @property
    def envelope(self) -> RequestEnvelope[Any]:
        return self._request

    def pre_reasons(self) -> Sequence[EscalationReason]:
        """Free-form instructions and texts beyond the local buckets go to the fallback tier.

        Language and quality-hint reasons are the router's own (CAIRN_LOCAL_LANGUAGES,
        CAIRN_ESCALATE_QUALITY_HINTS).
        """
        reasons: list[EscalationReason] = []
        if self.payload.operation is WritingOperation.INSTRUCTION:
            reasons.append(EscalationReason.FREEFORM_INSTRUCTION)
        if self._too_long():
            reasons.append(EscalationReason.TOO_LONG)
        return reasons

    async def run_local(self) -> LocalAttempt[Draft]:
        """Draft with the local model; a rejected draft is retried once with the reason.

        The router verifies the returned draft again; checking here as well is what lets a
        second local draft happen before the request leaves the deployment.
        """
        if self._too_long():
            # The generator would refuse the prompt; say why instead of failing, so the
            # router escalates (or the handler serves its safe fallback).
            return LocalAttempt(
                result=None,
                model="none",
                escalate=EscalationReason.TOO_LONG,
                detail="text too long for the local model",
            )
        problem: str | None = None
        totals = _Totals()
        draft = Draft(text="")
        generation: Generation | None = None
        for attempt in range(self._settings.local_attempts):
            base = GenerationParams(
                max_new_tokens=self._new_token_budget(),
                temperature=0.0 if attempt == 0 else policy.RETRY_TEMPERATURE,
                seed=attempt if attempt else None,
            )
            messages = self._local_messages(problem)
            if attempt and self._generator.count_tokens(messages) > self._max_prompt_tokens:
                break  # the retry note would not fit; escalate with the first verdict
            choice = await best_of(
                generate_with(self._generator, messages, self._settings.local_timeout_s),
                candidate_params(base, self._settings.candidates),
                lambda g: Draft(text=cleanup.clean(g.text, self.payload.text, self._op)),
                self.verify,
                self._score,
            )
            for candidate in choice.candidates:
                totals.add(candidate.generation)
            generation, draft, problem = (
                choice.chosen.generation,
                choice.chosen.result,
                choice.chosen.problem,
            )
            if problem is None:
                break
            log.info(
                "request %s: local round %d: none of %d candidates passed",
                self.request_id,
                attempt + 1,
                len(choice.candidates),
            )
            log.debug("request %s: first candidate rejected: %s", self.request_id, problem)
        assert generation is not None  # local_attempts >= 1
        model = generation.model
        if problem is None and self._op is WritingOperation.PROOFREAD:
            draft, model = await self._combined(choice.candidates, draft, model)
        return LocalAttempt(
            result=draft,
            model=model,
            confidence=generation.mean_logprob,
            prompt_tokens=totals.prompt_tokens,
            completion_tokens=totals.completion_tokens,
            queue_ms=totals.queue_ms,
            compute_ms=totals.compute_ms,
            detail=problem,
        )

    async def _combined(
        self, candidates: Sequence[Candidate[Draft]], chosen: Draft, model: str
    ) -> tuple[Draft, str]:
        """The best verified proofread among the model's drafts, the rule checkers' and
        their combinations (services/rewriter/sources.py); the model's own choice when
        no rule checker is configured or nothing else passes."""
        if self._corrector is None:
            return chosen, model
        drafts = [
            proofread.ModelDraft(c.result.text, verified=c.problem is None) for c in candidates
        ]
        best = await asyncio.to_thread(
            proofread.best_verified,
            self.payload.text,
            drafts,
            self._corrector,
            self.verify_text,
        )
        if best is None:
            return chosen, model
        return Draft(text=best.proposal.text), best.proposal.label(model)

    def remote_prompt(self) -> list[dict[str, str]]:
        """The same delimited prompt the local model gets."""
        return prompts.messages(self.payload)

    async def verify(self, result: Draft) -> str | None:
        """None when the draft is a faithful result of the operation, else the reason."""
        # Harper linting is ~40 ms on an email and releases the GIL: keep it off the loop.
        return await asyncio.to_thread(self.verify_text, result.text)

    def verify_text(self, text: str) -> str | None:
        """`verify` on a plain text, in the calling thread."""
        return guards.verify(
            self._op,
            self.payload.tone,
            self.payload.text,
            text,
            self._checker.spelling_errors,
            instructions=prompts.INSTRUCTION_TEXTS,
            examples=prompts.EXAMPLE_TEXTS,
            english=self._request.locale.lower().startswith("en"),
        )

    def _score(self, draft: Draft, peers: Sequence[Draft]) -> float:
        """How good a verified draft is for its operation (higher wins)."""
        source, text = self.payload.text, draft.text
        if self._op is WritingOperation.PROOFREAD:
            # Fewest edits that still fix the spelling: a proofread is a light touch.
            return -self._checker.spelling_errors(text) - edit_ratio(source, text)
        if self._op is WritingOperation.REWRITE:
            # The strongest move towards the tone, at equal (already verified) meaning.
            kind = tones.ToneKind((self.payload.tone or Tone.PROFESSIONAL).value)
            if kind is tones.ToneKind.CONCISE:
                return -len(text) / max(1, len(source))
            measure = tones.formality if kind is tones.ToneKind.PROFESSIONAL else tones.warmth
            return measure(text) - measure(source)
        return consensus(text, [p.text for p in peers])

    @property
    def _op(self) -> WritingOperation:
        return self.payload.operation

    def _local_messages(self, rejected_because: str | None) -> list[ChatMessage]:
        """The local prompt, with worked examples when they fit the local buckets.

        A long text that fits alone is still drafted locally, without the examples.
        """

        def build(shown: bool) -> list[ChatMessage]:
            turns = prompts.local_messages(self.payload, rejected_because, demonstrations=shown)
            return [ChatMessage(role=t["role"], content=t["content"]) for t in turns]  # type: ignore[arg-type]

        if self._settings.demonstrations:
            messages = build(True)
            if self._generator.count_tokens(messages) <= self._max_prompt_tokens:
                return messages
        return build(False)

    def _text_tokens(self) -> int:
        # The difference cancels the chat template's own tokens (Qwen adds a system turn).
        def count(text: str) -> int:
            return self._generator.count_tokens([ChatMessage(role="user", content=text)])

        return max(count(self.payload.text) - count(""), 1)

    def _new_token_budget(self) -> int:
        wanted = _wanted_new_tokens(self._op, self._text_tokens())
        return min(wanted, self._settings.max_new_tokens)

    def _too_long(self) -> bool:
        prompt_tokens = self._generator.count_tokens(self._local_messages(None))
        wanted = _wanted_new_tokens(self._op, self._text_tokens())
        return prompt_tokens > self._max_prompt_tokens or wanted > self._settings.max_new_tokens

    @property
    def _max_prompt_tokens(self) -> int:
        return self._generator.max_prompt_tokens


def _wanted_new_tokens(operation: WritingOperation, text_tokens: int) -> int:
    per_token = policy.NEW_TOKENS_PER_INPUT_TOKEN[operation]
    return max(policy.MIN_NEW_TOKENS, round(text_tokens * per_token) + 16)


class _Totals:
    """Token and time totals over the local drafts of one request."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.queue_ms = 0.0
        self.compute_ms = 0.0

    def add(self, generation: Generation) -> None:
        self.prompt_tokens += generation.prompt_tokens
        self.completion_tokens += generation.completion_tokens
        self.queue_ms += generation.queue_ms
        self.compute_ms += generation.compute_ms
