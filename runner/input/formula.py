"""The formula guard shared by the report writers and the loader.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage return, which
some spreadsheets skip before one of those) as a formula. The report prefixes such cells with `'`
so they show as text; the loader removes that one `'`. A cell that already starts with `'` and a
trigger is guarded too, so `unguard_cell(guard_cell(x)) == x` for every x.
"""

from __future__ import annotations

FORMULA_TRIGGERS = frozenset("=+-@\t\r")
_FIRST_CHARS = FORMULA_TRIGGERS | {"'"}  # a cell starting with anything else needs no look (fast path)


def needs_guard(text: str) -> bool:
    """True for a trigger at the start, behind any number of `'` (so guarding stays reversible)."""
    return text.lstrip("'")[:1] in FORMULA_TRIGGERS


def guard_cell(text: str) -> str:
    if text[:1] not in _FIRST_CHARS:
        return text
    return "'" + text if needs_guard(text) else text


def unguard_cell(text: str) -> str:
    return text[1:] if text[:1] == "'" and needs_guard(text[1:]) else text


def guard_cells(cells: list[str]) -> list[str]:
    """guard_cell over a row, with the common case (no cell starts with a trigger or `'`) inline."""
    first = _FIRST_CHARS
    return [cell if cell[:1] not in first else guard_cell(cell) for cell in cells]
