"""Open a spreadsheet (.xlsx, .xls, .ods) as passes over the rows a person sees.

Each format has its reader: XLSX and ODS sheets are streamed from their XML (runner.input.xlsxreader,
and `_ods_rows` below: an ODS cell keeps the very text the sheet displays), old .xls files are
read with xlrd, whose `formatting_info` gives number formats, hidden rows and merged cells.
Every reader yields SheetRow values, so the loader treats the three alike.
"""

from __future__ import annotations

import html
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Element is only a type in annotations here: every parse goes through defusedxml below.
from xml.etree.ElementTree import Element  # nosec B405

from defusedxml.ElementTree import iterparse  # a hostile file's entity bombs and DTDs are refused

from runner.errors import InputFileError, NoSuchSheetError, XlsxError
from runner.input.numberformat import render_number
from runner.input.xlsxcells import SheetRow
from runner.input.xlsxreader import XlsxSheet

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")

#: a fresh pass over the chosen sheet's rows
RowPasses = Callable[[], Iterator[SheetRow]]


def open_sheet(path: Path, sheet: str | None) -> tuple[str, str, RowPasses]:
    """(format, chosen sheet name, passes) for a spreadsheet; UsageError for an unusable file."""
    suffix = path.suffix.lower()
    head = _head(path)
    try:
        if suffix == ".xls":
            if not head.startswith(b"\xd0\xcf\x11\xe0"):
                raise InputFileError(path, "not an old Excel .xls file (is it a CSV or XLSX with an .xls name?)")
            return ("xls", *_open_xls(path, sheet))
        if not head.startswith(b"PK\x03\x04"):
            if head.startswith(b"\xd0\xcf\x11\xe0"):
                raise InputFileError(path, "an old .xls or encrypted workbook; save it as a plain .xlsx or CSV, "
                                 "or name it .xls")
            raise InputFileError(path, f"not an {suffix.lstrip('.').upper()} file (is it a CSV saved with an "
                             f"{suffix} name?)")
        if suffix == ".ods":
            return ("ods", *_open_ods(path, sheet))
        opened = XlsxSheet(str(path), sheet)
        return "xlsx", opened.name, lambda: _guarded(path, opened.rows)
    except NoSuchSheetError as exc:
        raise InputFileError(path, f'no sheet named "{exc.sheet}" (sheets: {", ".join(exc.names)})') from None
    except XlsxError as exc:
        raise InputFileError(path, str(exc)) from None


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.read(8)
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def _guarded(path: Path, rows: Callable[[], Iterator[SheetRow]]) -> Iterator[SheetRow]:
    """The rows, with a broken part found midway turned into the usual one-line UsageError."""
    try:
        yield from rows()
    except XlsxError as exc:
        raise InputFileError(path, str(exc)) from None


# --- .xls ----------------------------------------------------------------------------------------


def _open_xls(path: Path, sheet: str | None) -> tuple[str, RowPasses]:
    import xlrd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
        names = book.sheet_names()
        chosen = names[0] if sheet is None else sheet
        if chosen not in names:
            raise InputFileError(path, f'no sheet named "{chosen}" (sheets: {", ".join(names)})')
        rows = list(_xls_rows(book, book.sheet_by_name(chosen)))  # an .xls holds at most 65,536 rows
        book.release_resources()
    except InputFileError:
        raise
    except Exception as exc:  # xlrd raises its own XLRDError and struct errors for a broken file
        raise _unreadable(path, "xls", exc) from None
    return chosen, lambda: iter(rows)


def _xls_rows(book: Any, sheet: Any) -> Iterator[SheetRow]:
    import xlrd

    date1904 = book.datemode == 1
    merges = {(rlo, clo): (rhi, chi) for rlo, rhi, clo, chi in sheet.merged_cells}
    covered: dict[tuple[int, int], tuple[int, int]] = {
        (r, c): (rlo, clo) for (rlo, clo), (rhi, chi) in merges.items()
        for r in range(rlo, rhi) for c in range(clo, chi) if (r, c) != (rlo, clo)
    }
    shown: dict[tuple[int, int], str] = {}
    for index in range(sheet.nrows):
        row = SheetRow(index + 1, [])
        info = sheet.rowinfo_map.get(index)
        if info is not None and info.hidden:
            row.hidden = "hidden"
        for column, cell in enumerate(sheet.row(index)):
            if cell.ctype == xlrd.XL_CELL_ERROR:
                text = xlrd.error_text_from_code.get(cell.value, "#VALUE!")
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                text = "TRUE" if cell.value else "FALSE"
            elif cell.ctype in (xlrd.XL_CELL_NUMBER, xlrd.XL_CELL_DATE):
                xf = book.xf_list[cell.xf_index]
                code = book.format_map[xf.format_key].format_str if xf.format_key in book.format_map else "General"
                rendered = render_number(repr(float(cell.value)), code, date1904=date1904)
                text = rendered.text
                if rendered.problem is not None:
                    row.problems[column] = rendered.problem
                if not rendered.date:
                    row.numbers.append(column)
            else:
                text = str(cell.value) if cell.ctype == xlrd.XL_CELL_TEXT else ""
            row.cells.append(text)
            if (index, column) in merges:
                shown[(index, column)] = text
        for (r, c), anchor in covered.items():
            if r == index:
                while len(row.cells) <= c:
                    row.cells.append("")
                row.cells[c] = shown.get(anchor, "")
        while row.cells and not row.cells[-1]:
            row.cells.pop()
        yield row


# --- .ods ----------------------------------------------------------------------------------------

_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODS_ROW, _ODS_CELL, _ODS_COVERED = f"{_TABLE}table-row", f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"
_ODS_TABLE = f"{_TABLE}table"
_ODS_TABLE_NAME = re.compile(rb"<table:table\s[^>]*?\btable:name=\"([^\"]*)\"")
_REPEAT_LIMIT = 1024  # LibreOffice pads a sheet with a million repeated empty rows and cells


def _open_ods(path: Path, sheet: str | None) -> tuple[str, RowPasses]:
    names = _ods_sheet_names(path)
    chosen = names[0] if sheet is None else sheet
    if chosen not in names:
        raise InputFileError(path, f'no sheet named "{chosen}" (sheets: {", ".join(names)})')
    return chosen, lambda: _ods_rows(path, chosen)


def _unreadable(path: Path, kind: str, exc: Exception) -> InputFileError:
    """A disk fault says so; anything else means the file itself is broken."""
    if isinstance(exc, OSError):
        return InputFileError(path, f"cannot be read ({exc.strerror or exc})")
    return InputFileError(path, f"not a readable .{kind} file ({type(exc).__name__}: {exc})")


def _ods_content(path: Path) -> Any:
    try:
        archive = zipfile.ZipFile(path)
        return archive, archive.open("content.xml")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise _unreadable(path, "ods", exc) from None


def _ods_sheet_names(path: Path) -> list[str]:
    """The sheets' names, from a byte scan of content.xml: parsing it whole would build the tree."""
    archive, stream = _ods_content(path)
    names: list[str] = []
    carry = b""
    try:
        with archive, stream:
            while block := stream.read(1 << 20):
                data = carry + block
                cut = data.rfind(b"<")
                keep = cut if cut >= 0 and len(data) - cut < 4096 else len(data)
                names.extend(_ods_names(data, keep))
                carry = data[keep:]
            names.extend(_ods_names(carry, len(carry)))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, "ods", exc) from None
    if not names:
        raise InputFileError(path, "not a readable .ods file (no sheets)")
    return names


def _ods_names(data: bytes, end: int) -> list[str]:
    return [html.unescape(found.group(1).decode("utf-8")) for found in _ODS_TABLE_NAME.finditer(data, 0, end)]


def _ods_text(cell: Element) -> str:
    """The text the cell displays: its paragraphs, with spaces, tabs and line breaks put back."""
    lines = []
    for paragraph in cell.iter(f"{_TEXT}p"):
        parts = [paragraph.text or ""]
        for child in paragraph:
            if child.tag == f"{_TEXT}s":
                parts.append(" " * int(child.get(f"{_TEXT}c", "1")))
            elif child.tag == f"{_TEXT}tab":
                parts.append("\t")
            else:
                parts.append("".join(child.itertext()))
            parts.append(child.tail or "")
        lines.append("".join(parts))
    return "\n".join(lines)


def _ods_rows(path: Path, chosen: str) -> Iterator[SheetRow]:
    try:
        yield from _ods_sheet_rows(path, chosen)
    except (OSError, SyntaxError, ValueError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, "ods", exc) from None


def _ods_sheet_rows(path: Path, chosen: str) -> Iterator[SheetRow]:
    archive, stream = _ods_content(path)
    with archive, stream:
        inside = False
        number = 0
        spans: dict[int, tuple[int, str]] = {}  # column -> (last row it covers, the anchor's text)
        open_elements: list[Element] = []  # the parser's path: a row read is removed from its parent
        for event, element in iterparse(stream, events=("start", "end")):
            if event == "start":
                open_elements.append(element)
            else:
                open_elements.pop()
            if element.tag == _ODS_TABLE:
                if event == "start":
                    inside = element.get(f"{_TABLE}name") == chosen
                elif inside:
                    return
                continue
            if event != "end" or not inside or element.tag != _ODS_ROW:
                continue
            repeat = int(element.get(f"{_TABLE}number-rows-repeated", "1"))
            row = _ods_row(element, number + 1, spans)
            visibility = element.get(f"{_TABLE}visibility", "visible")
            if visibility != "visible":
                row.hidden = "filtered out" if visibility == "filter" else "hidden"
            if open_elements:
                open_elements[-1].remove(element)  # flat memory: the tree never holds more than a row
            if row.cells:
                for offset in range(min(repeat, _REPEAT_LIMIT)):
                    yield SheetRow(number + 1 + offset, list(row.cells), row.hidden, dict(row.problems),
                                   list(row.numbers))
            number += repeat


def _ods_row(element: Element, number: int, spans: dict[int, tuple[int, str]]) -> SheetRow:
    row = SheetRow(number, [])
    column = 0
    for cell in element:
        if cell.tag not in (_ODS_CELL, _ODS_COVERED):
            continue
        repeat = min(int(cell.get(f"{_TABLE}number-columns-repeated", "1")), _REPEAT_LIMIT)
        if cell.tag == _ODS_COVERED:
            text = spans[column][1] if column in spans and spans[column][0] >= number else ""
        else:
            text = _ods_text(cell)
            kind = cell.get(f"{_OFFICE}value-type")
            if kind == "date":  # shown in the locale's form; the stored ISO value is what the expiry parser reads
                text = cell.get(f"{_OFFICE}date-value", text).replace("T", " ").removesuffix(" 00:00:00")
            if kind in ("float", "percentage", "currency"):
                row.numbers.append(column)
                digits = render_number(cell.get(f"{_OFFICE}value", ""), "0")
                if digits.problem is not None:
                    row.problems[column] = digits.problem
            rows_spanned = int(cell.get(f"{_TABLE}number-rows-spanned", "1"))
            columns_spanned = int(cell.get(f"{_TABLE}number-columns-spanned", "1"))
            for spanned in range(column, column + columns_spanned):
                spans[spanned] = (number + rows_spanned - 1, text)
        # LibreOffice pads every row with a run of ~1,000 empty cells: empty runs are only written out
        # when a cell with text follows them.
        if text:
            row.cells.extend([""] * (column - len(row.cells)))
            row.cells.extend([text] * repeat)
        column += repeat
    return row
