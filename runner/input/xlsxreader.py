"""Stream one XLSX sheet as the rows a person sees: formatted text, hidden rows, merges, errors.

pandas (through openpyxl) hands back stored values: an error cell becomes NaN (so `#N/A` reads as
empty), a zero-padded number loses its zeros, a formula without a saved value is indistinguishable
from an empty cell, and hidden rows and merged cells are invisible. openpyxl's read-only mode,
the only one with flat memory, drops row attributes and merges too. So every part is read here
with expat (runner.input.xmlstream: any legal serialisation reads the same, in the Transitional
and the Strict namespaces), and openpyxl supplies the number-format table and date conversion
(runner.input.numberformat).

Two passes over the sheet XML when it has merged cells or an auto filter (they follow the cell
data), else one. Memory holds the shared strings, the merges, and one block.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from runner.errors import XlsxError
from runner.input.numberformat import Rendered, render_number
from runner.input.workbook import SheetRow, choose_sheet
from runner.input.xlsxbook import TRUE, Book, TextCollector, load_book, member, names, open_zip, unescape
from runner.input.xmlstream import XML_ERRORS, parse_all, stream

_CELL_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")
_SCAN_BLOCK = 1 << 20
#: what the reader says about a formula whose saved result cannot be trusted
RECALC_PROBLEM = ("the workbook asks to be recalculated when opened, so the saved result of the formula ({formula}) "
                  "may not be what the sheet shows; open and save the file in Excel or LibreOffice")
UNSAVED_PROBLEM = ("the cell holds a formula ({formula}) saved without its result; open the file in Excel or "
                   "LibreOffice and save it again, or paste the column as values")


class XlsxSheet:
    """One sheet of a workbook, opened once (its shared strings, formats and merges) and read in as
    many passes as the loader needs."""

    def __init__(self, path: str, sheet: str | None) -> None:
        with open_zip(path) as archive:
            try:
                self._book = load_book(archive)
            except XlsxError:
                raise
            except OSError as exc:  # the disk, not the workbook
                raise XlsxError(f"cannot be read ({exc.strerror or exc})") from None
            except (zipfile.BadZipFile, *XML_ERRORS, ValueError, KeyError, IndexError) as exc:
                raise XlsxError(f"not a readable XLSX file ({type(exc).__name__}: {exc})") from None
        choice = choose_sheet(self._book.sheets, self._book.active, sheet)
        self.name, self.note = choice.name, choice.note
        part = self._book.parts[choice.index]
        if part is None:
            raise XlsxError(f'sheet "{self.name}" has no cells in the file')
        self._path = path
        self._part = part
        self._tail: tuple[list[_Merge], bool] | None = None

    def rows(self) -> Iterator[SheetRow]:
        """The rows, row 1 first; rows the file leaves out (empty ones) are not yielded."""
        if self._tail is None:
            with open_zip(self._path) as archive:
                self._tail = _scan_tail(archive, self._part)
        merges, has_filter = self._tail
        # each pass fills the merges' values afresh
        fresh = [_Merge(m.first_row, m.last_row, m.first_column, m.last_column) for m in merges]
        return _rows(self._path, self._book, self._part, fresh, has_filter)


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index - 1


def _reference(ref: str) -> tuple[int, int]:
    found = _CELL_REF.fullmatch(ref.strip())
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
    """Merged ranges and whether the sheet has an auto filter.

    Most sheets have neither, and a byte search of the decompressed XML for the two element names
    says so without parsing (an element name is never escaped); when either name occurs, expat reads
    the sheet to find the real elements (a name inside a comment or a string is not one).
    """
    seen = False
    carry = b""
    with member(archive, part) as source:
        while block := source.read(_SCAN_BLOCK):
            data = carry + block
            if b"mergeCell" in data or b"autoFilter" in data:
                seen = True
                break
            carry = data[-16:]
    if not seen:
        return [], False
    merges: list[_Merge] = []
    has_filter = [False]
    tags = names("mergeCell", "autoFilter")

    def start(tag: str, attrs: dict[str, str]) -> None:
        name = tags.get(tag)
        if name == "mergeCell":
            first, _, last = attrs.get("ref", "").partition(":")
            (row1, col1), (row2, col2) = _reference(first), _reference(last or first)
            merges.append(_Merge(min(row1, row2), max(row1, row2), min(col1, col2), max(col1, col2)))
        elif name == "autoFilter":
            has_filter[0] = True

    with member(archive, part) as source:
        parse_all(source, start)
    return merges, has_filter[0]


def _rows(path: str, book: Book, part: str, merges: list[_Merge], has_filter: bool) -> Iterator[SheetRow]:
    archive = open_zip(path)
    try:
        pending = sorted(merges, key=lambda merge: merge.first_row)
        active: list[_Merge] = []
        reader = _SheetReader(book, "filtered out" if has_filter else "hidden")
        with member(archive, part) as source:
            for row in stream(source, reader.start, reader.end, reader.text, reader.done):
                if pending or active:
                    active = _apply_merges(row, pending, active)
                yield row
    except XlsxError:
        raise
    except OSError as exc:  # the disk, not the workbook
        raise XlsxError(f"cannot be read ({exc.strerror or exc})") from None
    except (zipfile.BadZipFile, *XML_ERRORS, ValueError, KeyError, IndexError) as exc:
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


def iso_moment(raw: str) -> str:
    """A `t="d"` cell's ISO 8601 text as the expiry parser reads it: a date alone when the time is 00:00."""
    text = raw.strip().replace("T", " ")
    bare = text.removesuffix("Z").removesuffix("z")
    for midnight in (" 00:00:00.000", " 00:00:00", " 00:00"):
        if bare.endswith(midnight):
            return bare.removesuffix(midnight)
    return text


class _SheetReader:
    """expat handlers that turn a sheet's `<row>` elements into SheetRow values (the hot path)."""

    _TAGS = names("row", "c", "v", "f", "is", "t", "rPh")

    def __init__(self, book: Book, hidden_reason: str) -> None:
        self._strings, self._formats, self._date1904 = book.strings, book.formats, book.date1904
        self._recalculate = book.recalculate
        self._hidden_reason = hidden_reason
        self.done: list[SheetRow] = []
        self._row = SheetRow(0, [])
        self._column = -1
        self._columns: dict[str, int] = {}  # "AB" -> 27: a sheet uses few column letters, parsed once each
        self._numbers: dict[tuple[str, int], Rendered] = {}  # dates and codes repeat down a column
        self._kind = self._style = ""
        self._value: str | None = None
        self._formula: str | None = None
        self._buffer: list[str] | None = None  # text of the <v> or <f> being read
        self._inline = TextCollector()

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = self._TAGS.get(tag)
        if name == "c":
            ref = attrs.get("r")
            if ref:
                letters = ref.rstrip("0123456789").lstrip("$")
                found = self._columns.get(letters)
                self._column = found if found is not None else self._column_of(letters)
            else:
                self._column += 1
            self._kind, self._style = attrs.get("t", "n"), attrs.get("s", "")
            self._value = self._formula = None
        elif name == "v" or name == "f":
            self._buffer = []
        elif name == "row":
            number = attrs.get("r")
            self._row = SheetRow(int(number) if number else self._row.row + 1, [])
            if attrs.get("hidden", "0") in TRUE:
                self._row.hidden = self._hidden_reason
            self._column = -1
        elif name == "is":
            self._inline.parts = []
        elif name is not None:
            self._inline.start(name)

    def end(self, tag: str) -> None:
        name = self._TAGS.get(tag)
        if name == "c":
            self._cell()
        elif name == "v":
            self._value = "".join(self._buffer or ())
            self._buffer = None
        elif name == "f":
            self._formula = "".join(self._buffer or ())
            self._buffer = None
        elif name == "row":
            cells = self._row.cells
            end = len(cells)
            while end and not cells[end - 1]:
                end -= 1
            del cells[end:]
            self.done.append(self._row)
        elif name is not None and name != "is":
            self._inline.end(name)

    def text(self, data: str) -> None:
        if self._buffer is not None:
            self._buffer.append(data)
        elif self._inline.collecting:
            self._inline.text(data)

    def _column_of(self, letters: str) -> int:
        index = self._columns[letters] = _column_index(letters)
        return index

    def _cell(self) -> None:
        row, column, kind, raw = self._row, self._column, self._kind, self._value
        cells = row.cells
        if column > len(cells):
            cells.extend([""] * (column - len(cells)))
        if kind == "inlineStr" or self._inline.parts is not None:
            text = unescape("".join(self._inline.parts or ()))
            self._inline.parts = None
        elif raw is None:
            text = ""
        elif kind == "s":
            text = self._strings[int(raw)] if raw.strip() else ""
        elif kind == "n":
            key = (raw, int(self._style or 0))
            text = row.take_number(column, self._numbers.get(key) or self._number(key))
        elif kind == "str":
            text = unescape(raw)
        elif kind == "b":
            text = "TRUE" if raw.strip() in TRUE else "FALSE"
        elif kind == "d":
            text = iso_moment(raw)
            row.date_cell(column)
        else:  # "e", an error value
            text = raw.strip()
        if self._formula is not None:
            self._formula_problem(raw, kind, column)
        if column == len(cells):
            cells.append(text)
        else:
            cells[column] = text

    def _formula_problem(self, raw: str | None, kind: str, column: int) -> None:
        """A formula's saved result is what the sheet shows, unless none was saved or the writer said it is stale."""
        shown = "=" + self._formula if self._formula else "a shared formula"
        if not raw and kind != "str":  # an empty text result (`t="str"`, `<v/>`) is a real ""
            self._row.problems[column] = UNSAVED_PROBLEM.format(formula=shown)
        elif self._recalculate:
            self._row.problems[column] = RECALC_PROBLEM.format(formula=shown)

    def _number(self, key: tuple[str, int]) -> Rendered:
        raw, style = key
        code = self._formats[style] if style < len(self._formats) else "General"
        if len(self._numbers) > 10_000:
            self._numbers.clear()
        rendered = self._numbers[key] = render_number(raw, code, date1904=self._date1904)
        return rendered

