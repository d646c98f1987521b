"""The run's outputs: report.csv, the failed-rows file and summary.json.

Every file is written to a temporary name and renamed, so a reader (or a crash) never sees half a
file. Cells that a spreadsheet would execute get a leading apostrophe; the loader removes it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.input.formula import guard_cell, guard_cells
from runner.models import RowOutcome, RowStatus
from runner.outputs.atomic import atomic_writer
from runner.outputs.inert import xlsx_safe
from runner.redact import redact

REPORT_COLUMNS = ("row", "status", "code", "message", "share_code", "attempts", "http_status", "latency_ms",
                  "finished_at")
ERROR_COLUMN = "error"
#: the failed-rows file's column that carries a row's doubt to the next batch (runner.input reads it)
DOUBT_COLUMN = "in_doubt_since"


def _outcome_cells(outcome: RowOutcome) -> list[str]:
    """The report columns of one row; only message and share code can hold text a spreadsheet runs."""
    def text(value: object) -> str:
        return "" if value is None else str(value)

    return [str(outcome.row), outcome.status.value, text(outcome.code), guard_cell(redact(outcome.message)),
            guard_cell(outcome.share_code or ""), str(outcome.attempts), text(outcome.http_status),
            text(outcome.latency_ms), outcome.finished_at or ""]


def write_report(path: Path, headers: list[str], rows: Iterable[tuple[list[str], RowOutcome]]) -> None:
    """Every input row in input order: original cells, then the REPORT_COLUMNS."""
    with atomic_writer(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(guard_cells([*headers, *REPORT_COLUMNS]))
        for cells, outcome in rows:
            writer.writerow([*guard_cells(cells), *_outcome_cells(outcome)])


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
NEEDS_DOING = frozenset({RowStatus.FAILED, RowStatus.INVALID, RowStatus.UNKNOWN, RowStatus.NOT_ATTEMPTED})


def needs_doing(outcome: RowOutcome) -> bool:
    return outcome.status in NEEDS_DOING


def write_failed_rows(
    out_dir: Path, input_format: str, headers: list[str], rows: Iterable[tuple[list[str], RowOutcome]]
) -> Path | None:
    """failed.csv (or failed.xlsx for an XLSX input) with the rows to fix and run again.

    Returns None, and removes a stale file from an earlier run, when no row failed.
    """
    suffix = "xlsx" if input_format == "xlsx" else "csv"
    path = out_dir / f"failed.{suffix}"
    todo = [(cells, outcome) for cells, outcome in rows if needs_doing(outcome)]
    with_doubt = any(outcome.in_doubt_since_ms is not None for _, outcome in todo)
    failed = [failed_row_cells(headers, cells, outcome, with_doubt=with_doubt) for cells, outcome in todo]
    for stale in ("failed.csv", "failed.xlsx"):  # from an earlier run, maybe of the other format
        (out_dir / stale).unlink(missing_ok=True)
    if not failed:
        return None
    header = failed[0][0]
    if suffix == "xlsx":
        _write_xlsx(path, header, (cells for _, cells in failed))
    else:
        with atomic_writer(path) as handle:
            writer = csv.writer(handle)
            writer.writerow([guard_cell(h) for h in header])
            writer.writerows([guard_cell(cell) for cell in cells] for _, cells in failed)
    return path


def _write_xlsx(path: Path, header: list[str], rows: Iterable[list[str]]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("failed")
    sheet.append([xlsx_safe(guard_cell(h)) for h in header])
    for cells in rows:
        # text cells only: a device key or phone number must not turn into a number; characters the
        # format forbids (a control character in a platform message) are shown escaped
        sheet.append([xlsx_safe(guard_cell(cell)) for cell in cells])
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
    warnings: list[str] = field(default_factory=list)

    def count(self, status: RowStatus) -> None:
        self.total += 1
        setattr(self, status.value, getattr(self, status.value) + 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_summary(path: Path, summary: Summary) -> None:
    with atomic_writer(path) as handle:
        handle.write(redact(json.dumps(summary.to_dict(), indent=2)) + "\n")
