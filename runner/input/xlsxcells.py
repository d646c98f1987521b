"""One XLSX `<row>` element into the SheetRow a person sees: each cell's shown text and what it hides.

The hot loop of the XLSX reader (`xlsxreader.py`): the usual cells are read straight from one
regular expression's groups; a formula, rich text or an unusual layout takes a slower, careful path.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from runner.input.numberformat import Rendered, render_number


@dataclass(slots=True)
class SheetRow:
    """One row as shown: its spreadsheet number, the text of each cell, and what the cells hide."""

    row: int
    cells: list[str]
    hidden: str | None = None  # "hidden" or "filtered out": the person does not see the row
    #: column index -> why the cell's text is not what was typed (an unsaved formula, lost digits)
    problems: dict[int, str] = field(default_factory=dict)
    #: column indexes of number cells (a phone there has lost any leading 0 or +)
    numbers: list[int] = field(default_factory=list)


def column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index - 1



# A cell as every writer seen lays it out (r, s, t in that order), its value in the usual shapes:
# (column letters, s, t, other attributes, <v> text, inline <t> text, anything else inside).
_PREFIX = r"(?:[A-Za-z_][\w.-]*:)?"
_CELL = re.compile(
    rf"<{_PREFIX}c(?=[\s/>])(?: r=\"([A-Z]+)\d+\")?(?: s=\"(\d+)\")?(?: t=\"(\w+)\")?([^>]*?)"
    rf"(?:/>|>(?:<v>([^<]*)</v>|<is><t>([^<]*)</t></is>|(.*?))</{_PREFIX}c>)",
    re.S,
)
_ATTRIBUTE = re.compile(r"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_VALUE = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?v\b[^>]*?(?:/>|>(.*?)</(?:[A-Za-z_][\w.-]*:)?v>)", re.S)
_FORMULA = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?f\b[^>]*?(?:/>|>(.*?)</(?:[A-Za-z_][\w.-]*:)?f>)", re.S)
PHONETIC = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?rPh\b.*?</(?:[A-Za-z_][\w.-]*:)?rPh>", re.S)
TEXT_RUN = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?t\b[^>]*?(?:/>|>(.*?)</(?:[A-Za-z_][\w.-]*:)?t>)", re.S)
_ROW_NUMBER = re.compile(r"\br\s*=\s*[\"'](\d+)[\"']")


def xml_text(text: str) -> str:
    return html.unescape(text) if "&" in text else text


class CellReader:
    """Turns one `<row>` element's text into a SheetRow."""

    def __init__(self, strings: list[str], formats: list[str], date1904: bool) -> None:
        self._strings = strings
        self._formats = formats
        self._date1904 = date1904
        self._row = 0
        self._columns: dict[str, int] = {}  # "AB" -> 27: a sheet uses few column letters, parsed once each
        self._numbers: dict[tuple[str, str], Rendered] = {}  # dates and codes repeat down a column

    def row(self, attributes: str, body: str) -> SheetRow:
        number = _ROW_NUMBER.search(attributes)
        self._row = int(number.group(1)) if number else self._row + 1
        row = SheetRow(self._row, [])
        cells = row.cells
        columns, strings, numbers = self._columns, self._strings, self._numbers
        column = -1
        # The hot loop (a million cells in a big sheet): the usual cells are read straight from the
        # regular expression's groups; anything unusual goes through _unusual.
        for letters, style, kind, other, value, inline, inner in _CELL.findall(body):
            if other.strip():
                letters, style, kind = self._attributes(other, letters, style, kind)
                inner = inner or (f"<v>{value}</v>" if value else f"<is><t>{inline}</t></is>" if inline else "")
            if letters:
                found = columns.get(letters)
                column = found if found is not None else self._column(letters)
            else:
                column += 1
            if column > len(cells):
                cells.extend([""] * (column - len(cells)))
            if inner:
                text = self._unusual(kind or "n", int(style or 0), inner, row, column)
            elif kind == "s" and value:
                text = strings[int(value)]
            elif kind == "inlineStr":
                text = xml_text(inline)
            elif value and (not kind or kind == "n"):
                key = (value, style)
                rendered = numbers.get(key) or self._number(key)
                if rendered.problem is not None:
                    row.problems[column] = rendered.problem
                if not rendered.date:
                    row.numbers.append(column)
                text = rendered.text
            else:
                text = self._unusual(kind or "n", int(style or 0), f"<v>{value}</v>" if value else "", row, column)
            if column == len(cells):
                cells.append(text)
            else:
                cells[column] = text
        end = len(cells)
        while end and not cells[end - 1]:
            end -= 1
        del cells[end:]
        return row

    def _attributes(self, other: str, letters: str, style: str, kind: str) -> tuple[str, str, str]:
        """r, s and t of a cell whose attributes are not laid out the usual way."""
        attrs = {name: double or single for name, double, single in _ATTRIBUTE.findall(other)}
        ref = attrs.get("r")
        return (ref.rstrip("0123456789") if ref else letters, attrs.get("s", style), attrs.get("t", kind))

    def _column(self, letters: str) -> int:
        index = self._columns[letters] = column_index(letters)
        return index

    def _number(self, key: tuple[str, str]) -> Rendered:
        raw, style_text = key
        style = int(style_text or 0)
        code = self._formats[style] if style < len(self._formats) else "General"
        if len(self._numbers) > 10_000:
            self._numbers.clear()
        rendered = self._numbers[key] = render_number(raw, code, date1904=self._date1904)
        return rendered

    def _unusual(self, kind: str, style: int, body: str, row: SheetRow, column: int) -> str:
        """A cell with a formula, rich text, an empty value or another type than a number or string."""
        found = _VALUE.search(body) if body else None
        raw = found.group(1) if found is not None else None
        if kind == "inlineStr":
            return xml_text("".join(part or "" for part in TEXT_RUN.findall(PHONETIC.sub("", body))))
        if raw is None:
            formula = _FORMULA.search(body) if body else None
            # A number formula always saves digits; an empty text result (`t="str"`, `<v/>`) is a real "".
            if formula is not None and (found is None or kind != "str"):
                text = formula.group(1)
                shown = "=" + xml_text(text) if text else "a shared formula"
                row.problems[column] = (f"the cell holds a formula ({shown}) saved without its result; open the file "
                                        "in Excel or LibreOffice and save it again, or paste the column as values")
            return ""
        if kind == "s":
            return self._strings[int(raw)]
        if kind in ("str", "e"):
            return xml_text(raw)
        if kind == "b":
            return "TRUE" if raw.strip() == "1" else "FALSE"
        if kind == "d":
            return raw.replace("T", " ").removesuffix(" 00:00:00")
        rendered = self._number((raw, str(style)))
        if rendered.problem is not None:
            row.problems[column] = rendered.problem
        if not rendered.date:
            row.numbers.append(column)
        return rendered.text
