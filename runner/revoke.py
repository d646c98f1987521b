"""`sharebatch revoke`: undo a batch by revoking the shares its report says were created.

It reads a run's report.csv, takes the rows with status `success` and a share code (optionally
only `--rows 3,7-12`), and runs them through the same journaled engine as a share batch, with
RevokeAction instead of ShareAction. Its own report lists those rows with status revoked,
already_ended, failed or not_attempted.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from runner.actions import RevokeAction
from runner.batch import BatchResult, JournaledPlan, run_journaled
from runner.batchdir import mark_revoke_started, mark_shares_revoked
from runner.engine.journal import Journal, JournalEntry
from runner.errors import UsageError
from runner.input.formula import unguard_cell
from runner.jobspec import JobSpec
from runner.models import RowStatus
from runner.outputs.report import REPORT_COLUMNS
from runner.platform.auth.tokens import AuthSettings

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_rows(text: str | None) -> Callable[[int], bool]:
    """`3,7-12` -> a predicate over report row numbers; None selects every row."""
    if text is None:
        return lambda row: True
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        found = _RANGE.match(part)
        if found is None:
            raise UsageError(f"--rows: {part.strip()!r} is not a row number or a range such as 7-12")
        low = int(found.group(1))
        high = int(found.group(2) or low)
        if high < low:
            raise UsageError(f"--rows: {part.strip()!r} runs backwards")
        ranges.append((low, high))
    return lambda row: any(low <= row <= high for low, high in ranges)


class _Report:
    """A run's report.csv, read lazily: the input columns, then the rows that can be revoked."""

    def __init__(self, path: Path, wanted: Callable[[int], bool]) -> None:
        self.path = path
        self._wanted = wanted
        header = self._read_header()
        tail = tuple(header[-len(REPORT_COLUMNS):])
        if tail != REPORT_COLUMNS:
            raise UsageError(f"{path}: not a sharebatch report (its last columns must be {', '.join(REPORT_COLUMNS)})")
        self.headers = header[: -len(REPORT_COLUMNS)]
        self.skipped = 0

    def _read_header(self) -> list[str]:
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                return [unguard_cell(cell) for cell in next(csv.reader(handle), [])]
        except FileNotFoundError:
            raise UsageError(f"{self.path}: no such file") from None
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise UsageError(f"{self.path}: cannot read the report: {exc}") from None

    def rows(self) -> Iterator[tuple[int, list[str], str]]:
        """(row, input cells, share code) of each selected successful row, in report order."""
        self.skipped = 0
        width = len(self.headers)
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for line, raw in enumerate(reader, start=2):
                cells = [unguard_cell(cell) for cell in raw]
                if len(cells) != width + len(REPORT_COLUMNS):
                    raise UsageError(f"{self.path} line {line}: {len(cells)} cells, the header has "
                                     f"{width + len(REPORT_COLUMNS)}")
                outcome = dict(zip(REPORT_COLUMNS, cells[width:], strict=True))
                try:
                    row = int(outcome["row"])
                except ValueError:
                    raise UsageError(f"{self.path} line {line}: row {outcome['row']!r} is not a number") from None
                if not self._wanted(row):
                    continue
                if outcome["status"] != RowStatus.SUCCESS.value or not outcome["share_code"]:
                    self.skipped += 1
                    continue
                yield row, cells[:width], outcome["share_code"]


def _entry(row: int, share_code: str) -> JournalEntry:
    fingerprint = hashlib.sha256(f"revoke\x1f{share_code}".encode()).hexdigest()[:32]
    return JournalEntry(row, fingerprint, json.dumps(share_code))


async def revoke_batch(
    spec: JobSpec,
    auth: AuthSettings,
    *,
    rows: str | None = None,
    interactive: bool = False,
    handle_signals: bool = True,
    fresh: bool = False,
) -> BatchResult:
    """Revoke the shares of `spec.input` (a report.csv); resumable like a share run."""
    wanted = parse_rows(rows)
    _Report(spec.input, wanted)  # not a report: stop here, before any out dir is touched
    share_dir = spec.input.parent
    mark_revoke_started(share_dir)  # the share batch must not pass for "success" once this starts

    def plan(journal: Journal, snapshot: Path) -> JournaledPlan[str]:
        report = _Report(snapshot, wanted)

        def warnings() -> list[str]:
            if not report.skipped:
                return []
            return [f"{report.skipped} selected rows of {spec.input.name} were not successful shares and were "
                    "left alone"]

        return JournaledPlan(
            headers=report.headers,
            input_format="csv",
            entries=(_entry(row, code) for row, _, code in report.rows()),
            cells=lambda: ((row, cells) for row, cells, _ in report.rows()),
            decode=json.loads,
            subject=json.loads,  # the share code
            action=RevokeAction,
            warnings=warnings,
        )

    result = await run_journaled(spec, auth, plan, {"rows": rows}, interactive=interactive,
                                 handle_signals=handle_signals, settings=None, fresh=fresh)
    finished = not (result.summary.not_attempted or result.summary.unknown)
    mark_shares_revoked(share_dir, revoked_share_codes(result.report_path), spec.out, finished=finished)
    return result


def revoked_share_codes(report: Path) -> list[str]:
    """The share codes a revoke report says it revoked."""
    with report.open(encoding="utf-8", newline="") as handle:
        return [line["share_code"] for line in csv.DictReader(handle)
                if line.get("status") == RowStatus.REVOKED.value and line.get("share_code")]
