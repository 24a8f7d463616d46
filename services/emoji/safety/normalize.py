"""Spellings a filter must see through: case, diacritics, width, kana, leetspeak, spacing.

`variants(text)` gives the forms the rules are matched against. Every form is casefolded
and stripped of combining marks ("abdrücken" -> "abdrucken", "ß" -> "ss"); NFKC first folds
full- and half-width forms ("ｴﾛ" -> "エロ"); hiragana become katakana so one pattern covers
both scripts. The leetspeak form maps digits and symbols to letters ("p0rn" -> "porn"), and
the joined form removes separators between single letters ("n.a.z.i", "k k k" -> "nazi",
"kkk"). Japanese is written without spaces, so Japanese patterns match substrings.
"""

from __future__ import annotations

import re
import unicodedata

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"}
)
_SPACED_LETTERS = re.compile(r"(?<!\w)(?:\w[\s.\-_*]){2,}\w(?!\w)")
_SEPARATORS = re.compile(r"[\s.\-_*]")
# Hiragana U+3041..U+3096 sit 0x60 below their katakana.
_HIRAGANA = re.compile("[\u3041-\u3096]")


def kana_to_katakana(text: str) -> str:
    return _HIRAGANA.sub(lambda m: chr(ord(m.group()) + 0x60), text)


def fold(text: str) -> str:
    """NFKC, casefold, no combining marks, katakana for kana, one space between words."""
    text = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", text)
    # Only Latin-script diacritics go: a Japanese dakuten (゛) changes the word.
    stripped = "".join(
        ch
        for i, ch in enumerate(decomposed)
        if not (unicodedata.combining(ch) and i and decomposed[i - 1].isascii())
    )
    text = unicodedata.normalize("NFC", stripped)
    return " ".join(kana_to_katakana(text).split())


def variants(text: str) -> tuple[str, ...]:
    """The folded text, its leetspeak reading and its joined-letters reading (distinct)."""
    folded = fold(text)
    leet = folded.translate(_LEET)
    joined = _SPACED_LETTERS.sub(lambda m: _SEPARATORS.sub("", m.group()), leet)
    return tuple(dict.fromkeys((folded, leet, joined)))
