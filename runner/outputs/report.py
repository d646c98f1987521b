"""The run's outputs: report.csv, the failed-rows file and summary.json.

Every file is written to a temporary name and renamed, so a reader (or a crash) never sees half a
file. Cells that a spreadsheet would execute get a leading apostrophe; the loader removes it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.input.formula import guard_cell, guard_cells
from runner.models import FileDialect, RowOutcome, RowStatus, statuses_where
from runner.outputs.atomic import atomic_writer
from runner.outputs.inert import xlsx_safe
from runner.redact import redact

#: the result columns of reports before `expiry_sent` and `recipient_kind`; still read back
LEGACY_REPORT_COLUMNS = ("row", "status", "code", "message", "share_code", "attempts", "http_status", "latency_ms",
                         "finished_at")
#: `expiry_sent` is ISO 8601 UTC or `permanent`; both are empty for a row that sent no share request
REPORT_COLUMNS = (*LEGACY_REPORT_COLUMNS, "expiry_sent", "recipient_kind")
ERROR_COLUMN = "error"
#: the failed-rows file's column that carries a row's doubt to the next batch (runner.input reads it)
DOUBT_COLUMN = "in_doubt_since"


def _outcome_cells(outcome: RowOutcome) -> list[str]:
    """The report columns of one row; only message and share code can hold text a spreadsheet runs."""
    def text(value: object) -> str:
        return "" if value is None else str(value)

    return [str(outcome.row), outcome.status.value, text(outcome.code), guard_cell(redact(outcome.message)),
            guard_cell(outcome.share_code or ""), str(outcome.attempts), text(outcome.http_status),
            text(outcome.latency_ms), outcome.finished_at or "", outcome.expiry_sent, outcome.recipient_kind]


#: where a row's cells past the header's width go (JSON list), in the report and the failed-rows file
EXTRA_COLUMN = "extra_cells"
_RENAME_PREFIX = "sharebatch_"


def result_columns(headers: Sequence[str], names: Sequence[str] = REPORT_COLUMNS) -> tuple[str, ...]:
    """The names of the columns sharebatch adds: `names`, or with `sharebatch_` in front (again, until
    none is taken) when the input already has a column of one of those names (`status`, `row`...)."""
    taken = {header.strip().lower() for header in headers}
    prefix = ""
    while any((prefix + name).lower() in taken for name in names):
        prefix += _RENAME_PREFIX
    return tuple(prefix + name for name in names)


def report_tail(header: Sequence[str]) -> tuple[str, ...] | None:
    """The result columns at the end of a report's header, plain or renamed, of this version or the
    one before it (nine columns); None if it has none."""
    for names in (REPORT_COLUMNS, LEGACY_REPORT_COLUMNS):
        tail = tuple(header[-len(names):])
        prefix = tail[0][: -len(names[0])] if tail and tail[0].endswith(names[0]) else ""
        if tail == tuple(prefix + name for name in names):
            return tail
    return None


def _fit(cells: list[str], width: int) -> tuple[list[str], str]:
    """Cells padded to the header's width, and the cells past it as one JSON list ("" when none)."""
    if len(cells) == width:
        return cells, ""
    if len(cells) < width:
        return [*cells, *[""] * (width - len(cells))], ""
    return cells[:width], json.dumps(cells[width:], ensure_ascii=False)


def write_report(path: Path, headers: list[str], rows: Iterable[tuple[list[str], RowOutcome]]) -> None:
    """Every input row in input order: original cells, then the result columns.

    A short row is padded and a long row's extra cells go to one `extra_cells` column before the
    results, so every result lands under its own header. That column is only there when a row
    needs it: the rows are written with the extras last, and the rare file that has some is
    rewritten once at the end with the column in its place.
    """
    width = len(headers)
    results = result_columns(headers)
    long_rows = False
    with atomic_writer(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(guard_cells([*headers, *results]))
        for cells, outcome in rows:
            fitted, extra = _fit(cells, width)
            line = [*guard_cells(fitted), *_outcome_cells(outcome)]
            if extra:
                long_rows = True
                line.append(guard_cell(extra))
            writer.writerow(line)
    if long_rows:
        _move_extras(path, headers, results)


def _move_extras(path: Path, headers: list[str], results: tuple[str, ...]) -> None:
    width = len(headers)
    [extra_name] = result_columns([*headers, *results], (EXTRA_COLUMN,))
    with path.open(encoding="utf-8", newline="") as source, atomic_writer(path) as handle:
        reader, writer = csv.reader(source), csv.writer(handle)
        next(reader)
        writer.writerow(guard_cells([*headers, extra_name, *results]))
        for line in reader:
            extra = line[width + len(results)] if len(line) > width + len(results) else ""
            writer.writerow([*line[:width], extra, *line[width:width + len(results)]])


def failed_row_cells(
    headers: list[str], cells: list[str], outcome: RowOutcome, *, with_doubt: bool = False
) -> tuple[list[str], list[str]]:
    """Header and cells of a failed-rows line: the original columns plus `error` (replaced if present)
    and, `with_doubt`, `in_doubt_since`: when an attempt may have been applied, so that feeding the
    file back looks the row up before sending it (in whichever out dir it runs)."""
    headers, cells = _set_column(headers, cells, ERROR_COLUMN, redact(outcome.message) or outcome.status.value)
    if with_doubt:
        since = outcome.in_doubt_since_ms
        headers, cells = _set_column(headers, cells, DOUBT_COLUMN, "" if since is None else format_doubt(since))
    return headers, cells


def _set_column(headers: list[str], cells: list[str], name: str, value: str) -> tuple[list[str], list[str]]:
    """Put `value` under `name`: in place when the input already has that column (a fed-back file), else last."""
    if name in headers:
        index = headers.index(name)
        padded = [*cells, *[""] * (len(headers) - len(cells))]
        return headers, [*padded[:index], value, *padded[index + 1:]]
    return [*headers, name], [*cells, value]


def format_doubt(epoch_ms: int) -> str:
    """`in_doubt_since` cells: ISO 8601 UTC to the millisecond, which a spreadsheet leaves as text."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: rows that still need doing: the failed-rows file holds every one of them
NEEDS_DOING = frozenset(statuses_where(needs_doing=True))


def needs_doing(outcome: RowOutcome) -> bool:
    return outcome.status in NEEDS_DOING


def write_failed_rows(
    out_dir: Path, input_format: str | FileDialect, headers: list[str], rows: Iterable[tuple[list[str], RowOutcome]]
) -> Path | None:
    """failed.csv (failed.xlsx for a spreadsheet input) with the rows to fix and run again, written
    the way the input was (delimiter, encoding, BOM, line ending; sheet name, cells formatted as
    text), so the same job reads it back unchanged.

    Returns None, and removes a stale file from an earlier run, when no row failed.
    """
    dialect = input_format if isinstance(input_format, FileDialect) else FileDialect(input_format)
    suffix = "csv" if dialect.format == "csv" else "xlsx"
    path = out_dir / f"failed.{suffix}"
    todo = [(cells, outcome) for cells, outcome in rows if needs_doing(outcome)]
    with_doubt = any(outcome.in_doubt_since_ms is not None for _, outcome in todo)
    width = len(headers)
    fitted = [(_fit(cells, width), outcome) for cells, outcome in todo]
    base = headers
    if any(extra for (_, extra), _ in fitted):  # a long row's extra cells get a column of their own
        base = [*headers, *result_columns(headers, (EXTRA_COLUMN,))]
        fitted = [(([*cells, extra], ""), outcome) for (cells, extra), outcome in fitted]
    failed = [failed_row_cells(base, cells, outcome, with_doubt=with_doubt) for (cells, _), outcome in fitted]
    for stale in ("failed.csv", "failed.xlsx"):  # from an earlier run, maybe of the other format
        (out_dir / stale).unlink(missing_ok=True)
    if not failed:
        return None
    header = failed[0][0]
    if suffix == "xlsx":
        _write_xlsx(path, header, (cells for _, cells in failed), dialect.sheet or "failed")
    else:
        _write_csv(path, header, (cells for _, cells in failed), dialect)
    return path


def _write_csv(path: Path, header: list[str], rows: Iterable[list[str]], dialect: FileDialect) -> None:
    encoding = "utf-8-sig" if dialect.bom and dialect.encoding == "utf-8" else dialect.encoding
    with atomic_writer(path, binary=True) as raw:
        # backslashreplace: a message character the input's encoding lacks must not lose the row
        text = io.TextIOWrapper(raw, encoding=encoding, errors="backslashreplace", newline="")
        writer = csv.writer(text, delimiter=dialect.delimiter, lineterminator=dialect.line_ending)
        writer.writerow([guard_cell(h) for h in header])
        writer.writerows([guard_cell(cell) for cell in cells] for cells in rows)
        text.flush()
        text.detach()  # atomic_writer closes the file itself


def _write_xlsx(path: Path, header: list[str], rows: Iterable[list[str]], sheet_name: str) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name)

    def text_cells(values: list[str]) -> list[WriteOnlyCell]:
        # Text cells formatted as text (`@`): a key or phone typed over in Excel stays text too.
        cells = []
        for value in values:
            # characters the format forbids (a control character in a platform message) are shown escaped
            cell = WriteOnlyCell(sheet, value=xlsx_safe(guard_cell(value)))
            cell.data_type = "s"  # `#N/A` too is the text the input showed, not an error of this file
            cell.number_format = "@"
            cells.append(cell)
        return cells

    sheet.append(text_cells(header))
    for values in rows:
        sheet.append(text_cells(values))
    with atomic_writer(path, binary=True) as handle:
        workbook.save(handle)


@dataclass
class Summary:
    """summary.json; the same figures are printed as a table."""

    total: int = 0
    success: int = 0
    failed: int = 0
    invalid: int = 0
    duplicate: int = 0
    not_attempted: int = 0
    unknown: int = 0  # an attempt may have been applied and no look-up could tell
    hidden: int = 0  # rows hidden or filtered out in the sheet, not sent
    permanent: int = 0  # success (or, for validate, valid) rows whose share has no expiry
    valid: int = 0  # validate only
    revoked: int = 0  # revoke only
    already_ended: int = 0  # revoke and extend only
    extended: int = 0  # extend only
    by_code: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    started_at: str = ""
    finished_at: str = ""
    duration_s: float = 0.0
    rate_achieved: float = 0.0  # requests per second while sending
    stopped: str | None = None
    held_back: int = 0  # of not_attempted: rows a canary run (--limit) held back
    warnings: list[str] = field(default_factory=list)

    def fails_the_run(self) -> bool:
        """A row ended in a status that makes `run` exit 1 (rows a canary held back do not count)."""
        return any(getattr(self, status.value) - (self.held_back if status is RowStatus.NOT_ATTEMPTED else 0)
                   for status in statuses_where(fails_the_run=True))

    def count(self, status: RowStatus) -> None:
        self.total += 1
        setattr(self, status.value, getattr(self, status.value) + 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_UNCOUNTED = {status.value for status in RowStatus} - {summary_field.name for summary_field in fields(Summary)}
if _UNCOUNTED:  # Summary.count would crash after every request was sent
    raise TypeError(f"Summary has no field for the statuses {sorted(_UNCOUNTED)}")


def write_summary(path: Path, summary: Summary) -> None:
    with atomic_writer(path) as handle:
        handle.write(redact(json.dumps(summary.to_dict(), indent=2)) + "\n")
