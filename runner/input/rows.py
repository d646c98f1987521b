"""Load the input spreadsheet (CSV or XLSX) into validated rows; the engine never sees a cell.

Every cell is read as text, so ids like `00A1` and `13800138000` stay as typed. File-level
problems raise InputFileError (one line naming the file); row-level ones become `RowProblem` values,
so one pass reports them all.

    source = open_input(InputOptions(Path("samples/shares.csv"), anchor_ms=now_ms))
    for chunk in source.chunks():          # lists of LoadedRow, file order, none dropped
        ...
    source.warnings()                      # complete once the chunks are exhausted
"""

from __future__ import annotations

import codecs
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.errors import ColumnError, InputFileError, MissingColumnError
from runner.input.cellrules import forced_text
from runner.input.columns import (
    date_header_message,
    header_score,
    match_columns,
    missing_message,
    unmapped_date_headers,
)
from runner.input.csvfile import HEAD_BYTES, Record, check_text, iter_records, resolve_codec, sniff_delimiter
from runner.input.formula import unguard_cell
from runner.input.rowcheck import RowValidator
from runner.input.sheets import SPREADSHEET_SUFFIXES, open_sheet
from runner.input.workbook import SheetRow
from runner.models import FileDialect, LoadedRow

_CSV_SUFFIXES = (".csv", ".tsv", ".txt")


@dataclass(frozen=True)
class InputOptions:
    """Where the input is and how to read it; the job file and CLI options fill this in."""

    path: Path
    sheet: str | None = None  # sheet name; None = the active sheet if visible, else the first visible one
    encoding: str = "utf-8"  # CSV encoding; utf-8 also accepts a BOM
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical name -> header in the file
    ignore_columns: tuple[str, ...] = ()  # headers kept out of the mapping, carried through untouched
    header_row: int | None = None  # the header's spreadsheet row number; None = the first non-empty row
    include_hidden: bool = False  # send rows hidden or filtered out in the sheet too
    timezone: str = "UTC"  # IANA name, for dates and date-times without an offset
    default_expiry: str | None = None  # for empty expiry cells, same syntax as a cell
    default_cover_mark: int = 1  # for empty cover_mark cells; one of COVER_MARKS (JobSpec checks it)
    anchor_ms: int = 0  # the run's start: relative expiries count from it, earlier ones are past
    accounts: frozenset[str] = frozenset()  # the names an account cell may hold (the job's [accounts])


#: a data record, and for a spreadsheet what its cells hide (a hidden row, unsaved formulas, numbers)
_Item = tuple[int, list[str], str | None, SheetRow | None]


@dataclass(frozen=True)
class _Layout:
    """What opening a file found: its header and a way to read the data records after it."""

    format: str
    header_row: int
    headers: list[str]
    records: Callable[[], Iterator[_Item]]  # data records only; a new pass on every call
    head: list[Record]  # the file's first records, header or not: where a misplaced header is looked for
    dialect: FileDialect
    note: str | None = None  # about the sheet read (a hidden sheet named by --sheet): the summary says it


class InputSource:
    """An opened, header-checked input whose rows are read (and validated) chunk by chunk.

    Memory stays flat for a CSV of any length, apart from two 64-bit keys a row (about 50 bytes,
    in flat arrays) kept to spot duplicates and cover-mark conflicts. Each `chunks()` call starts
    a fresh pass.
    """

    def __init__(self, options: InputOptions, layout: _Layout, columns: dict[str, int]) -> None:
        self.path = options.path
        self.format = layout.format
        self.headers = layout.headers
        self.header_row = layout.header_row
        self.dialect = layout.dialect
        self.columns = columns
        self._options = options
        self._layout = layout
        self._validator = RowValidator(options, layout.headers, columns)

    def chunks(self, chunk_rows: int = 50_000) -> Iterator[list[LoadedRow]]:
        """Lists of at most `chunk_rows` validated rows; may raise InputFileError midway (bad bytes)."""
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        self._validator = RowValidator(self._options, self.headers, self.columns)
        chunk: list[LoadedRow] = []
        for row in self._rows(self._validator):
            chunk.append(row)
            if len(chunk) >= chunk_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def warnings(self) -> list[str]:
        """Warnings about the rows read so far (all of them once `chunks()` is exhausted)."""
        found = self._validator.warnings()
        return [self._layout.note, *found] if self._layout.note else found

    def shown_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row, cells) as `chunks()` gives them, without validating: the report's read of the run's rows."""
        for row, cells, _, _, _ in self._shown():
            yield row, cells

    def _rows(self, validator: RowValidator) -> Iterator[LoadedRow]:
        for row, cells, problem, facts, suspect in self._shown():
            yield validator.validate(row, cells, problem, facts, suspect=suspect)

    def _shown(self) -> Iterator[tuple[int, list[str], str | None, SheetRow | None, bool]]:
        """Each non-blank record's cells as the sheet shows them, with what the validator needs to know."""
        for row, cells, problem, facts in self._layout.records():
            text = "".join(cells)  # one pass over the row answers three questions
            if problem is None and not text.strip():
                continue  # a blank row holds nothing to send; the other rows keep their sheet numbers
            if "\x00" in text:
                # Kept out of the cells too: a NUL cannot be written to the XLSX report.
                shown = [cell.replace("\x00", "\ufffd") for cell in cells]
                yield row, shown, "row contains a NUL byte (shown as \ufffd)", None, False
                continue
            if "'" in text:
                cells = [unguard_cell(cell) for cell in cells]
            if '="' in text and facts is None:  # Excel's way to force text in a CSV: ="0860..." reads as 0860...
                cells = [forced_text(cell) for cell in cells]
            # Error values are looked for cell by cell only in the rare row that could hold one.
            suspect = "#" in text or "Err:" in text or (facts is not None and bool(facts.problems))
            yield row, cells, problem, facts, suspect


def open_input(options: InputOptions) -> InputSource:
    """Open and check the input file (header, columns, options); rows are read later, by chunk."""
    path = options.path
    _check_path(path)
    suffix = path.suffix.lower()
    if suffix in SPREADSHEET_SUFFIXES:
        layout = _open_spreadsheet(path, options.sheet, options.header_row)
    elif suffix in _CSV_SUFFIXES:
        layout = _open_csv(path, options.encoding, options.header_row)
    else:
        raise InputFileError(path, f'unsupported file type "{path.suffix}" '
                             "(use .csv, .tsv, .txt, .xlsx, .xlsm, .xls or .ods)")
    try:
        columns = match_columns(layout.headers, options.columns, options.ignore_columns)
    except MissingColumnError as exc:
        raise InputFileError(path, _missing_columns_message(layout, exc)) from None
    except ColumnError as exc:
        raise InputFileError(path, str(exc)) from None
    dates = unmapped_date_headers(layout.headers, columns, options.ignore_columns)
    if dates:
        raise InputFileError(path, date_header_message(dates))
    if not any(True for _ in _non_empty(layout.records())):
        raise InputFileError(path, "has a header row but no data rows")
    return InputSource(options, layout, columns)


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputFileError(path, "no such file")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not a CSV or XLSX file")
    if path.stat().st_size == 0:
        raise InputFileError(path, "the file is empty")


def _is_empty(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _non_empty(records: Iterable[_Item]) -> Iterator[_Item]:
    return (record for record in records if record[2] is not None or not _is_empty(record[1]))


_HEAD_RECORDS = 30


def _header_from(path: Path, records: Iterable[Record], header_row: int | None,
                 empty: str = "the file is empty") -> tuple[int, list[str]]:
    """The header: row `header_row`, or the first non-empty record; rows above it keep their numbers."""
    if header_row is not None and header_row < 1:
        raise InputFileError(path, f"header row {header_row} must be 1 or more (the spreadsheet's row number)")
    last = 0
    chosen = records if header_row is not None else (r for r in records if r[2] is not None or not _is_empty(r[1]))
    for row, cells, problem in chosen:
        last = row
        if header_row is not None and row < header_row:
            continue
        if problem is not None:
            raise InputFileError(path, f"row {row}, the header row, is not valid CSV ({problem})")
        if _is_empty(cells):
            raise InputFileError(path, f"header row {row} is empty; pass the header's row number with --header-row")
        headers = [unguard_cell(cell) for cell in cells]
        headers[0] = headers[0].lstrip("\ufeff")
        return row, headers
    if header_row is not None:
        raise InputFileError(path, f"header row {header_row} is past the end of the file ({last} rows)")
    raise InputFileError(path, empty)


def _better_header_row(layout: _Layout) -> int | None:
    """The row below (or above) the one taken as header that names more columns: a title sat on top."""
    best_row, best_score = layout.header_row, header_score(layout.headers)
    for row, cells, problem in layout.head:
        score = header_score(cells) if problem is None else 0
        if score > best_score:
            best_row, best_score = row, score
    return None if best_row == layout.header_row else best_row


def _missing_columns_message(layout: _Layout, exc: MissingColumnError) -> str:
    better = _better_header_row(layout)
    if better is None:
        return missing_message(layout.headers, exc.missing, layout.header_row)
    cells = next(cells for row, cells, _ in layout.head if row == better)
    shown = ", ".join(cell for cell in cells if cell.strip())
    return (f"row {layout.header_row} ({', '.join(layout.headers)}) was taken as the header but has no "
            f"{', '.join(exc.missing)} column; row {better} ({shown}) looks like the header: "
            f"pass --header-row {better} (job key header_row)")


# --- CSV -----------------------------------------------------------------------------------------


def _read_head(path: Path, size: int) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.read(size)
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def _open_csv(path: Path, encoding: str, header_row: int | None) -> _Layout:
    codec = resolve_codec(path, encoding)
    head = _read_head(path, HEAD_BYTES)
    if codec == "utf-8-sig" and head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = "utf-16"  # Excel's "Unicode Text": UTF-16 with its byte-order mark, tab-separated
    check_text(path, head, codec)
    delimiter = sniff_delimiter(head.decode(codec, errors="replace"))
    found_row, headers = _header_from(path, iter_records(path, codec, delimiter), header_row)

    def data_records() -> Iterator[_Item]:
        return ((row, cells, problem, None) for row, cells, problem in
                iter_records(path, codec, delimiter, after_row=found_row))

    first = list(itertools.islice(iter_records(path, codec, delimiter), _HEAD_RECORDS))
    return _Layout("csv", found_row, headers, data_records, first, _csv_dialect(head, codec, delimiter))


def _csv_dialect(head: bytes, codec: str, delimiter: str) -> FileDialect:
    """The delimiter, encoding, BOM and line ending the file was written with."""
    bom = codec == "utf-8-sig" and head.startswith(codecs.BOM_UTF8)
    encoding = "utf-8" if codec == "utf-8-sig" else codec
    if encoding.startswith(("utf-16", "utf-32")):
        text = head.decode(encoding, errors="replace")
        newline = text.find("\n")
        ending = "\r\n" if newline > 0 and text[newline - 1] == "\r" else "\n" if newline >= 0 else "\r\n"
    else:
        newline = head.find(b"\n")
        ending = "\r\n" if newline > 0 and head[newline - 1:newline] == b"\r" else "\n" if newline >= 0 else (
            "\r" if b"\r" in head else "\r\n")
    return FileDialect("csv", delimiter, encoding, bom, ending)


# --- spreadsheets ---------------------------------------------------------------------------------


def _open_spreadsheet(path: Path, sheet: str | None, header_row: int | None) -> _Layout:
    """One sheet of an .xlsx, .xls or .ods file, its cells as the sheet shows them (runner.input.sheets)."""
    opened = open_sheet(path, sheet)
    kind, chosen, passes = opened.format, opened.name, opened.passes
    first_pass = passes()
    head = list(itertools.islice(first_pass, _HEAD_RECORDS))
    found_row, headers = _header_from(
        path, ((row.row, row.cells, None) for row in itertools.chain(head, first_pass)), header_row,
        empty=f'sheet "{chosen}" is empty (no cells); name the sheet with the rows with --sheet')
    close = getattr(first_pass, "close", None)
    if close is not None:
        close()
    width = len(headers)

    def data_records() -> Iterator[_Item]:
        # A sheet has no ragged rows: blank cells at the end are padding, data past the header is not.
        for row in passes():
            if row.row > found_row:
                cells = row.cells
                if len(cells) < width:
                    cells.extend([""] * (width - len(cells)))
                yield row.row, cells, None, row

    head_records: list[Record] = [(row.row, row.cells, None) for row in head]
    return _Layout(kind, found_row, headers, data_records, head_records, FileDialect(kind, sheet=chosen),
                   opened.note)
