"""`sharebatch revoke`: undo a batch by revoking the shares its report says were created.

The follow-up flow (`followup.py`) with RevokeAction. Its own report lists those rows with status
revoked, already_ended, failed or not_attempted; the share batch's journal learns which of its
shares were revoked.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.batches.actions import RevokeAction
from runner.batches.batchdir import mark_revoke_started, mark_shares_revoked, share_batch_lock
from runner.batches.jobspec import JobSpec
from runner.batches.reportfile import RunReport
from runner.batches.results import BatchResult
from runner.commands.console import interactive, log_format_of, print_result
from runner.commands.followup import FollowUp, parse_rows, run_followup
from runner.errors import NothingToDoError
from runner.models import RowStatus
from runner.outputs.logsetup import configure_logging
from runner.platform.auth.tokens import AuthSettings

#: revoke's action over the report's rows: the payload is the share code alone
REVOKE = FollowUp("revoke", RevokeAction, decode=json.loads, subject=json.loads)


async def revoke_batch(
    spec: JobSpec,
    auth: AuthSettings | None,
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


async def _revoke_locked(spec: JobSpec, auth: AuthSettings | None, share_dir: Path, wanted: Callable[[int], bool],
                         rows: str | None,
                         *, interactive: bool, handle_signals: bool, fresh: bool) -> BatchResult:
    mark_revoke_started(share_dir)  # the share batch must not pass for "success" once this starts
    result = await run_followup(spec, auth, REVOKE, wanted, {"rows": rows}, interactive=interactive,
                                handle_signals=handle_signals, fresh=fresh)
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


def revoke_command(report: Path, rows: str | None, out: Path | None, *, debug: bool, fresh: bool, log_format: str,
                   quiet: bool, options: dict[str, Any]) -> int:
    """`runner.api.revoke`, then the summary; the exit code."""
    from runner import api

    configure_logging(debug=debug, log_format=log_format_of(log_format), quiet=quiet)
    result = api.revoke(report, rows=rows, out=out, fresh=fresh, progress=interactive(log_format, quiet), **options)
    print_result(result, log_format)
    return int(result.exit_code)
