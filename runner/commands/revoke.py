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
from collections.abc import Callable
from pathlib import Path

from runner.batches.actions import RevokeAction
from runner.batches.batchdir import mark_revoke_started, mark_shares_revoked, share_batch_lock
from runner.batches.jobspec import JobSpec
from runner.batches.reportfile import RunReport
from runner.batches.run import BatchResult, JournaledPlan, run_journaled
from runner.engine.journal import Journal, JournalEntry
from runner.errors import NothingToDoError, UsageError
from runner.models import RowStatus
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
    selection = RunReport(spec.input, wanted)  # not a report: stop here, before any out dir is touched
    if not any(True for _ in selection.rows()):  # nothing to revoke: touch neither the share batch nor an out dir
        raise NothingToDoError(_nothing_selected(spec.input, rows, selection))
    share_dir = spec.input.parent
    with share_batch_lock(share_dir, spec.out):  # no run of the batch while its shares are revoked
        return await _revoke_locked(spec, auth, share_dir, wanted, rows, interactive=interactive,
                                    handle_signals=handle_signals, fresh=fresh)


async def _revoke_locked(spec: JobSpec, auth: AuthSettings, share_dir: Path, wanted: Callable[[int], bool],
                         rows: str | None,
                         *, interactive: bool, handle_signals: bool, fresh: bool) -> BatchResult:
    mark_revoke_started(share_dir)  # the share batch must not pass for "success" once this starts

    def plan(journal: Journal, snapshot: Path) -> JournaledPlan[str]:
        report = RunReport(snapshot, wanted)
        return JournaledPlan(
            headers=report.headers,
            input_format="csv",
            entries=(_entry(r.row, r.share_code) for r in report.rows()),
            cells=lambda: ((r.row, r.cells) for r in report.rows()),
            decode=json.loads,
            subject=json.loads,  # the share code
            action=RevokeAction,
            warnings=lambda: report.skipped_warning(spec.input.name, "left alone"),
        )

    result = await run_journaled(spec, auth, plan, {"rows": rows}, interactive=interactive,
                                 handle_signals=handle_signals, settings=None, fresh=fresh, kind="revoke")
    finished = not (result.summary.not_attempted or result.summary.unknown)
    mark_shares_revoked(share_dir, revoked_share_codes(result.report_path), spec.out, finished=finished)
    return result


def _nothing_selected(path: Path, rows: str | None, report: RunReport) -> str:
    """Why a revoke has nothing to do, in one line (after a whole pass of `report.rows()`)."""
    chosen = f"--rows {rows}" if rows is not None else "the report"
    if not report.skipped:
        return f"{path}: nothing to revoke: {chosen} selects no row of the report"
    some = "1 row, not" if report.skipped == 1 else f"{report.skipped} rows, none of them"
    return (f"{path}: nothing to revoke: {chosen} selects {some} a successful share with a share code (already "
            "revoked, failed, invalid or not sent)")


def revoked_share_codes(report: Path) -> list[str]:
    """The share codes a revoke report says it revoked."""
    with report.open(encoding="utf-8", newline="") as handle:
        return [line["share_code"] for line in csv.DictReader(handle)
                if line.get("status") == RowStatus.REVOKED.value and line.get("share_code")]
