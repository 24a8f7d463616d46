"""Markdown shape of list, key-point and table outputs: checks and light normalisation."""

from __future__ import annotations

import re

_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+\S")
_BULLET_MARK = re.compile(r"^(\s*)(?:[*+•])\s+")
_SEPARATOR_CELL = re.compile(r"^\s*:?-{3,}:?\s*$")


def normalise_bullets(text: str) -> str:
    """Use `- ` for unordered items, whatever bullet the model chose."""
    return "\n".join(_BULLET_MARK.sub(r"\1- ", line) for line in text.splitlines())


def list_problem(text: str, min_items: int = 2) -> str | None:
    """Why `text` is not a markdown list, or None when it is one.

    Every non-blank line must be an item, except one optional heading line before the first
    item (models like "Key points:").
    """
    lines = [line for line in text.splitlines() if line.strip()]
    items = [line for line in lines if _BULLET.match(line)]
    if len(items) < min_items:
        return f"not a list: {len(items)} item(s), need {min_items}"
    stray = [line for line in lines if not _BULLET.match(line)]
    heading_ok = len(stray) == 1 and lines[0] == stray[0] and stray[0].rstrip().endswith(":")
    if stray and not heading_ok:
        return f"not a list: {len(stray)} line(s) are not items"
    return None


def table_cells(line: str) -> list[str]:
    """Cells of one markdown table row (outer pipes optional)."""
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|"):
        row = row[:-1]
    return [cell.strip() for cell in row.split("|")]


def table_problem(text: str) -> str | None:
    """Why `text` is not a markdown table, or None when it is one.

    A table is a header row, a separator row (`---` cells), at least one body row, at least
    two columns and the same number of cells on every row.
    """
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 3:
        return f"not a table: {len(lines)} line(s), need header, separator and a row"
    if any("|" not in line for line in lines):
        return "not a table: a line has no cell separator"
    header, separator, *body = (table_cells(line) for line in lines)
    if len(header) < 2:
        return "not a table: fewer than 2 columns"
    if not all(_SEPARATOR_CELL.match(cell) for cell in separator):
        return "not a table: second line is not a separator row"
    widths = {len(header), len(separator), *(len(row) for row in body)}
    if len(widths) != 1:
        return f"not a table: rows have {sorted(widths)} cells"
    if not any(any(cell for cell in row) for row in body):
        return "not a table: body rows are empty"
    return None


def strip_table_markup(text: str) -> str:
    """The table's words without pipes and separator rows (for grounding checks)."""
    lines = []
    for line in text.splitlines():
        cells = table_cells(line)
        if all(_SEPARATOR_CELL.match(cell) for cell in cells):
            continue
        lines.append(" ; ".join(cells))
    return "\n".join(lines)
