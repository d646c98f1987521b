"""Stream one sheet of an OpenDocument spreadsheet (.ods) as the rows a person sees.

An ODS cell keeps the very text the sheet displays (`<text:p>`), so that is what is read, with the
spaces, tabs and line breaks its markup encodes put back; a note on the cell (`<office:annotation>`)
is kept out, as it is not part of the value. Dates are read from their ISO value, numbers keep
their stored digits beside the shown text. content.xml goes through expat (runner.input.xmlstream):
one Python call per element, no tree, flat memory however long the sheet.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from functools import lru_cache
from typing import IO

from runner.errors import XlsxError
from runner.input.numberformat import render_number
from runner.input.workbook import HIDDEN, VISIBLE, SheetInfo, SheetRow, choose_sheet
from runner.input.xlsxreader import UNSAVED_PROBLEM, iso_moment
from runner.input.xmlstream import XML_ERRORS, parse_all, stream

_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_CONFIG = "urn:oasis:names:tc:opendocument:xmlns:config:1.0}"
_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}"
#: what a password-protected workbook is told (the .xlsx and .xls readers say the same)
ENCRYPTED_MESSAGE = ("password-protected: save a copy without a password (File > Info > Protect Workbook > Encrypt) "
                     "and use that")
_REPEAT_LIMIT = 1024  # LibreOffice pads a sheet with a million repeated empty rows and cells

_ROW, _CELL, _COVERED = f"{_TABLE}table-row", f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"
_SHEET, _PARAGRAPH, _HEADING = f"{_TABLE}table", f"{_TEXT}p", f"{_TEXT}h"
_SPACE, _TAB, _BREAK, _NOTE = f"{_TEXT}s", f"{_TEXT}tab", f"{_TEXT}line-break", f"{_OFFICE}annotation"
_A_NAME, _A_STYLE, _A_DISPLAY = f"{_TABLE}name", f"{_TABLE}style-name", f"{_TABLE}display"
_A_ROWS, _A_COLUMNS = f"{_TABLE}number-rows-repeated", f"{_TABLE}number-columns-repeated"
_A_ROW_SPAN, _A_COLUMN_SPAN = f"{_TABLE}number-rows-spanned", f"{_TABLE}number-columns-spanned"
_A_VISIBILITY, _A_FORMULA = f"{_TABLE}visibility", f"{_TABLE}formula"
_A_TYPE, _A_VALUE, _A_DATE = f"{_OFFICE}value-type", f"{_OFFICE}value", f"{_OFFICE}date-value"


class OdsSheet:
    """One sheet of an .ods file: chosen when opened, read in as many passes as the loader needs."""

    def __init__(self, path: str, sheet: str | None) -> None:
        self._path = path
        sheets, active = _sheets(path, sheet)
        choice = choose_sheet(sheets, active, sheet)
        self.name, self.note = choice.name, choice.note

    def rows(self) -> Iterator[SheetRow]:
        try:
            archive = zipfile.ZipFile(self._path)
            with archive, archive.open("content.xml") as source:
                yield from _RowReader(self.name).read(source)
        except OSError as exc:
            raise XlsxError(f"cannot be read ({exc.strerror or exc})") from None
        except (zipfile.BadZipFile, KeyError, *XML_ERRORS, ValueError) as exc:
            raise XlsxError(f"not a readable .ods file ({type(exc).__name__}: {exc})") from None


def _sheets(path: str, wanted: str | None) -> tuple[list[SheetInfo], int]:
    """The sheets in order (a table whose style says `display="false"` is hidden), and the active one.

    The list stops at the sheet that will be read when it is visible (the one named, else the active
    one, else the first): the tables after it are not needed, and parsing them would cost as much as
    reading the sheet. A sheet not found, or hidden, lists them all.
    """
    names: list[tuple[str, str]] = []
    hidden_styles: set[str] = set()
    style = [""]
    target: list[str | None] = [wanted]
    enough: list[bool] = [False]

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == _SHEET:
            name, table_style = attrs.get(_A_NAME, ""), attrs.get(_A_STYLE, "")
            names.append((name, table_style))
            enough[0] = table_style not in hidden_styles and target[0] in (None, name)
        elif tag == f"{_STYLE}style":
            style[0] = attrs.get(f"{_STYLE}name", "")
        elif tag == f"{_STYLE}table-properties" and attrs.get(_A_DISPLAY) == "false":
            hidden_styles.add(style[0])

    try:
        with zipfile.ZipFile(path) as archive:
            if _encrypted(archive):
                raise XlsxError(ENCRYPTED_MESSAGE)
            active_name = _active_table(archive)
            target[0] = wanted if wanted is not None else active_name
            with archive.open("content.xml") as source:
                for _ in stream(source, start, None, None, [], lambda: enough[0]):
                    pass
    except XlsxError:
        raise
    except OSError as exc:
        raise XlsxError(f"cannot be read ({exc.strerror or exc})") from None
    except (zipfile.BadZipFile, KeyError, *XML_ERRORS, ValueError) as exc:
        raise XlsxError(f"not a readable .ods file ({type(exc).__name__}: {exc})") from None
    if not names:
        raise XlsxError("not a readable .ods file (no sheets)")
    sheets = [SheetInfo(name, HIDDEN if table_style in hidden_styles else VISIBLE) for name, table_style in names]
    active = next((index for index, (name, _) in enumerate(names) if name == active_name), 0)
    return sheets, active


def _encrypted(archive: zipfile.ZipFile) -> bool:
    """A password-protected .ods: its manifest gives the parts' encryption data (content.xml is ciphertext)."""
    if "META-INF/manifest.xml" not in archive.namelist():
        return False
    found: list[bool] = []

    def start(tag: str, _attrs: dict[str, str]) -> None:
        if tag == f"{_MANIFEST}encryption-data":
            found.append(True)

    with archive.open("META-INF/manifest.xml") as source:
        parse_all(source, start)
    return bool(found)


def _active_table(archive: zipfile.ZipFile) -> str | None:
    """settings.xml's first `ActiveTable`: the sheet the file opens on."""
    if "settings.xml" not in archive.namelist():
        return None
    found: list[str] = []
    inside = [False]

    def start(tag: str, attrs: dict[str, str]) -> None:
        inside[0] = tag == f"{_CONFIG}config-item" and attrs.get(f"{_CONFIG}name") == "ActiveTable" and not found

    def end(_tag: str) -> None:
        if inside[0]:
            inside[0] = False
            found.append("".join(parts))

    parts: list[str] = []

    def text(data: str) -> None:
        if inside[0]:
            parts.append(data)

    with archive.open("settings.xml") as source:
        parse_all(source, start, end, text)
    return found[0] if found else None


@lru_cache(maxsize=4096)
def _digits(value: str) -> tuple[str | None, str | None]:
    """(the stored whole number's digits or None, why the number lost digits or None)."""
    rendered = render_number(value, "General")
    return rendered.digits, rendered.problem


class _RowReader:
    """expat handlers for one table's rows; `read` yields them with LibreOffice's repeats expanded."""

    def __init__(self, chosen: str) -> None:
        self._chosen = chosen
        self._inside = self._finished = False
        self._number = 0  # the last row number read
        self._spans: dict[int, tuple[int, str]] = {}  # column -> (last row it covers, the anchor's text)
        self._done: list[SheetRow] = []
        self._row = SheetRow(0, [])
        self._repeat = 1
        self._column = 0
        self._cell_repeat = 1
        self._cell: dict[str, str] | None = None  # the attributes of the cell being read
        self._covered = False
        self._lines: list[list[str]] = []
        self._paragraph: list[str] | None = None
        self._notes = 0  # depth inside <office:annotation>: its text is not the cell's

    def read(self, source: IO[bytes]) -> Iterator[SheetRow]:
        yield from stream(source, self.start, self.end, self.text, self._done, lambda: self._finished)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if not self._inside:
            if tag == _SHEET and attrs.get(_A_NAME) == self._chosen:
                self._inside = True
            return
        if self._notes or tag == _NOTE:
            self._notes += tag == _NOTE
        elif tag in (_PARAGRAPH, _HEADING):
            self._paragraph = []
        elif self._paragraph is not None:
            if tag == _SPACE:
                self._paragraph.append(" " * int(attrs.get(f"{_TEXT}c", "1")))
            elif tag == _TAB:
                self._paragraph.append("\t")
            elif tag == _BREAK:
                self._paragraph.append("\n")
        elif tag in (_CELL, _COVERED):
            self._cell, self._covered, self._lines = attrs, tag == _COVERED, []
            self._cell_repeat = min(int(attrs.get(_A_COLUMNS, "1")), _REPEAT_LIMIT)
        elif tag == _ROW:
            self._row = SheetRow(self._number + 1, [])
            self._repeat, self._column = int(attrs.get(_A_ROWS, "1")), 0
            visibility = attrs.get(_A_VISIBILITY, "visible")
            if visibility != "visible":
                self._row.hidden = "filtered out" if visibility == "filter" else "hidden"

    def end(self, tag: str) -> None:
        if not self._inside:
            return
        if self._notes:
            self._notes -= tag == _NOTE
        elif tag in (_PARAGRAPH, _HEADING):
            self._lines.append(self._paragraph or [])
            self._paragraph = None
        elif tag in (_CELL, _COVERED):
            if self._lines or self._covered or len(self._cell or ()) > 1:
                self._end_cell()
            else:  # an empty cell (the usual padding): nothing to read
                self._column += self._cell_repeat
        elif tag == _ROW:
            row = self._row
            if row.cells:
                for offset in range(min(self._repeat, _REPEAT_LIMIT)):
                    self._done.append(SheetRow(row.row + offset, list(row.cells), row.hidden, dict(row.problems),
                                               dict(row.numbers)))
            self._number += self._repeat
        elif tag == _SHEET:
            self._inside, self._finished = False, True

    def text(self, data: str) -> None:
        if self._paragraph is not None and not self._notes:
            self._paragraph.append(data)

    def _end_cell(self) -> None:
        attrs, row, column, number = self._cell or {}, self._row, self._column, self._row.row
        if self._covered:
            span = self._spans.get(column)
            text = span[1] if span is not None and span[0] >= number else ""
        else:
            lines = self._lines
            text = lines[0][0] if len(lines) == 1 and len(lines[0]) == 1 else "\n".join(map("".join, lines))
            kind = attrs.get(_A_TYPE)
            if kind == "date":  # shown in the locale's form; the stored ISO value is what the expiry parser reads
                text = iso_moment(attrs.get(_A_DATE, text))
            elif kind in ("float", "percentage", "currency"):
                digits, problem = _digits(attrs.get(_A_VALUE, ""))  # cached: values repeat down a column
                row.numbers[column] = None if kind == "percentage" else digits
                if problem is not None:
                    row.problems[column] = problem
            elif kind is None and _A_FORMULA in attrs:
                row.problems[column] = UNSAVED_PROBLEM.format(formula=attrs[_A_FORMULA].removeprefix("of:"))
            if _A_ROW_SPAN in attrs or _A_COLUMN_SPAN in attrs:  # a merged range: covered cells show its text
                rows_spanned = int(attrs.get(_A_ROW_SPAN, "1"))
                for spanned in range(column, column + int(attrs.get(_A_COLUMN_SPAN, "1"))):
                    self._spans[spanned] = (number + rows_spanned - 1, text)
        # LibreOffice pads every row with a run of ~1,000 empty cells: empty runs are only written out
        # when a cell with text follows them.
        if text:
            row.cells.extend([""] * (column - len(row.cells)))
            row.cells.extend([text] * self._cell_repeat)
        self._column = column + self._cell_repeat
        self._cell = None
