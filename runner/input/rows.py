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
from datetime import datetime
from pathlib import Path

from runner.errors import ColumnError, ExpiryError, InputFileError, MissingColumnError, RecipientError, UsageError
from runner.input.accounts import account_of
from runner.input.columns import (
    date_header_message,
    header_score,
    match_columns,
    missing_message,
    normalise_header,
    unmapped_date_headers,
)
from runner.input.compactmap import CompactMap
from runner.input.csvfile import HEAD_BYTES, Record, check_text, iter_records, resolve_codec, sniff_delimiter
from runner.input.expiry import ExpiryParser, load_timezone
from runner.input.formula import unguard_cell
from runner.input.recipients import (
    Recipient,
    invisible_message,
    kind_from_header,
    looks_mangled_number,
    mangled_number_message,
    parse_kind,
    parse_recipient,
    strip_invisible,
)
from runner.input.sheets import SPREADSHEET_SUFFIXES, open_sheet
from runner.input.xlsxreader import SheetRow
from runner.models import COVER_MARKS, FileDialect, LoadedRow, RecipientKind, RowProblem, ShareRequest

_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
#: what a cell shows when its formula failed: Excel's error values and LibreOffice's `Err:502` form
EXCEL_ERRORS = frozenset({"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
                          "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#CONNECT!", "#BUSY!"})
_PHONES_FROM_NUMBERS_SHOWN = 10
_COVER_MARKS = {str(mark): mark for mark in COVER_MARKS}


@dataclass(frozen=True)
class InputOptions:
    """Where the input is and how to read it; the job file and CLI options fill this in."""

    path: Path
    sheet: str | None = None  # XLSX sheet name; None = the first sheet
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
        self._validator = _RowValidator(options, layout.headers, columns)

    def chunks(self, chunk_rows: int = 50_000) -> Iterator[list[LoadedRow]]:
        """Lists of at most `chunk_rows` validated rows; may raise InputFileError midway (bad bytes)."""
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        self._validator = _RowValidator(self._options, self.headers, self.columns)
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
        return self._validator.warnings()

    def _rows(self, validator: _RowValidator) -> Iterator[LoadedRow]:
        for row, cells, problem, facts in self._layout.records():
            text = "".join(cells)  # one pass over the row answers three questions
            if problem is None and not text.strip():
                continue  # a blank row holds nothing to send; the other rows keep their sheet numbers
            if "\x00" in text:
                # Kept out of the cells too: a NUL cannot be written to the XLSX report.
                shown = [cell.replace("\x00", "\ufffd") for cell in cells]
                yield LoadedRow(row, shown, problem=RowProblem("row contains a NUL byte (shown as \ufffd)"))
                continue
            if "'" in text:
                cells = [unguard_cell(cell) for cell in cells]
            # Error values are looked for cell by cell only in the rare row that could hold one.
            suspect = "#" in text or "Err:" in text or (facts is not None and bool(facts.problems))
            yield validator.validate(row, cells, problem, facts, suspect=suspect)


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


def _header_from(path: Path, records: Iterable[Record], header_row: int | None) -> tuple[int, list[str]]:
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
    raise InputFileError(path, "the file is empty")


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
    kind, chosen, passes = open_sheet(path, sheet)
    first_pass = passes()
    head = list(itertools.islice(first_pass, _HEAD_RECORDS))
    found_row, headers = _header_from(
        path, ((row.row, row.cells, None) for row in itertools.chain(head, first_pass)), header_row)
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
    return _Layout(kind, found_row, headers, data_records, head_records, FileDialect(kind, sheet=chosen))


# --- validation ----------------------------------------------------------------------------------


def _compact_key(*parts: str) -> int:
    """A 64-bit stand-in for a tuple of strings, so remembered rows do not keep their strings alive.

    Python's own hash is salted per process, which is fine: keys are only compared within one pass,
    and a collision (odds about n^2 / 2^65) is far below any other source of error.
    """
    return hash(parts)


def _optional_cell(cells: list[str], index: int | None) -> str:
    return "" if index is None else cells[index].strip()


class _DeviceTracker:
    """Spots devices shared with several recipients where a row uses cover mark 1.

    Cover mark 1 replaces the device's previous share, so only the last recipient keeps access.
    It is fed only unique valid rows, so a second row for a device is a different recipient. The
    state per device is a few flag bits beside a 64-bit key.
    """

    _SEEN, _SHARED_TWICE, _COVER_1, _FLAGGED = 1, 2, 4, 8
    _CONFLICT = _SHARED_TWICE | _COVER_1

    def __init__(self) -> None:
        self._state = CompactMap()
        self.flagged: list[tuple[str, str]] = []  # every one of them, named in the warning
        self.flagged_count = 0

    def add(self, request: ShareRequest) -> None:
        key = _compact_key(request.pk, request.dk)
        bits = self._SEEN | (self._COVER_1 if request.cover_mark == 1 else 0)
        old = self._state.add_bits(key, bits)
        if not old & self._SEEN:
            return  # the device's first share: nothing to compare with yet
        new = self._state.add_bits(key, self._SHARED_TWICE) | bits | self._SHARED_TWICE
        if new & self._CONFLICT == self._CONFLICT and not new & self._FLAGGED:
            self._state.add_bits(key, self._FLAGGED)
            self.flagged_count += 1
            self.flagged.append((request.pk, request.dk))

    def warning(self) -> str | None:
        if not self.flagged_count:
            return None
        names = ", ".join(f"{pk}/{dk}" for pk, dk in self.flagged)
        devices = "device is" if self.flagged_count == 1 else "devices are"
        return (
            f"{self.flagged_count} {devices} shared with several recipients while a row uses "
            f"cover mark 1, so each share replaces the previous one (use cover_mark 2 to keep "
            f"them all): {names}"
        )


class _RowValidator:
    """Turns one row's cells into a LoadedRow: a request, a problem, or a duplicate's back-reference.

    This runs once per row of files with a million rows, so column positions are resolved up front.
    """

    def __init__(self, options: InputOptions, headers: list[str], columns: dict[str, int]) -> None:
        self._width = len(headers)
        self._pk_at, self._dk_at = columns["pk"], columns["dk"]
        self._recipient_at = columns["recipient"]
        self._type_at = columns.get("recipient_type")
        self._expiry_at = columns.get("expiry")
        self._cover_mark_at = columns.get("cover_mark")
        self._auth_key_at = columns.get("auth_key")
        self._doubt_at = columns.get("in_doubt_since")
        self._account_at = columns.get("account")
        self._accounts = options.accounts
        recipient_header = headers[self._recipient_at].strip()
        self._recipient_hint = kind_from_header(normalise_header(recipient_header))
        self._hint_reason = f'the column is "{recipient_header}"' if self._recipient_hint else ""
        self._default_cover_mark = options.default_cover_mark
        try:
            self._expiry = ExpiryParser(load_timezone(options.timezone), options.anchor_ms)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        self._default_expiry_ms = self._parse_default_expiry(options.default_expiry)
        self._first_row = CompactMap()  # key of (pk, dk, recipient) -> the row it first appeared on
        self._devices = _DeviceTracker()
        self._include_hidden = options.include_hidden
        self._mapped = list(columns.items())
        self._phones_from_numbers: list[int] = []
        self._phones_from_numbers_count = 0

    def warnings(self) -> list[str]:
        found = [self._devices.warning(), self._phone_warning()]
        return [warning for warning in found if warning]

    def validate(
        self, row: int, cells: list[str], problem: str | None = None, facts: SheetRow | None = None,
        *, suspect: bool = True,
    ) -> LoadedRow:
        """`suspect`: the row may hold an error value or a cell problem (False skips that look)."""
        if problem is not None:
            return LoadedRow(row, cells, problem=RowProblem(problem))
        if facts is not None and facts.hidden is not None and not self._include_hidden:
            return LoadedRow(row, cells, hidden=facts.hidden)
        if len(cells) != self._width:
            message = f"row has {len(cells)} cells, header has {self._width}"
            return LoadedRow(row, cells, problem=RowProblem(message))
        problems = self._cell_problems(cells, facts) if suspect else []
        if problems:  # the cell does not hold what it shows: nothing read from it can be trusted
            return LoadedRow(row, cells, problem=RowProblem("; ".join(text for _, text in problems), problems[0][0]))
        pk = _identifier(cells[self._pk_at], "pk", problems)
        dk = _identifier(cells[self._dk_at], "dk", problems)
        recipient = self._recipient(cells, problems)
        expire_at_ms = self._expiry_ms(_optional_cell(cells, self._expiry_at), problems)
        cover_mark = self._cover_mark(_optional_cell(cells, self._cover_mark_at), problems)
        account, account_problem = account_of(_optional_cell(cells, self._account_at), self._accounts)
        if account_problem is not None:
            problems.append(("account", account_problem))
        if problems or recipient is None:
            message = "; ".join(text for _, text in problems)
            return LoadedRow(row, cells, problem=RowProblem(message, problems[0][0]))
        in_doubt_since_ms = _doubt_since(_optional_cell(cells, self._doubt_at), problems)
        if problems:
            return LoadedRow(row, cells, problem=RowProblem(problems[0][1], problems[0][0]))
        auth_key = _optional_cell(cells, self._auth_key_at) or None
        request = ShareRequest(pk, dk, recipient.kind, recipient.value, expire_at_ms, cover_mark, auth_key, account)
        first = self._first_row.setdefault(_compact_key(pk, dk, recipient.key), row)
        if first != row:
            return LoadedRow(row, cells, duplicate_of=first)
        self._devices.add(request)
        note = ""
        if facts is not None and recipient.kind is RecipientKind.PHONE and self._recipient_at in facts.numbers:
            note = self._phone_from_number(row)
        return LoadedRow(row, cells, request=request, in_doubt_since_ms=in_doubt_since_ms, note=note)

    def _cell_problems(self, cells: list[str], facts: SheetRow | None) -> list[tuple[str, str]]:
        """Error values (`#N/A`), unsaved formulas and lost digits in the columns that are used."""
        problems: list[tuple[str, str]] = []
        for name, index in self._mapped:
            text = cells[index]
            if (text[:1] == "#" and text.strip() in EXCEL_ERRORS) or (text.startswith("Err:") and text[4:].isdigit()):
                problems.append((name, f"{name} is the spreadsheet error {text.strip()}: fix the formula or lookup "
                                       "that produced it, or type the value"))
            elif facts is not None and facts.problems and index in facts.problems:
                problems.append((name, f"{name}: {facts.problems[index]}"))
        return problems

    def _phone_from_number(self, row: int) -> str:
        self._phones_from_numbers_count += 1
        if len(self._phones_from_numbers) < _PHONES_FROM_NUMBERS_SHOWN:
            self._phones_from_numbers.append(row)
        return ("the phone number was read from a number cell, where a leading 0 or + cannot survive: check it, "
                "and store the column as text")

    def _phone_warning(self) -> str | None:
        count = self._phones_from_numbers_count
        if not count:
            return None
        rows = ", ".join(map(str, self._phones_from_numbers)) + (" and more" if count > len(self._phones_from_numbers)
                                                                else "")
        return (f"{count} phone number{'s were' if count > 1 else ' was'} read from number cells (rows {rows}), where "
                "a leading 0 or + cannot survive: check them, and store the column as text")

    def _recipient(self, cells: list[str], problems: list[tuple[str, str]]) -> Recipient | None:
        kind, because = self._recipient_hint, self._hint_reason
        declared = _optional_cell(cells, self._type_at)
        if declared:
            try:
                kind = parse_kind(declared)
            except RecipientError as exc:
                problems.append(("recipient_type", str(exc)))
                return None
            because = f"recipient_type is {declared.lower()}"
        try:
            return parse_recipient(cells[self._recipient_at], kind, because)
        except RecipientError as exc:
            problems.append(("recipient", str(exc)))
            return None

    def _expiry_ms(self, text: str, problems: list[tuple[str, str]]) -> int | None:
        if not text:
            return self._default_expiry_ms
        try:
            return self._expiry.parse(text)
        except ExpiryError as exc:
            problems.append(("expiry", str(exc)))
            return None

    def _cover_mark(self, text: str, problems: list[tuple[str, str]]) -> int:
        if not text:
            return self._default_cover_mark
        cover_mark = _COVER_MARKS.get(text)
        if cover_mark is None:
            problems.append(("cover_mark", f'cover_mark "{text}" must be 1, 2 or 3'))
            return self._default_cover_mark
        return cover_mark

    def _parse_default_expiry(self, text: str | None) -> int | None:
        if not text:
            return None
        try:
            return self._expiry.parse(text)
        except ExpiryError as exc:
            raise UsageError(f"default expiry: {exc}") from None


def _identifier(cell: str, column: str, problems: list[tuple[str, str]]) -> str:
    """pk or dk: required, not a number a spreadsheet has mangled, no invisible character inside."""
    value = strip_invisible(cell) if not cell.isascii() else cell.strip()
    if not value:
        problems.append((column, f"{column} is empty"))
    elif looks_mangled_number(value):
        problems.append((column, mangled_number_message(column, value)))
    elif not value.isascii() and (hidden := invisible_message(column, value)) is not None:
        problems.append((column, hidden))
    return value


def _doubt_since(text: str, problems: list[tuple[str, str]]) -> int | None:
    """The `in_doubt_since` cell of a fed-back failed-rows file: ISO 8601 UTC as sharebatch wrote it."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        problems.append(("in_doubt_since", f"{text!r} is not a time as sharebatch writes it "
                         "(2026-01-31T23:59:59.000Z); leave the cell as the failed-rows file had it, or empty it "
                         "only if you know the share was not made"))
        return None
    return int(moment.timestamp() * 1000)
