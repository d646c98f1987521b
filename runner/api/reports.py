"""The outputs read back with types: report.csv (of run, validate, revoke, extend), track.csv, plan.csv.

The files are what an operator opens; these readers are for a script that wants the figures:
`row` an int, `status` a RowStatus, `code` an int or None, times as timezone-aware datetimes, the
input's own columns exactly as written (the report's formula guard, a leading `'`, removed).
`runner.api.frames` reads the same layouts into pandas.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from runner.api.options import PathArg
from runner.errors import UsageError
from runner.input.formula import unguard_cell
from runner.models import RowStatus
from runner.outputs.report import REPORT_COLUMNS, report_tail

T = TypeVar("T")

#: what `expiry_sent` holds for a share without an expiry (read as None: see ReportLine)
PERMANENT = "permanent"


class Layout(StrEnum):
    """Which output a file is, told by its last columns."""

    REPORT = "report"  #: report.csv of run, validate, revoke or extend
    TRACK = "track"  #: track.csv: a report's columns, then share_state and accepted_at
    PLAN = "plan"  #: plan.csv: the input's columns, then row, action and detail


@dataclass(frozen=True)
class FileLayout:
    layout: Layout
    header: list[str]  # every column, as written
    width: int  # how many leading columns are the input's own (with extra_cells, when there)
    results: tuple[str, ...]  # the result columns' names in the file (`sharebatch_status` beside an input's `status`)
    plain: tuple[str, ...]  # ... and their plain names (`status`)


@dataclass(frozen=True)
class ReportLine:
    """One line of a report.csv (or track.csv), typed.

    `expiry_sent` is None both for a permanent share and for a row that sent no request; the
    row sent one when `recipient_kind` is set. `share_state` and `accepted_at` come from track.csv.
    """

    row: int
    status: RowStatus
    code: int | None
    message: str
    share_code: str
    attempts: int | None
    http_status: int | None
    latency_ms: float | None
    finished_at: datetime | None
    expiry_sent: datetime | None
    recipient_kind: str
    cells: dict[str, str] = field(default_factory=dict)  # the input's own columns, as written
    share_state: str | None = None
    accepted_at: datetime | None = None


@dataclass(frozen=True)
class PlanLine:
    """One line of plan.csv: the row, what it would do, why, and the input's own columns."""

    row: int
    action: str  # a runner.shares.model.PlanAction value
    detail: str
    cells: dict[str, str] = field(default_factory=dict)


def track_columns() -> tuple[str, ...]:
    from runner.commands.track import TRACK_COLUMNS

    return TRACK_COLUMNS


def plan_columns() -> tuple[str, ...]:
    from runner.commands.plan import PLAN_COLUMNS

    return PLAN_COLUMNS


def read_header(path: Path) -> list[str]:
    """The first line of an output, unguarded; UsageError when the file is missing or not CSV text."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [unguard_cell(cell) for cell in next(csv.reader(handle), [])]
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: cannot read it as a sharebatch output: {exc}") from None


def file_layout(path: Path) -> FileLayout:
    """Which output `path` is and where its result columns are; UsageError for any other file."""
    header = read_header(path)
    results = report_tail(header)
    if results is not None:
        return FileLayout(Layout.REPORT, header, len(header) - len(results), results,
                          REPORT_COLUMNS[:len(results)])
    tracked = track_columns()
    results = report_tail(header[:-len(tracked)]) if tuple(header[-len(tracked):]) == tracked else None
    if results is not None:
        names = (*results, *tracked)
        return FileLayout(Layout.TRACK, header, len(header) - len(names), names,
                          (*REPORT_COLUMNS[:len(results)], *tracked))
    planned = plan_columns()
    if len(header) >= len(planned) and tuple(header[-len(planned):]) == planned:
        return FileLayout(Layout.PLAN, header, len(header) - len(planned), planned, planned)
    raise UsageError(f"{path}: not a sharebatch report, track.csv or plan.csv (a report's last columns are "
                     f"{', '.join(REPORT_COLUMNS)})")


def read_report(path: PathArg) -> list[ReportLine]:
    """Every line of a report.csv (of run, validate, revoke or extend) or of track.csv, typed.

    >>> lines = read_report("out/shares/report.csv")
    >>> [line.row for line in lines if line.status is RowStatus.FAILED and line.code == 5134]
    """
    layout = file_layout(Path(path))
    if layout.layout is Layout.PLAN:
        raise UsageError(f"{path}: a plan.csv, not a report: read it with read_plan()")
    return list(_lines(layout, Path(path), _report_line))


def read_plan(path: PathArg) -> list[PlanLine]:
    """Every line of a plan.csv, with its action and detail."""
    layout = file_layout(Path(path))
    if layout.layout is not Layout.PLAN:
        raise UsageError(f"{path}: a {layout.layout.value}, not a plan.csv: read it with read_report()")
    return list(_lines(layout, Path(path), lambda values, cells, where: PlanLine(
        _int(values["row"], where("row")) or 0, values["action"], values["detail"], cells)))


Where = Callable[[str], str]


def _lines(layout: FileLayout, path: Path, make: Callable[[dict[str, str], dict[str, str], Where], T]) -> Iterator[T]:
    inputs = layout.header[:layout.width]
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for number, raw in enumerate(reader, start=2):
            if len(raw) != len(layout.header):
                raise UsageError(f"{path} line {number}: {len(raw)} cells, the header has {len(layout.header)}")
            cells = [unguard_cell(cell) for cell in raw]
            values = dict(zip(layout.plain, cells[layout.width:], strict=True))

            def where(column: str, line: int = number) -> str:
                return f'{path} line {line}, column "{column}"'

            yield make(values, dict(zip(inputs, cells[:layout.width], strict=False)), where)


def _report_line(values: dict[str, str], cells: dict[str, str], where: Where) -> ReportLine:
    try:
        status = RowStatus(values["status"])
    except ValueError:
        raise UsageError(f"{where('status')}: {values['status']!r} is not a status sharebatch writes") from None
    return ReportLine(
        row=_int(values["row"], where("row")) or 0,
        status=status,
        code=_int(values["code"], where("code")),
        message=values["message"],
        share_code=values["share_code"],
        attempts=_int(values["attempts"], where("attempts")),
        http_status=_int(values["http_status"], where("http_status")),
        latency_ms=_float(values["latency_ms"], where("latency_ms")),
        finished_at=_time(values["finished_at"], where("finished_at")),
        expiry_sent=_time(values.get("expiry_sent", ""), where("expiry_sent")),
        recipient_kind=values.get("recipient_kind", ""),
        cells=cells,
        share_state=values.get("share_state"),
        accepted_at=_time(values.get("accepted_at", ""), where("accepted_at")),
    )


def _int(text: str, where: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{where}: {text!r} is not a whole number") from None


def _float(text: str, where: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{where}: {text!r} is not a number") from None


def _time(text: str, where: str) -> datetime | None:
    """ISO 8601 as sharebatch writes it (2026-01-31T23:59:59.000Z); empty and `permanent` are None."""
    if not text or text == PERMANENT:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise UsageError(f"{where}: {text!r} is not a time as sharebatch writes it (2026-01-31T23:59:59.000Z)")
    return moment
