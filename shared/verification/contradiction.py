"""Contradiction: an output may not say the opposite of what its text says.

"School is closed on Monday due to the storm." summarised as "School is open on Monday
despite the storm" keeps every name, date and negation count (there is no "not" to lose);
"the invoice is unpaid" rewritten as "the invoice is paid" drops only a prefix. The check:
a word of a known pair of opposites in the output, absent from the text, while the text
has its opposite (neither side negated, so "not closed" -> "open" stays right).
"""

from __future__ import annotations

from shared.verification.mood import negation_count
from shared.verification.text import tokens

# fmt: off
_PAIRS: tuple[tuple[str, str], ...] = (
    ("open", "closed"), ("open", "shut"), ("opened", "closed"), ("opens", "closes"),
    ("available", "unavailable"), ("paid", "unpaid"), ("accepted", "rejected"),
    ("accepted", "declined"), ("approved", "rejected"), ("approved", "denied"),
    ("confirmed", "cancelled"), ("confirmed", "canceled"), ("early", "late"),
    ("earlier", "later"), ("before", "after"), ("increase", "decrease"),
    ("increased", "decreased"), ("rises", "falls"), ("rose", "fell"), ("won", "lost"),
    ("win", "lose"), ("passed", "failed"), ("pass", "fail"), ("allowed", "forbidden"),
    ("allowed", "prohibited"), ("allowed", "banned"), ("present", "absent"),
    ("online", "offline"), ("full", "empty"), ("higher", "lower"), ("true", "false"),
    ("correct", "incorrect"), ("safe", "unsafe"), ("safe", "dangerous"), ("possible",
    "impossible"), ("legal", "illegal"), ("valid", "invalid"), ("enabled", "disabled"),
    ("included", "excluded"), ("arrived", "departed"), ("cheaper", "dearer"),
    ("profit", "loss"), ("success", "failure"), ("successful", "unsuccessful"),
    ("offen", "geschlossen"), ("geöffnet", "geschlossen"), ("bezahlt", "unbezahlt"),
    ("ouvert", "fermé"), ("ouverte", "fermée"), ("payé", "impayé"), ("abierto", "cerrado"),
    ("abierta", "cerrada"), ("pagado", "impagado"), ("aperto", "chiuso"), ("aperta", "chiusa"),
)
# fmt: on
_OPPOSITES: dict[str, set[str]] = {}
for _a, _b in _PAIRS:
    _OPPOSITES.setdefault(_a, set()).add(_b)
    _OPPOSITES.setdefault(_b, set()).add(_a)
# A negation this many words before a word turns it round ("not closed", "isn't open").
_NEGATION_REACH = 3


def problem(source: str, output: str) -> str | None:
    """Why `output` says the opposite of `source`, or None."""
    src, out = tokens(source), tokens(output)
    said = _plain(src)
    for word in _plain(out) - set(src):
        if _OPPOSITES.get(word, set()) & said and not _inflected_in(word, src):
            return "says the opposite of the text"
    return None


def _inflected_in(word: str, words: list[str]) -> bool:
    """The text has the word in another form ("close" for "closed"): it says both sides."""
    return len(word) >= 5 and any(w != word and w.startswith(word[:-2]) for w in words)


def _plain(words: list[str]) -> set[str]:
    """The words of the pairs that stand un-negated in `words`."""
    return {w for i, w in enumerate(words) if w in _OPPOSITES and not _negated_at(words, i)}


def _negated_at(words: list[str], i: int) -> bool:
    return negation_count(" ".join(words[max(0, i - _NEGATION_REACH) : i])) > 0


def turned_round(source: str, output: str) -> bool:
    """Whether `output` says a negated word of `source` by its opposite ("not closed" ->
    "open", "isn't available" -> "unavailable"): the negation is kept, in other words."""
    src, out = tokens(source), tokens(output)
    said = _plain(out)
    return any(
        word in _OPPOSITES and _negated_at(src, i) and _OPPOSITES[word] & said
        for i, word in enumerate(src)
    )
