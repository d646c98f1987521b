"""Open a spreadsheet (.xlsx, .xls, .ods) as passes over the rows a person sees.

Each format has its reader: XLSX and ODS sheets are streamed from their XML (runner.input.xlsxreader,
runner.input.odsreader), old .xls files are read with xlrd, whose `formatting_info` gives number
formats, hidden rows and merged cells. Every reader yields SheetRow values and chooses the sheet
with one rule (runner.input.workbook), so the loader treats the three alike. What is not a
spreadsheet at all (an encrypted workbook, an HTML or SpreadsheetML 2003 file with an .xls name)
is refused with what to do instead.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import InputFileError, NoSuchSheetError, XlsxError
from runner.input.numberformat import render_number
from runner.input.odsreader import ENCRYPTED_MESSAGE, OdsSheet
from runner.input.workbook import HIDDEN, VERY_HIDDEN, VISIBLE, SheetInfo, SheetRow, choose_sheet
from runner.input.xlsxreader import XlsxSheet

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")

#: a fresh pass over the chosen sheet's rows
RowPasses = Callable[[], Iterator[SheetRow]]


_CFB = b"\xd0\xcf\x11\xe0"  # an OLE compound file: an old .xls, or an encrypted .xlsx/.ods
_ZIP = b"PK\x03\x04"


@dataclass(frozen=True)
class OpenedSheet:
    """A chosen sheet: its format and name, why the report should mention it (a hidden sheet), its passes."""

    format: str
    name: str
    note: str | None
    passes: RowPasses


def open_sheet(path: Path, sheet: str | None) -> OpenedSheet:
    """The sheet to read from a spreadsheet file; InputFileError (one line) for an unusable file."""
    suffix = path.suffix.lower()
    head = _head(path)
    try:
        if head.startswith(_CFB):
            if _encrypted(path):
                raise InputFileError(path, ENCRYPTED_MESSAGE)
            return _open_xls(path, sheet)  # an old .xls, whatever its name says: read as what it is
        if not head.startswith(_ZIP):
            raise InputFileError(path, _not_a_workbook(head, suffix))
        opened: XlsxSheet | OdsSheet = OdsSheet(str(path), sheet) if suffix == ".ods" else XlsxSheet(str(path), sheet)
        kind = "ods" if suffix == ".ods" else "xlsx"
        return OpenedSheet(kind, opened.name, opened.note, lambda: _guarded(path, opened.rows))
    except NoSuchSheetError as exc:
        raise InputFileError(path, f'no sheet named "{exc.sheet}" (sheets: {", ".join(exc.names)})') from None
    except XlsxError as exc:
        raise InputFileError(path, str(exc)) from None


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.read(512)
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def _encrypted(path: Path) -> bool:
    """An OLE file holding an `EncryptionInfo` stream is an encrypted .xlsx (whatever its name says)."""
    from xlrd.compdoc import CompDoc, CompDocError

    try:
        document = CompDoc(path.read_bytes(), logfile=io.StringIO())
    except (CompDocError, OSError, ValueError, IndexError):
        return False
    return any(entry.name in ("EncryptionInfo", "EncryptedPackage") for entry in document.dirlist)


def _not_a_workbook(head: bytes, suffix: str) -> str:
    """What a file with a spreadsheet's name but not its bytes is, and what to do with it."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"urn:schemas-microsoft-com:office:spreadsheet" in head or (
            text.startswith(b"<?xml") and b"<workbook" in text):
        return ("an Excel 2003 XML spreadsheet (SpreadsheetML), not a real " + suffix + " file; open it in Excel or "
                "LibreOffice and save it as .xlsx (or export it as CSV)")
    if text.startswith((b"<!doctype html", b"<html", b"<table", b"<meta", b"<head")) or b"<table" in text:
        return ("a web page (HTML table) saved with an " + suffix + " name, as many \"Export to Excel\" buttons make "
                "it; open it in Excel or LibreOffice and save it as .xlsx (or export it as CSV)")
    return f"not an {suffix.lstrip('.').upper()} file (is it a CSV saved with an {suffix} name?)"


def _guarded(path: Path, rows: Callable[[], Iterator[SheetRow]]) -> Iterator[SheetRow]:
    """The rows, with a broken part found midway turned into the usual one-line UsageError."""
    try:
        yield from rows()
    except XlsxError as exc:
        raise InputFileError(path, str(exc)) from None


# --- .xls ----------------------------------------------------------------------------------------


def _open_xls(path: Path, sheet: str | None) -> OpenedSheet:
    import xlrd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = xlrd.open_workbook(str(path), formatting_info=True, logfile=io.StringIO())
        states = {0: VISIBLE, 1: HIDDEN}
        sheets = [SheetInfo(one.name, states.get(one.visibility, VERY_HIDDEN)) for one in book.sheets()]
        active = next((index for index, one in enumerate(book.sheets()) if one.sheet_visible), 0)
        choice = choose_sheet(sheets, active, sheet)
        rows = list(_xls_rows(book, book.sheet_by_index(choice.index)))  # an .xls holds at most 65,536 rows
        book.release_resources()
    except (InputFileError, XlsxError):
        raise
    except Exception as exc:  # xlrd raises its own XLRDError and struct errors for a broken file
        if "encrypted" in str(exc):
            raise InputFileError(path, ENCRYPTED_MESSAGE) from None
        raise _unreadable(path, "xls", exc) from None
    return OpenedSheet("xls", choice.name, choice.note, lambda: iter(rows))


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
                text = row.take_number(column, render_number(repr(float(cell.value)), code, date1904=date1904))
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


def _unreadable(path: Path, kind: str, exc: Exception) -> InputFileError:
    """A disk fault says so; anything else means the file itself is broken."""
    if isinstance(exc, OSError):
        return InputFileError(path, f"cannot be read ({exc.strerror or exc})")
    return InputFileError(path, f"not a readable .{kind} file ({type(exc).__name__}: {exc})")
