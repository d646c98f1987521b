"""A batch's outputs and its result: report.csv, the failed rows, summary.json and report.html.

Shared by the journaled run (share, revoke, extend) and by validate; it returns the figures and
the exit code (`BatchResult.exit_code`) and leaves printing to the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import overload

from runner.batches.jobspec import JobSpec
from runner.clock import utc_now_iso
from runner.errors import ExitCode
from runner.events import log_event
from runner.input.columns import canonical_name
from runner.models import FileDialect, RowOutcome, RowStatus, RunStats
from runner.outputs.report import Summary, needs_doing, write_failed_rows, write_report, write_summary
from runner.outputs.reportcontext import ReportContext, platform_of, who_and_where


@dataclass
class BatchResult:
    summary: Summary
    out_dir: Path
    report_path: Path
    failed_path: Path | None
    summary_path: Path
    html_path: Path | None = None
    #: the rows still to do, for report.html (which decides how many it shows)
    failed_rows: Sequence[tuple[dict[str, str], RowOutcome]] = ()
    #: the signal that interrupted the run, if one did
    signal_exit: ExitCode | None = None
    #: `sharebatch validate`: nothing was meant to be sent
    validation_only: bool = False
    job: str = ""  # the job's name, for the one-line summary a cron log keeps
    input_path: Path | None = None
    kind: str = "share"  # share, revoke or validate: which figures mean something
    #: `sharebatch demo`: its failing rows are on purpose, so they do not fail the command (exit 0, said so)
    failures_on_purpose: bool = False
    #: this run continued a batch an earlier run started: the counts are the batch's, the rest this run's
    resumed: bool = False

    @property
    def exit_code(self) -> ExitCode:
        """The process exit code, decided here and nowhere else."""
        summary = self.summary
        if self.validation_only:
            return ExitCode.ROWS_FAILED if summary.invalid else ExitCode.OK
        if self.signal_exit is not None:
            return self.signal_exit
        if summary.stopped:
            return ExitCode.ABORTED
        # rows a canary (--limit) held back are the plan, not a failure: `run --limit 10 && run` works
        if summary.fails_the_run() and not self.failures_on_purpose:
            return ExitCode.ROWS_FAILED
        return ExitCode.OK


class _RowsAsDicts(Sequence[tuple[dict[str, str], RowOutcome]]):
    """The rows still to do as report.html reads them (header -> cell), built only for the rows it shows."""

    def __init__(self, headers: list[str], rows: list[tuple[list[str], RowOutcome]]) -> None:
        self._headers = headers
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> tuple[dict[str, str], RowOutcome]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[dict[str, str], RowOutcome]]: ...

    def __getitem__(
        self, index: int | slice
    ) -> tuple[dict[str, str], RowOutcome] | Sequence[tuple[dict[str, str], RowOutcome]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        cells, outcome = self._rows[index]
        return dict(zip(self._headers, cells, strict=False)), outcome


def log_run_finished(result: BatchResult) -> None:
    """The `run_finished` event: the whole summary and where the outputs went (for --log-format json)."""
    s = result.summary
    log_event("run_finished", f"run finished, exit {int(result.exit_code)}: {s.total} rows, {s.success} success, "
              f"{s.failed} failed, {s.invalid} invalid", exit_code=int(result.exit_code), out=str(result.out_dir),
              report=str(result.report_path), failed_rows=str(result.failed_path) if result.failed_path else None,
              summary_file=str(result.summary_path), summary=s.to_dict())


def write_outputs(
    out_dir: Path, headers: list[str], input_format: str | FileDialect, pairs: Iterable[tuple[list[str], RowOutcome]],
    summary: Summary,
) -> BatchResult:
    """One streaming pass: report.csv, then failed rows (kept aside as the pass goes), counts."""
    failed: list[tuple[list[str], RowOutcome]] = []

    def counted() -> Iterator[tuple[list[str], RowOutcome]]:
        for cells, outcome in pairs:
            summary.count(outcome.status)
            if outcome.expiry_sent == "permanent" and outcome.status in (RowStatus.SUCCESS, RowStatus.VALID):
                summary.permanent += 1
            if needs_doing(outcome):
                failed.append((cells, outcome))
            yield cells, outcome

    out_dir.mkdir(parents=True, exist_ok=True)
    report_path = out_dir / "report.csv"
    write_report(report_path, headers, counted())
    failed_path = write_failed_rows(out_dir, input_format, headers, failed)
    return BatchResult(summary, out_dir, report_path, failed_path, out_dir / "summary.json",
                       failed_rows=_RowsAsDicts(headers, failed))


def finish_summary(
    result: BatchResult,
    started: float,
    *,
    title: str,
    stats: RunStats | None = None,
    latencies_ms: list[int] | None = None,
    html: bool = True,
    context: ReportContext | None = None,
) -> None:
    """Close the summary, then write summary.json and the hand-off report.html beside report.csv."""
    from runner.outputs.htmlreport import HtmlReportInput, write_html_report

    result.summary.finished_at = utc_now_iso()
    result.resumed = context is not None and context.resumed
    result.summary.duration_s = round(time.monotonic() - started, 3)
    write_summary(result.summary_path, result.summary)
    if not html:
        return
    sent = stats.send_times if stats is not None else []
    offsets = [t - sent[0] for t in sent] if sent else []
    failed_name = result.failed_path.name if result.failed_path is not None else "failed.csv"
    result.html_path = result.out_dir / "report.html"
    write_html_report(result.html_path, HtmlReportInput(
        title=title, summary=result.summary, request_offsets_s=offsets, latencies_ms=latencies_ms or [],
        failed_rows=result.failed_rows, failed_file_name=failed_name, kind=result.kind, out_dir=result.out_dir,
        context=replace(context, run_finished_at=result.summary.finished_at) if context is not None else None,
    ))


def report_context(spec: JobSpec, sha256: str, batch: str, first_started_at: str | None, run_started_at: str,
                   headers: list[str]) -> ReportContext:
    """What report.html says about the run before its figures: file, platform, who, where, when."""
    from runner.batches.baseurl import REGION_BASE_URLS

    host, region = platform_of(spec.base_url, REGION_BASE_URLS)
    user, machine = who_and_where()
    mapped = spec.columns.get("recipient")
    recipients = frozenset(header for header in headers if header == mapped or canonical_name(header) == "recipient")
    return ReportContext(
        job=spec.name, input_name=spec.input.name, input_sha256=sha256, batch_id=batch, platform_host=host,
        region=region, os_user=user, host=machine, batch_started_at=first_started_at, run_started_at=run_started_at,
        run_finished_at="", recipient_headers=recipients, mask_recipients=spec.mask_recipients,
    )


def achieved_rate(stats: RunStats) -> float:
    sent = stats.send_times
    if len(sent) < 2 or sent[-1] <= sent[0]:
        return 0.0
    return round((len(sent) - 1) / (sent[-1] - sent[0]), 2)
