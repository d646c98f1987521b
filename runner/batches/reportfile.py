"""A run's report.csv read back: the input columns, then the rows that created a share.

`revoke`, `extend` and `track` all start from a run's report; this reads it lazily (a fresh pass
per `rows()` call, so memory stays flat) and checks that it is one.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.errors import UsageError
from runner.input.formula import unguard_cell
from runner.models import RowStatus
from runner.outputs.report import REPORT_COLUMNS, report_tail


@dataclass(frozen=True, slots=True)
class ReportRow:
    row: int
    cells: list[str]  # the input's own columns
    outcome: dict[str, str]  # result column (its plain name) -> value, in the report's order
    share_code: str

    @property
    def all_cells(self) -> list[str]:
        """Every column of the report line, in the report's order."""
        return [*self.cells, *self.outcome.values()]


class RunReport:
    """A run's report.csv; `rows()` yields the selected rows with status success and a share code."""

    def __init__(self, path: Path, wanted: Callable[[int], bool] = lambda row: True) -> None:
        self.path = path
        self._wanted = wanted
        header = self._read_header()
        results = report_tail(header)  # renamed (sharebatch_status...) beside an input's own `status`
        if results is None:
            raise UsageError(f"{path}: not a sharebatch report (its last columns must be {', '.join(REPORT_COLUMNS)})")
        self.result_names = results
        self._plain_names = REPORT_COLUMNS[:len(results)]  # a report of the version before has nine
        self.headers = header[: -len(results)]
        self.skipped = 0  # selected rows that were not successful shares, after a pass

    @property
    def all_headers(self) -> list[str]:
        return [*self.headers, *self.result_names]

    def _read_header(self) -> list[str]:
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                return [unguard_cell(cell) for cell in next(csv.reader(handle), [])]
        except FileNotFoundError:
            raise UsageError(f"{self.path}: no such file") from None
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise UsageError(f"{self.path}: cannot read the report: {exc}") from None

    def rows(self) -> Iterator[ReportRow]:
        """Each selected successful row, in report order."""
        self.skipped = 0
        width = len(self.headers)
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for line, raw in enumerate(reader, start=2):
                cells = [unguard_cell(cell) for cell in raw]
                names = self._plain_names
                if len(cells) != width + len(names):
                    raise UsageError(f"{self.path} line {line}: {len(cells)} cells, the header has "
                                     f"{width + len(names)}")
                outcome = dict(zip(names, cells[width:], strict=True))
                try:
                    row = int(outcome["row"])
                except ValueError:
                    raise UsageError(f"{self.path} line {line}: row {outcome['row']!r} is not a number") from None
                if not self._wanted(row):
                    continue
                if outcome["status"] != RowStatus.SUCCESS.value or not outcome["share_code"]:
                    self.skipped += 1
                    continue
                yield ReportRow(row, cells[:width], outcome, outcome["share_code"])

    def skipped_warning(self, name: str, verb: str) -> list[str]:
        """The summary warning about selected rows left alone (after a pass of `rows()`); `name` is the report's."""
        if not self.skipped:
            return []
        return [f"{self.skipped} selected rows of {name} were not successful shares and were {verb}"]
