"""What a model (local or remote) contributes to a summary, and how its raw text is tidied."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from services.summarizer.text import cap, sentences

_PREFIX = re.compile(r"^\s*(?:\*\*)?(?:updated summary|summary)(?:\*\*)?\s*[:\-–]\s*", re.I)
_QUOTES = "\"'“”‘’`"


class SummaryDraft(BaseModel):
    """The response model of the remote tier; the handler builds the full result itself."""

    summary: str = Field(description="One or two sentences, only facts from the notifications.")


def tidy(raw: str, max_chars: int) -> str:
    """First non-empty line, without a "Summary:" label or quotes, fitted to `max_chars`.

    A sentence the model repeats (small models loop) is kept once.
    Over the cap, whole sentences are kept when they fit; otherwise the text is cut at a word.
    """
    text = next((ln for ln in raw.splitlines() if ln.strip()), "")
    text = _PREFIX.sub("", text).strip().strip(_QUOTES).strip()
    text = " ".join(_once(sentences(" ".join(text.split()))))
    if len(text) <= max_chars:
        return text
    kept = ""
    for sentence in sentences(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > max_chars:
            break
        kept = candidate
    return kept or cap(text, max_chars)


def _once(parts: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for part in parts:
        key = " ".join(part.lower().split())
        if key not in seen:
            seen.add(key)
            kept.append(part)
    return kept
