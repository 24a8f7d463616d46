"""Leakage: the prompt's scaffolding never reaches the user.

Small models echo their instructions ("Here is the rewritten text:", "Le message entre et
est le suivant", "<text>") or chat around the answer. A pattern counts only when the user's
own text does not contain it (an e-mail may well say "Here is the report:"), and any run of
words taken from the instructions is caught however it is phrased.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared.verification.text import tokens

_SCAFFOLDING = re.compile(
    "|".join(
        (
            # Chatty openers before a colon: "Sure! Here is the professional version:".
            r"^\s*(?:sure|certainly|of course|okay|ok|absolutely|here(?:'s| is| are)|voici|"
            r"hier ist|aquí está|ecco|claro|bien sûr)\b[^\n]{0,80}?[:：]",
            r"\b(?:rewritten|revised|corrected|proofread|improved|updated|friendlier|more "
            r"professional|concise) (?:version|text|message|email|e-mail|sentence)\b",
            r"\b(?:le|la|el|das|der|die|il|o|the) (?:message|texte|mensaje|texto|nachricht|"
            r"testo|mensagem|text)\b[^\n]{0,30}?\b(?:suivant|siguiente|folgt|seguente|"
            r"seguinte|as follows|below|entre)\b",
            r"\bas an ai\b|\bi (?:cannot|can't|am unable to) (?:help|assist|rewrite)\b",
            # The model talking to the user about the task instead of doing it.
            r"\b(?:apologi[sz]e|sorry) for (?:the|any) confusion\b|\bi(?:'m| am) not sure what "
            r"you mean\b|\bi don't (?:know|understand) what you mean\b|\b(?:provide|share) "
            r"(?:me with )?(?:more|the|additional) (?:context|details|information|text)\b|"
            r"\bclarify (?:your|the) (?:question|request)\b",
            r"</?(?:text|input|message|output|user_text|document|notifications?)>",
            r"```",
            r"^\s*(?:output|answer|result|rewrite|rewritten|proofread|corrected|summary|"
            r"résumé|zusammenfassung|resumen|riassunto|resumo|original|tone|operation)\s*[:：]",
            r"\b(?:original|input) (?:text|message)\b",
        )
    ),
    re.IGNORECASE | re.MULTILINE,
)
# A run of this many words copied from the instructions is scaffolding, not content.
INSTRUCTION_WORDS = 5
# Worked examples are ordinary prose ("could you please send me"), so only a longer run
# copied from one counts: that is the example itself, not a common phrase.
EXAMPLE_WORDS = 8


def problem(
    source: str, output: str, instructions: Iterable[str] = (), examples: Iterable[str] = ()
) -> str | None:
    """Why `output` carries prompt scaffolding, or None.

    `instructions` are the prompt's own texts; `examples` the worked examples it showed.
    """
    for match in _SCAFFOLDING.finditer(output):
        if match.group(0).strip().lower() not in source.lower():
            return "prompt scaffolding in the output"
    source_words, out_words = tokens(source), tokens(output)
    out_grams = _grams(out_words, INSTRUCTION_WORDS) - _grams(source_words, INSTRUCTION_WORDS)
    for instruction in instructions:
        if out_grams & _grams(tokens(instruction), INSTRUCTION_WORDS):
            return "instructions copied into the output"
    long_grams = _grams(out_words, EXAMPLE_WORDS) - _grams(source_words, EXAMPLE_WORDS)
    for example in examples:
        if long_grams & _grams(tokens(example), EXAMPLE_WORDS):
            return "a worked example copied into the output"
    return None


def _grams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
