"""Writing tools: proofread, rewrite in a tone, summary, key points, list, table, instruction."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from schemas.envelope import RequestEnvelope, ResultEnvelope, StrictModel
from schemas.limits import MAX_INSTRUCTION_CHARS, MAX_WRITING_TEXT_CHARS


class WritingOperation(StrEnum):
    PROOFREAD = "proofread"
    REWRITE = "rewrite"
    SUMMARY = "summary"
    KEY_POINTS = "key_points"
    LIST = "list"
    TABLE = "table"
    INSTRUCTION = "instruction"


class Tone(StrEnum):
    FRIENDLY = "friendly"
    PROFESSIONAL = "professional"
    CONCISE = "concise"


class WritingRequest(StrictModel):
    operation: WritingOperation
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_WRITING_TEXT_CHARS)]
    tone: Tone | None = Field(None, description="Required for rewrite, refused otherwise.")
    instruction: (
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_INSTRUCTION_CHARS)] | None
    ) = Field(None, description="Required for the free-form instruction operation.")

    @model_validator(mode="after")
    def _operation_arguments(self) -> WritingRequest:
        if not self.text.strip():
            raise ValueError("text is blank")
        if (self.operation is WritingOperation.REWRITE) != (self.tone is not None):
            raise ValueError("tone is required for operation 'rewrite' and only for it")
        if (self.operation is WritingOperation.INSTRUCTION) != (self.instruction is not None):
            raise ValueError("instruction is required for operation 'instruction' and only for it")
        return self


class Edit(StrictModel):
    """One proofreading edit: `text[start:end]` of the input became `replacement`."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    original: str
    replacement: str
    reason: str


class WritingResult(StrictModel):
    operation: WritingOperation
    text: str = Field(description="The output text (markdown for list and table).")
    edits: list[Edit] = Field(default_factory=list, description="Proofread only.")


RewriteRequest = RequestEnvelope[WritingRequest]
RewriteResult = ResultEnvelope[WritingResult]
