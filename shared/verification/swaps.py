"""Swaps: a rewrite may not move a detail from one statement to another.

"Parking lot B is closed from June 3 to June 7. Use lot C." became "Parking lot C is closed
from June 3 to June 7." (a real draft of the tone eval): every name and date is still in the
text, so the fact checks pass, and the reader now parks in the closed lot. The check aligns
each sentence of the output with the source sentence it restates (most content words in
common) and rejects a sentence that has put another of the text's details in the same place
as one of that sentence's own: same kind, same neighbouring word ("lot B" -> "lot C").
"""

from __future__ import annotations

import re

from shared.verification.facts import Entity, EntityKind, extract
from shared.verification.text import content_stems, sentences, tokens

# How alike an output sentence and a source sentence must be (Jaccard of content stems) to
# be the same statement: a restatement keeps most words, a merged or new one does not.
MIN_ALIGNMENT = 0.5


def problem(source: str, output: str) -> str | None:
    """Why `output` moves a detail of `source` into another statement, or None."""
    statements = [(s, content_stems(s), extract(s)) for s in sentences(source)]
    if not statements:
        return None
    everywhere = extract(source)
    for sentence in sentences(output):
        stems = content_stems(sentence)
        if not stems:
            continue
        text, aligned, facts = max(statements, key=lambda st: _jaccard(stems, st[1]))
        if _jaccard(stems, aligned) < MIN_ALIGNMENT:
            continue
        mine = extract(sentence)
        added = [e for e in mine if not _matched(e, facts) and _matched(e, everywhere)]
        dropped = [e for e in facts if not _matched(e, mine)]
        for new in added:
            for old in dropped:
                if old.kind is new.kind and _slots(old, text) & _slots(new, sentence):
                    return "moves a detail of the text into another statement"
    return None


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _matched(entity: Entity, among: list[Entity]) -> bool:
    return any(_same(entity, e) for e in among)


def _same(a: Entity, b: Entity) -> bool:
    if a.kind is not b.kind:
        return False
    if a.kind is EntityKind.NAME:
        # "Lot B" and "B", "Dr. Chen" and "Chen": one name written with more or fewer words.
        return bool(_name_words(a) & _name_words(b))
    return bool(a.keys & b.keys)


def _name_words(entity: Entity) -> set[str]:
    return {w for key in entity.keys if isinstance(key, tuple) for w in key}


def _slots(entity: Entity, sentence: str) -> set[tuple[str, str]]:
    """The words right before and after the entity's mentions: the place it fills."""
    found: set[tuple[str, str]] = set()
    for m in re.finditer(r"(?<!\w)" + re.escape(entity.text) + r"(?!\w)", sentence):
        before, after = tokens(sentence[: m.start()]), tokens(sentence[m.end() :])
        if before:
            found.add(("before", before[-1]))
        if after:
            found.add(("after", after[0]))
    return found
