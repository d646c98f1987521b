"""Stream one XLSX sheet as the rows a person sees: formatted text, hidden rows, merges, errors.

pandas (through openpyxl) hands back stored values: an error cell becomes NaN (so `#N/A` reads as
empty), a zero-padded number loses its zeros, a formula without a saved value is indistinguishable
from an empty cell, and hidden rows and merged cells are invisible. openpyxl's read-only mode,
the only one with flat memory, drops row attributes and merges too. So the sheet's XML is read
here with the standard library's streaming parser; openpyxl supplies the number-format table and
date conversion (runner.input.numberformat).

Two passes over the sheet XML: a byte scan for `<mergeCell>` and `<autoFilter>` (they follow
the cell data), then the rows. Memory holds the shared strings, the merges, and one row.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import IO
from xml.etree.ElementTree import Element, iterparse

from runner.input.numberformat import number_format_code, render_number

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_C, _V, _F, _IS, _T, _R, _RPH = (f"{_MAIN}{tag}" for tag in ("c", "v", "f", "is", "t", "r", "rPh"))
_ROW, _SHEET_DATA = f"{_MAIN}row", f"{_MAIN}sheetData"
_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*?\bref=\"([A-Za-z]+\d+):([A-Za-z]+\d+)\"")
_AUTOFILTER = re.compile(rb"<(?:\w+:)?autoFilter\b")
_CELL_REF = re.compile(r"([A-Za-z]+)(\d+)")
_TRUE = ("1", "true")
_SCAN_BLOCK = 1 << 20


class XlsxError(Exception):
    """The workbook cannot be read as XLSX; the message says why."""


class NoSuchSheetError(XlsxError):
    def __init__(self, sheet: str, names: list[str]) -> None:
        super().__init__(sheet)
        self.sheet = sheet
        self.names = names


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


@dataclass(frozen=True)
class _Book:
    sheet_names: list[str]
    sheet_paths: dict[str, str]
    strings: list[str]
    formats: list[str]  # cellXfs index -> number format code
    date1904: bool


def sheet_names(path: str) -> list[str]:
    with _open_zip(path) as archive:
        return _workbook(archive)[0]


def read_sheet(path: str, sheet: str | None) -> tuple[str, Generator[SheetRow, None, None]]:
    """The chosen sheet's name (the first one when `sheet` is None) and its rows, row 1 first.

    Rows the file leaves out (empty ones) are not yielded; the numbers say where each row is.
    """
    with _open_zip(path) as archive:
        book = _load_book(archive)
    chosen = book.sheet_names[0] if sheet is None else sheet
    if chosen not in book.sheet_paths:
        raise NoSuchSheetError(chosen, book.sheet_names)
    return chosen, _rows(path, book, book.sheet_paths[chosen])


def _open_zip(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise XlsxError(f"not a readable XLSX file ({type(exc).__name__}: {exc})") from None
    except OSError as exc:  # the disk, not the workbook: say so instead of calling the file broken
        raise XlsxError(f"cannot be read ({exc.strerror or exc})") from None


def _member(archive: zipfile.ZipFile, name: str) -> IO[bytes]:
    try:
        return archive.open(name)
    except KeyError:
        raise XlsxError(f"not a readable XLSX file (it has no {name})") from None


def _relationships(archive: zipfile.ZipFile, base: str) -> dict[str, tuple[str, str]]:
    """rId -> (type suffix, part name) for the part at `base` (e.g. xl/workbook.xml)."""
    folder, name = posixpath.split(base)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    if rels not in archive.namelist():
        return {}
    found: dict[str, tuple[str, str]] = {}
    for _, element in iterparse(_member(archive, rels)):
        if element.tag == f"{_PKG_REL}Relationship":
            target = element.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            found[element.get("Id", "")] = (element.get("Type", "").rsplit("/", 1)[-1], part)
    return found


def _workbook(archive: zipfile.ZipFile) -> tuple[list[str], dict[str, str], bool, dict[str, str]]:
    """Sheet names in order, name -> sheet part, the 1904 date system flag, and the other parts by type."""
    root_rels = _relationships(archive, "")  # _rels/.rels names the workbook part
    workbook = next((part for kind, part in root_rels.values() if kind == "officeDocument"), "xl/workbook.xml")
    rels = _relationships(archive, workbook)
    names: list[str] = []
    paths: dict[str, str] = {}
    date1904 = False
    for _, element in iterparse(_member(archive, workbook)):
        if element.tag == f"{_MAIN}sheet":
            name = element.get("name", "")
            names.append(name)
            rel = rels.get(element.get(f"{_REL}id", ""))
            if rel is not None and rel[0] == "worksheet":
                paths[name] = rel[1]
        elif element.tag == f"{_MAIN}workbookPr":
            date1904 = element.get("date1904", "0") in _TRUE
    if not names:
        raise XlsxError("not a readable XLSX file (the workbook lists no sheets)")
    parts = {kind: part for kind, part in rels.values()}
    return names, paths, date1904, parts


def _load_book(archive: zipfile.ZipFile) -> _Book:
    names, paths, date1904, parts = _workbook(archive)
    strings = _shared_strings(archive, parts.get("sharedStrings"))
    formats = _cell_formats(archive, parts.get("styles"))
    return _Book(names, paths, strings, formats, date1904)


def _text_of(element: Element) -> str:
    """The text of a string item: plain `<t>`, or rich-text runs; phonetic guides (`<rPh>`) left out."""
    plain = element.find(_T)
    if plain is not None:
        return plain.text or ""
    return "".join(run.findtext(_T) or "" for run in element.iter(_R))


def _shared_strings(archive: zipfile.ZipFile, part: str | None) -> list[str]:
    if part is None or part not in archive.namelist():
        return []
    strings: list[str] = []
    for _, element in iterparse(_member(archive, part)):
        if element.tag == f"{_MAIN}si":
            strings.append(_text_of(element))
            element.clear()
    return strings


def _cell_formats(archive: zipfile.ZipFile, part: str | None) -> list[str]:
    if part is None or part not in archive.namelist():
        return []
    custom: dict[int, str] = {}
    formats: list[str] = []
    in_cell_xfs = False
    for event, element in iterparse(_member(archive, part), events=("start", "end")):
        if element.tag == f"{_MAIN}cellXfs":
            in_cell_xfs = event == "start"
        elif event == "end" and element.tag == f"{_MAIN}numFmt":
            custom[int(element.get("numFmtId", "0"))] = element.get("formatCode", "General")
        elif event == "end" and element.tag == f"{_MAIN}xf" and in_cell_xfs:
            formats.append(number_format_code(int(element.get("numFmtId", "0")), custom))
    return formats


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index - 1


def _reference(ref: str) -> tuple[int, int]:
    found = _CELL_REF.fullmatch(ref)
    if found is None:
        raise XlsxError(f"not a readable XLSX file (bad cell reference {ref!r})")
    return int(found.group(2)), _column_index(found.group(1))


@dataclass(slots=True)
class _Merge:
    first_row: int
    last_row: int
    first_column: int
    last_column: int
    value: str = ""
    problem: str | None = None


def _scan_tail(archive: zipfile.ZipFile, part: str) -> tuple[list[_Merge], bool]:
    """Merged ranges and whether the sheet has an auto filter, found by a byte scan of the XML."""
    merges: list[_Merge] = []
    has_filter = False
    carry = b""

    def scan(data: bytes, end: int) -> None:
        for found in _MERGE.finditer(data, 0, end):
            (row1, col1), (row2, col2) = _reference(found.group(1).decode()), _reference(found.group(2).decode())
            merges.append(_Merge(min(row1, row2), max(row1, row2), min(col1, col2), max(col1, col2)))

    with _member(archive, part) as stream:
        while block := stream.read(_SCAN_BLOCK):
            data = carry + block
            # The last tag may be cut by the block boundary: it is scanned with the next block.
            cut = data.rfind(b"<")
            keep = cut if cut >= 0 and len(data) - cut < 512 else len(data)
            scan(data, keep)
            has_filter = has_filter or _AUTOFILTER.search(data) is not None
            carry = data[keep:]
    scan(carry, len(carry))
    return merges, has_filter


def _rows(path: str, book: _Book, part: str) -> Generator[SheetRow, None, None]:
    archive = _open_zip(path)
    try:
        merges, has_filter = _scan_tail(archive, part)
        hidden_reason = "filtered out" if has_filter else "hidden"
        reader = _CellReader(book)
        pending = sorted(merges, key=lambda merge: merge.first_row)
        active: list[_Merge] = []
        sheet_data: Element | None = None
        with _member(archive, part) as stream:
            for event, element in iterparse(stream, events=("start", "end")):
                if event == "start":
                    if element.tag == _SHEET_DATA:
                        sheet_data = element
                    continue
                if element.tag != _ROW:
                    continue
                row = reader.row(element)
                if element.get("hidden", "0") in _TRUE:
                    row.hidden = hidden_reason
                if pending or active:
                    active = _apply_merges(row, pending, active)
                if sheet_data is not None:
                    sheet_data.clear()  # flat memory: the parsed row is no longer needed
                yield row
    except XlsxError:
        raise
    except OSError as exc:  # the disk, not the workbook
        raise XlsxError(f"cannot be read ({exc.strerror or exc})") from None
    except (zipfile.BadZipFile, SyntaxError, ValueError, KeyError, IndexError) as exc:
        raise XlsxError(f"not a readable XLSX file ({type(exc).__name__}: {exc})") from None
    finally:
        archive.close()


def _apply_merges(row: SheetRow, pending: list[_Merge], active: list[_Merge]) -> list[_Merge]:
    """Give every cell a merged range covers the value of its top-left cell, as the sheet shows it."""
    while pending and pending[0].first_row <= row.row:
        merge = pending.pop(0)
        if merge.last_row >= row.row:
            active.append(merge)
            if merge.first_row == row.row and merge.first_column < len(row.cells):
                merge.value = row.cells[merge.first_column]
                merge.problem = row.problems.get(merge.first_column)
    still: list[_Merge] = []
    for merge in active:
        if merge.last_row < row.row:
            continue
        width = merge.last_column + 1
        if len(row.cells) < width and merge.value:
            row.cells.extend([""] * (width - len(row.cells)))
        for column in range(merge.first_column, min(width, len(row.cells))):
            if (row.row, column) != (merge.first_row, merge.first_column):
                row.cells[column] = merge.value
                if merge.problem is not None:
                    row.problems[column] = merge.problem
        still.append(merge)
    return still


class _CellReader:
    """Turns one `<row>` element into a SheetRow."""

    def __init__(self, book: _Book) -> None:
        self._strings = book.strings
        self._formats = book.formats
        self._date1904 = book.date1904
        self._row = 0

    def row(self, element: Element) -> SheetRow:
        number = element.get("r")
        self._row = int(number) if number else self._row + 1
        row = SheetRow(self._row, [])
        cells = row.cells
        column = -1
        for cell in element.iter(_C):
            ref = cell.get("r")
            column = _reference(ref)[1] if ref else column + 1
            if column > len(cells):
                cells.extend([""] * (column - len(cells)))
            text = self._cell(cell, row, column)
            if column == len(cells):
                cells.append(text)
            else:
                cells[column] = text
        end = len(cells)
        while end and not cells[end - 1]:
            end -= 1
        del cells[end:]
        return row

    def _cell(self, cell: Element, row: SheetRow, column: int) -> str:
        kind = cell.get("t", "n")
        value = cell.find(_V)
        raw = value.text if value is not None else None
        if raw is None and kind != "inlineStr":
            formula = cell.find(_F)
            # A number formula always saves digits; an empty text result (`t="str"`, `<v/>`) is a real "".
            if formula is not None and (value is None or kind != "str"):
                shown = "=" + (formula.text or "") if formula.text else "a shared formula"
                row.problems[column] = (f"the cell holds a formula ({shown}) saved without its result; open the file "
                                        "in Excel or LibreOffice and save it again, or paste the column as values")
            return ""
        if kind == "s":
            return self._strings[int(raw or "0")]
        if kind in ("str", "e"):
            return raw or ""
        if kind == "inlineStr":
            inline = cell.find(_IS)
            return _text_of(inline) if inline is not None else ""
        if kind == "b":
            return "TRUE" if raw == "1" else "FALSE"
        if kind == "d":
            return (raw or "").replace("T", " ").removesuffix(" 00:00:00")
        style = int(cell.get("s", "0"))
        code = self._formats[style] if style < len(self._formats) else "General"
        rendered = render_number(raw or "", code, date1904=self._date1904)
        if rendered.problem is not None:
            row.problems[column] = rendered.problem
        if not rendered.date:
            row.numbers.append(column)
        return rendered.text
