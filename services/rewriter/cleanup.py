"""Turn a raw model answer into the output text: strip wrappers models add around answers.

Only wrappers are removed (code fences, our own delimiters, a leading "Here is ...:" line,
quotes the input did not have); the content itself is never edited here, so the guards
judge what the model really wrote.
"""

from __future__ import annotations

import re

from schemas.rewrite import WritingOperation
from services.rewriter import shapes
from services.rewriter.prompts import CLOSE_TAG, OPEN_TAG

_FENCE = re.compile(r"^```[\w-]*\n(.*?)\n?```$", re.DOTALL)
_PREAMBLE = re.compile(
    # An optional chatty sentence first ("Sure, I understand your request."), then the
    # announcement itself ("Here is the rewritten text in a warm, friendly tone:").
    r"^(?:(?:sure|certainly|of course|okay|ok|absolutely|i understand)\b[^\n:]{0,80}?[.!]\s+)?"
    r"(?:sure[,!.]?\s*)?(?:here(?:'s| is| are)\b[^\n]*|(?:corrected|proofread|rewritten|"
    r"revised|summary|summarised|summarized)(?: text| version)?)\s*:\s*\n?",
    re.IGNORECASE,
)
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"))


def clean(raw: str, source: str, operation: WritingOperation) -> str:
    """The answer without wrappers; proofreads keep the input's outer whitespace."""
    text = raw.strip()
    text = text.replace(OPEN_TAG, "").replace(CLOSE_TAG, "").strip()
    fenced = _FENCE.match(text)
    if fenced and not source.lstrip().startswith("```"):
        text = fenced.group(1).strip()
    preamble = _PREAMBLE.match(text)
    # The user's own opening ("Here is the report: ...") is content, not a wrapper.
    if preamble and preamble.group(0).strip().lower() not in source.lower():
        text = text[preamble.end() :].strip()
    for left, right in _QUOTES:
        quoted = len(text) >= 2 and text.startswith(left) and text.endswith(right)
        if quoted and not source.strip().startswith(left):
            text = text[len(left) : -len(right)].strip()
    if operation in (WritingOperation.LIST, WritingOperation.KEY_POINTS):
        text = shapes.normalise_bullets(text)
    if operation is WritingOperation.PROOFREAD:
        # Leading/trailing whitespace is not a proofreading edit; keep the user's.
        lead = source[: len(source) - len(source.lstrip())]
        trail = source[len(source.rstrip()) :]
        text = f"{lead}{text}{trail}"
    return text
