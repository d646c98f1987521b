"""Stream one XLSX sheet as the rows a person sees: formatted text, hidden rows, merges, errors.

pandas (through openpyxl) hands back stored values: an error cell becomes NaN (so `#N/A` reads as
empty), a zero-padded number loses its zeros, a formula without a saved value is indistinguishable
from an empty cell, and hidden rows and merged cells are invisible. openpyxl's read-only mode,
the only one with flat memory, drops row attributes and merges too. So the workbook's small parts
(sheet list, relationships, styles) are read here with the standard library's XML parser, and
the sheet itself, which is flat and regular, by splitting rows with str.find and reading cells
with one regular expression (an unusual cell takes a slower, careful path); openpyxl supplies the
number-format table and date conversion (runner.input.numberformat).

Two passes over the sheet XML: a byte scan for `<mergeCell>` and `<autoFilter>` (they follow
the cell data), then the rows. Memory holds the shared strings, the merges, and one block.
"""

from __future__ import annotations

import codecs
import posixpath
import re
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO

from defusedxml.ElementTree import iterparse  # a hostile file's entity bombs and DTDs are refused

from runner.errors import NoSuchSheetError, XlsxError
from runner.input.numberformat import number_format_code
from runner.input.xlsxcells import PHONETIC, TEXT_RUN, CellReader, SheetRow, column_index, xml_text

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*?\bref=\"([A-Za-z]+\d+):([A-Za-z]+\d+)\"")
_AUTOFILTER = re.compile(rb"<(?:\w+:)?autoFilter\b")
_CELL_REF = re.compile(r"([A-Za-z]+)(\d+)")
_TRUE = ("1", "true")
_SCAN_BLOCK = 1 << 20


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


class XlsxSheet:
    """One sheet of a workbook, opened once (its shared strings, formats and merges) and read in as
    many passes as the loader needs."""

    def __init__(self, path: str, sheet: str | None) -> None:
        with _open_zip(path) as archive:
            try:
                self._book = _load_book(archive)
            except OSError as exc:  # the disk, not the workbook
                raise XlsxError(f"cannot be read ({exc.strerror or exc})") from None
            except (zipfile.BadZipFile, SyntaxError, ValueError, KeyError, IndexError) as exc:
                # SyntaxError: ElementTree's ParseError; ValueError: defusedxml refusing a DTD or entity
                raise XlsxError(f"not a readable XLSX file ({type(exc).__name__}: {exc})") from None
        self.name = self._book.sheet_names[0] if sheet is None else sheet
        if self.name not in self._book.sheet_paths:
            raise NoSuchSheetError(self.name, self._book.sheet_names)
        self._path = path
        self._part = self._book.sheet_paths[self.name]
        self._tail: tuple[list[_Merge], bool] | None = None

    def rows(self) -> Generator[SheetRow, None, None]:
        """The rows, row 1 first; rows the file leaves out (empty ones) are not yielded."""
        if self._tail is None:
            with _open_zip(self._path) as archive:
                self._tail = _scan_tail(archive, self._part)
        merges, has_filter = self._tail
        # each pass fills the merges' values afresh
        fresh = [_Merge(m.first_row, m.last_row, m.first_column, m.last_column) for m in merges]
        return _rows(self._path, self._book, self._part, fresh, has_filter)


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
    with _member(archive, rels) as stream:
        for _, element in iterparse(stream):
            if element.tag == f"{_PKG_REL}Relationship":
                target = element.get("Target", "")
                absolute = target.startswith("/")
                part = target.lstrip("/") if absolute else posixpath.normpath(posixpath.join(folder, target))
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
    with _member(archive, workbook) as stream:
        for _, element in iterparse(stream):
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


def _shared_strings(archive: zipfile.ZipFile, part: str | None) -> list[str]:
    if part is None or part not in archive.namelist():
        return []
    with _member(archive, part) as stream:
        text = stream.read().decode("utf-8")  # the strings are all kept anyway: one read, one pass
    strings: list[str] = []
    for found in _STRING_ITEM.finditer(text):
        inner = found.group(1) or ""
        if inner.startswith("<t>") and inner.endswith("</t>") and inner.count("<") == 2:
            strings.append(xml_text(inner[3:-4]))  # the usual item: one plain run
        else:  # rich text runs, or a phonetic guide (<rPh>) that is not part of the text
            strings.append(xml_text("".join(part or "" for part in TEXT_RUN.findall(PHONETIC.sub("", inner)))))
    return strings


def _cell_formats(archive: zipfile.ZipFile, part: str | None) -> list[str]:
    if part is None or part not in archive.namelist():
        return []
    custom: dict[int, str] = {}
    formats: list[str] = []
    in_cell_xfs = False
    with _member(archive, part) as stream:
        for event, element in iterparse(stream, events=("start", "end")):
            if element.tag == f"{_MAIN}cellXfs":
                in_cell_xfs = event == "start"
            elif event == "end" and element.tag == f"{_MAIN}numFmt":
                custom[int(element.get("numFmtId", "0"))] = element.get("formatCode", "General")
            elif event == "end" and element.tag == f"{_MAIN}xf" and in_cell_xfs:
                formats.append(number_format_code(int(element.get("numFmtId", "0")), custom))
    return formats


def _reference(ref: str) -> tuple[int, int]:
    found = _CELL_REF.fullmatch(ref)
    if found is None:
        raise XlsxError(f"not a readable XLSX file (bad cell reference {ref!r})")
    return int(found.group(2)), column_index(found.group(1))


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
            if b"mergeCell" in data:  # the regular expression only where it can match: most sheets have none
                scan(data, keep)
            has_filter = has_filter or (b"autoFilter" in data and _AUTOFILTER.search(data) is not None)
            carry = data[keep:]
    scan(carry, len(carry))
    return merges, has_filter


def _rows(path: str, book: _Book, part: str, merges: list[_Merge], has_filter: bool
          ) -> Generator[SheetRow, None, None]:
    archive = _open_zip(path)
    try:
        hidden_reason = "filtered out" if has_filter else "hidden"
        reader = CellReader(book.strings, book.formats, book.date1904)
        pending = sorted(merges, key=lambda merge: merge.first_row)
        active: list[_Merge] = []
        with _member(archive, part) as stream:
            for attributes, body in _row_elements(stream):
                row = reader.row(attributes, body)
                if _HIDDEN.search(attributes):
                    row.hidden = hidden_reason
                if pending or active:
                    active = _apply_merges(row, pending, active)
                yield row
    except XlsxError:
        raise
    except OSError as exc:  # the disk, not the workbook
        raise XlsxError(f"cannot be read ({exc.strerror or exc})") from None
    except (zipfile.BadZipFile, ValueError, KeyError, IndexError) as exc:  # UnicodeDecodeError is a ValueError
        raise XlsxError(f"not a readable XLSX file ({type(exc).__name__}: {exc})") from None
    finally:
        archive.close()


def _row_elements(stream: IO[bytes]) -> Iterator[tuple[str, str]]:
    """(attributes, inner XML) of each `<row>` of the sheet, streamed block by block.

    The rows of a sheet are flat, regular XML (no nesting of rows, no comments or CDATA inside
    cells), so a regular expression over the text finds them about four times faster than an
    XML parser builds and discards elements; that is what keeps a 100,000-row sheet fast.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    opening = closing = ""
    while True:
        block = stream.read(_SCAN_BLOCK)
        pending += decoder.decode(block, final=not block)
        if not opening:
            found = _SHEET_DATA.search(pending)
            if found is None and block:
                continue
            prefix = found.group(1) or "" if found is not None else ""
            opening, closing = f"<{prefix}row", f"</{prefix}row>"
        start = end = 0
        while (start := pending.find(opening, end)) >= 0:  # str.find: memchr speed, no regex stepping
            tag_end = pending.find(">", start)
            if tag_end < 0:
                break  # the tag is cut by the block boundary: read on
            after = pending[start + len(opening)]
            if after not in " \t\r\n/>":  # <rowBreaks> and the like
                end = tag_end + 1
                continue
            if pending[tag_end - 1] == "/":
                yield pending[start + len(opening): tag_end - 1], ""
                end = tag_end + 1
                continue
            close = pending.find(closing, tag_end)
            if close < 0:
                break
            yield pending[start + len(opening): tag_end], pending[tag_end + 1: close]
            end = close + len(closing)
        pending = pending[end:] if start < 0 or end else pending[start:]
        if not block:
            return


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


_SHEET_DATA = re.compile(r"<([A-Za-z_][\w.-]*:)?sheetData\b")
_STRING_ITEM = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?si\b[^>]*?(?:/>|>(.*?)</(?:[A-Za-z_][\w.-]*:)?si>)", re.S)
_HIDDEN = re.compile(r"\bhidden\s*=\s*[\"'](?:1|true)[\"']")
