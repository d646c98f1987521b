"""`sharebatch track`: who has accepted the shares a run created.

For every `success` row of a run's report.csv it reads the device's share list (once per
device, through the engine: rate limit, retries, token handling as `run`; nothing changes on
the platform) and writes `track.csv`: the report's columns, then `share_state` and
`accepted_at` (ISO 8601 UTC). States:

- accepted: the recipient accepted (acceptTimeTs) and the share is still valid;
- pending: listed, neither accepted, revoked, replaced nor expired;
- ended: revoked, replaced or expired;
- missing: the device's list does not hold the share code any more;
- unknown: the device's list could not be read (the detail says why).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.batches.accountrouting import look_up_by_account, report_accounts
from runner.batches.jobspec import JobSpec
from runner.batches.lookups import Lookups
from runner.batches.reportfile import ReportRow, RunReport
from runner.commands.console import echo
from runner.engine.runlock import RunLock
from runner.engine.settings import EngineSettings
from runner.errors import ColumnError, ExitCode, UsageError
from runner.events import log_event
from runner.input.columns import match_columns
from runner.input.formula import guard_cells
from runner.models import DeviceShare, RunStats, iso_utc
from runner.outputs.atomic import atomic_writer
from runner.outputs.logsetup import configure_logging
from runner.platform.auth.tokens import AuthSettings

TRACK_COLUMNS = ("share_state", "accepted_at")
STATES = ("accepted", "pending", "ended", "missing", "unknown")


@dataclass
class TrackResult:
    track_path: Path
    counts: Counter[str] = field(default_factory=Counter)  # rows per share_state
    requests: int = 0
    stopped: str | None = None

    @property
    def exit_code(self) -> ExitCode:
        """0 when every row's state was read, 1 when some device could not be read, 3 when the look-ups stopped."""
        if self.stopped:
            return ExitCode.ABORTED
        return ExitCode.ROWS_FAILED if self.counts["unknown"] else ExitCode.OK


def share_state(row: ReportRow, device: tuple[str, str], lookups: Lookups) -> tuple[str, str]:
    """(share_state, accepted_at) of one report row, from its device's share list."""
    shares = lookups.shares.get(device)
    if shares is None:
        return "unknown", ""
    found: DeviceShare | None = next((s for s in shares if s.share_code == row.share_code), None)
    if found is None:
        return "missing", ""
    return found.state, "" if found.accepted_ms is None else iso_utc(found.accepted_ms)


async def track_report(
    spec: JobSpec, auth: AuthSettings | None, *, settings: EngineSettings | None = None
) -> TrackResult:
    """Read the share list of every device a report's successful rows shared; write track.csv."""
    if spec.base_url is None:
        raise UsageError("no base URL: give --base-url URL or --region eu|cn")
    report = RunReport(spec.input)
    try:
        columns = match_columns(report.headers, spec.columns)
    except ColumnError as exc:
        raise UsageError(f"{spec.input}: {exc}") from None
    pk_at, dk_at = columns["pk"], columns["dk"]

    def device(row: ReportRow) -> tuple[str, str]:
        return row.cells[pk_at].strip(), row.cells[dk_at].strip()

    settings = settings or EngineSettings(concurrency=spec.concurrency, max_attempts=spec.max_attempts)
    result = TrackResult(track_path=spec.out / "track.csv")
    with RunLock(spec.out):
        stats = RunStats()
        by_code = report_accounts(report, spec)  # each device read with its rows' account
        devices = ((by_code(row.share_code) if by_code else None, device(row)) for row in report.rows())
        lookups = await look_up_by_account(spec, auth, stats, devices, settings, deadline_s=spec.deadline_s)
        result.requests, result.stopped = stats.requests, lookups.stopped
        with atomic_writer(result.track_path) as handle:
            writer = csv.writer(handle)
            writer.writerow(guard_cells([*report.all_headers, *TRACK_COLUMNS]))
            for row in report.rows():
                state, accepted_at = share_state(row, device(row), lookups)
                result.counts[state] += 1
                writer.writerow(guard_cells([*row.all_cells, state, accepted_at]))
    log_event("track_finished", f"track written: {dict(result.counts)}", track=str(result.track_path),
              counts=dict(result.counts), requests=result.requests, stopped=result.stopped)
    return result


def track_command(report: Path, out: Path | None, *, debug: bool, options: dict[str, Any]) -> int:
    """`runner.api.track`, then the counts and where track.csv is; the exit code."""
    from runner import api

    configure_logging(debug=debug)
    result = api.track(report, out=out, **options)
    for state in STATES:
        if result.counts[state] or state in ("accepted", "pending", "ended"):
            echo(f"  {state:<10}{result.counts[state]:>10}")
    echo(f"{sum(result.counts.values())} shares, {result.requests} requests")
    if result.stopped:
        echo(f"stopped early: {result.stopped}", err=True)
    echo(f"track: {result.track_path}")
    return int(result.exit_code)
