"""One batch from job spec to outputs: load, validate, send, account for every row.

This is the library entry point behind `sharebatch run` and `sharebatch validate`; it returns
figures and an exit code and leaves printing to the CLI.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from runner.actions import ShareAction
from runner.auth import TokenSource
from runner.client import PlatformClient
from runner.engine import Engine, EngineSettings, WorkItem, now_ms, utc_now_iso
from runner.errors import ExitCode, UsageError
from runner.jobspec import JobSpec
from runner.models import LoadedRow, RowOutcome, RowStatus, RunStats, ShareRequest
from runner.pacing import DispatchGate
from runner.progress import ProgressDisplay
from runner.report import Summary, write_failed_rows, write_report, write_summary
from runner.rows import InputOptions, InputTable, read_input


@dataclass
class BatchResult:
    summary: Summary
    exit_code: ExitCode
    out_dir: Path
    report_path: Path
    failed_path: Path | None
    summary_path: Path


def load_table(spec: JobSpec, anchor_ms: int) -> InputTable:
    options = InputOptions(
        path=spec.input,
        sheet=spec.sheet,
        encoding=spec.encoding,
        columns=spec.columns,
        timezone=spec.timezone,
        default_expiry=spec.expiry,
        default_cover_mark=spec.cover_mark,
        anchor_ms=anchor_ms,
    )
    return read_input(options)


def validation_outcome(row: LoadedRow) -> RowOutcome:
    """The report line of a row that is not sent (invalid or duplicate) or, for validate, a valid one."""
    if row.problem is not None:
        where = f'column "{row.problem.column}": ' if row.problem.column else ""
        return RowOutcome(row=row.row, status=RowStatus.INVALID, message=where + row.problem.message)
    if row.duplicate_of is not None:
        return RowOutcome(row=row.row, status=RowStatus.DUPLICATE, message=f"duplicate of row {row.duplicate_of}")
    return RowOutcome(row=row.row, status=RowStatus.VALID)


class _Collector:
    """The engine's sink: keeps each row's outcome and feeds the progress display."""

    def __init__(self, progress: ProgressDisplay) -> None:
        self.outcomes: dict[int, RowOutcome] = {}
        self._progress = progress

    def attempt_started(self, row: int, started_ms: int) -> None:
        pass

    def row_finished(self, outcome: RowOutcome) -> None:
        self.outcomes[outcome.row] = outcome
        self._progress.row_finished(outcome)


def validate_batch(spec: JobSpec) -> BatchResult:
    """`sharebatch validate`: the same loading and report, nothing sent."""
    started = time.monotonic()
    started_at = utc_now_iso()
    table = load_table(spec, now_ms())
    outcomes = [validation_outcome(row) for row in table.rows]
    return _write_outputs(spec, table, outcomes, RunStats(), started, started_at, stopped=None, validate=True)


async def run_batch(
    spec: JobSpec,
    tokens: TokenSource,
    *,
    interactive: bool = False,
    handle_signals: bool = True,
    settings: EngineSettings | None = None,
) -> BatchResult:
    """`sharebatch run`: validate every row, send the valid ones, write all outputs."""
    if spec.base_url is None:
        raise UsageError("no base URL: give --base-url URL or --region eu|cn (or set it in the job file)")
    started = time.monotonic()
    started_at = utc_now_iso()
    table = load_table(spec, now_ms())
    spec.out.mkdir(parents=True, exist_ok=True)
    items = [WorkItem[ShareRequest](row=row.row, payload=row.request) for row in table.rows if row.request]
    stats = RunStats()
    settings = settings or EngineSettings(concurrency=spec.concurrency, max_attempts=spec.max_attempts)
    timeout = aiohttp.ClientTimeout(total=spec.timeout_s)
    connector = aiohttp.TCPConnector(limit=max(100, 2 * spec.concurrency))
    signal_exit: list[ExitCode] = []
    with ProgressDisplay(len(items), interactive=interactive) as progress:
        collector = _Collector(progress)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            client = PlatformClient(
                session, spec.base_url, tokens, retry_codes=spec.retry_codes, gate=DispatchGate(spec.rate), stats=stats
            )
            engine = Engine(ShareAction(client), collector, settings, stats)
            with _StopOnSignals(engine, signal_exit, enabled=handle_signals):
                result = await engine.run(items)
    outcomes = (collector.outcomes.get(row.row) or validation_outcome(row) for row in table.rows)
    batch = _write_outputs(spec, table, outcomes, stats, started, started_at, stopped=result.stopped)
    if signal_exit:
        batch.exit_code = signal_exit[0]
    elif result.stopped:
        batch.exit_code = ExitCode.ABORTED
    return batch


class _StopOnSignals:
    """While active, SIGINT/SIGTERM ask the engine to stop instead of killing the process."""

    def __init__(self, engine: Engine[ShareRequest], exit_codes: list[ExitCode], *, enabled: bool) -> None:
        self._engine = engine
        self._exit_codes = exit_codes
        self._enabled = enabled
        self._installed: list[signal.Signals] = []

    def __enter__(self) -> None:
        if not self._enabled:
            return
        loop = asyncio.get_running_loop()
        for signum, code in ((signal.SIGINT, ExitCode.INTERRUPTED), (signal.SIGTERM, ExitCode.TERMINATED)):
            loop.add_signal_handler(signum, self._stop, signum, code)
            self._installed.append(signum)

    def _stop(self, signum: signal.Signals, code: ExitCode) -> None:
        if not self._exit_codes:
            self._exit_codes.append(code)
        self._engine.request_stop(f"interrupted by {signum.name}")

    def __exit__(self, *exc_info: object) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)


def _write_outputs(
    spec: JobSpec,
    table: InputTable,
    outcomes: Iterator[RowOutcome] | list[RowOutcome],
    stats: RunStats,
    started: float,
    started_at: str,
    *,
    stopped: str | None,
    validate: bool = False,
) -> BatchResult:
    outcome_list = list(outcomes)
    summary = Summary(started_at=started_at, stopped=stopped, warnings=list(table.warnings))
    for outcome in outcome_list:
        summary.count(outcome.status)
    summary.by_code = dict(sorted(stats.by_code.items()))
    summary.requests = stats.requests
    summary.retries = stats.retries
    summary.finished_at = utc_now_iso()
    summary.duration_s = round(time.monotonic() - started, 3)
    if stats.first_sent is not None and stats.last_sent is not None and stats.last_sent > stats.first_sent:
        summary.rate_achieved = round(stats.requests / (stats.last_sent - stats.first_sent), 2)
    out = spec.out
    out.mkdir(parents=True, exist_ok=True)
    pairs = list(zip((row.cells for row in table.rows), outcome_list, strict=True))
    report_path = out / "report.csv"
    write_report(report_path, table.headers, pairs)
    failed_path = write_failed_rows(out, table.format, table.headers, pairs)
    summary_path = out / "summary.json"
    write_summary(summary_path, summary)
    if validate:
        code = ExitCode.ROWS_FAILED if summary.invalid else ExitCode.OK
    else:
        code = ExitCode.ROWS_FAILED if (summary.failed or summary.invalid or summary.not_attempted) else ExitCode.OK
    return BatchResult(summary, code, out, report_path, failed_path, summary_path)
