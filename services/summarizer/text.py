"""Length caps and sentence splitting that never cut a word (or an amount) in half."""

from __future__ import annotations

import re

ELLIPSIS = "…"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9#])")


def cap(text: str, max_chars: int) -> str:
    """`text` if it fits, else its longest word-boundary prefix that fits with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - len(ELLIPSIS) + 1]
    space = cut.rfind(" ")
    # One huge word: cutting it is the only way to respect the cap.
    head = cut[:space] if space > 0 else cut[: max_chars - len(ELLIPSIS)]
    return head.rstrip(" ,;:-–—") + ELLIPSIS


def sentences(text: str) -> list[str]:
    """Sentences of a short message, split after . ! ? when a new sentence visibly starts."""
    text = " ".join(text.split())
    return [s for s in _SENTENCE_END.split(text) if s]
