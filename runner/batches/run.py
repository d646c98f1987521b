"""One batch from job spec to outputs: load, validate, journal, send, account for every row.

This is the library entry point behind `sharebatch run`, `validate` and `status`; it returns
figures and an exit code and leaves printing to the CLI. Memory stays flat in the row count: the
input is read in chunks into the journal, the engine reads its work back from the journal, and
the report streams the input a second time beside the journal's outcomes.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Coroutine, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from runner.batches.batchdir import (
    BATCH_ID_KEY,
    OUTPUT_NAMES,
    SNAPSHOT_STEM,
    batch_id,
    file_sha256,
    open_batch_journal,
    take_snapshot,
)
from runner.batches.jobspec import JobSpec
from runner.engine.fanout import Engine, EngineSettings, FailureBrake, RowBudget, now_ms, utc_now_iso
from runner.engine.journal import CLOCK_OFFSET_KEY, FIRST_STARTED_KEY, Journal, JournalEntry
from runner.engine.protocols import Action, OutcomeSink, WorkItem
from runner.engine.runlock import RunLock
from runner.errors import ExitCode
from runner.events import log_event
from runner.input.columns import canonical_name
from runner.input.rows import InputOptions, InputSource, open_input
from runner.models import FileDialect, LoadedRow, RowOutcome, RowStatus, RunStats, ShareRequest, expiry_text
from runner.outputs.report import Summary, needs_doing, write_failed_rows, write_report, write_summary
from runner.outputs.reportcontext import ReportContext, platform_of, who_and_where

if TYPE_CHECKING:  # the sending side (aiohttp, rich) is imported in _send: `validate` never loads it
    from runner.batches.skipexisting import Prepared
    from runner.outputs.progress import ProgressDisplay
    from runner.platform.auth.tokens import AuthSettings
    from runner.platform.client import PlatformClient
    from runner.platform.clockskew import PlatformClock

PayloadT = TypeVar("PayloadT")


if TYPE_CHECKING:
    #: a step between loading the journal and sending (run --skip-existing's look-ups)
    Prepare = Callable[[Journal, PlatformClient, OutcomeSink, EngineSettings], Coroutine[Any, Any, Prepared]]
#: --max-failures P% is judged once this many rows have finished: two failures of the first three are no trend
FAILURE_SHARE_MIN_ROWS = 20


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
        if summary.failed or summary.invalid or summary.not_attempted - summary.held_back or summary.unknown:
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


def input_options(spec: JobSpec, anchor_ms: int, path: Path | None = None) -> InputOptions:
    """How to read the job's input; `path` reads another copy of it (the run's snapshot)."""
    return InputOptions(
        path=path or spec.input,
        sheet=spec.sheet,
        encoding=spec.encoding,
        columns=spec.columns,
        ignore_columns=spec.ignore_columns,
        header_row=spec.header_row,
        include_hidden=spec.include_hidden,
        timezone=spec.timezone,
        default_expiry=spec.expiry,
        default_cover_mark=spec.cover_mark,
        anchor_ms=anchor_ms,
    )


def iter_rows(source: InputSource) -> Iterator[LoadedRow]:
    for chunk in source.chunks():
        yield from chunk


def validation_outcome(row: LoadedRow) -> RowOutcome:
    """The report line of a row that is not sent (invalid or duplicate) or, for validate, a valid one."""
    if row.hidden is not None:
        return RowOutcome(row=row.row, status=RowStatus.HIDDEN,
                          message=f"row is {row.hidden} in the sheet, not sent (--include-hidden sends it)")
    if row.problem is not None:
        where = f'column "{row.problem.column}": ' if row.problem.column else ""
        return RowOutcome(row=row.row, status=RowStatus.INVALID, message=where + row.problem.message)
    if row.duplicate_of is not None:
        return RowOutcome(row=row.row, status=RowStatus.DUPLICATE, message=f"duplicate of row {row.duplicate_of}")
    return RowOutcome(row=row.row, status=RowStatus.VALID, message=row.note)


def journal_entry(row: LoadedRow) -> JournalEntry:
    if row.request is None:
        return JournalEntry(row.row, None, None, validation_outcome(row))
    return JournalEntry(row.row, row.request.fingerprint(), row.request.to_json(),
                        in_doubt_since_ms=row.in_doubt_since_ms)


def described(row: LoadedRow, outcome: RowOutcome) -> RowOutcome:
    """The outcome with what the row asked for (expiry sent, recipient kind) and the loader's note."""
    request = row.request
    if request is not None:
        outcome.expiry_sent = expiry_text(request.expire_at_ms)
        outcome.recipient_kind = request.recipient_kind.value
    if row.note and row.note not in outcome.message:  # e.g. a phone read from a number cell
        outcome.message = f"{outcome.message}; {row.note}" if outcome.message else row.note
    return outcome


def share_subject(payload: str) -> Hashable:
    """Device and recipient of a share request: the same row for doubt's sake, whatever its expiry."""
    request = ShareRequest.from_json(payload)
    return (request.pk, request.dk, request.recipient_kind.value, request.recipient)


def with_carried_doubt(
    entries: Iterable[JournalEntry], subject: Callable[[str], Hashable], carried: list[tuple[str, int]]
) -> Iterator[JournalEntry]:
    """Rows of a new batch that an earlier batch in this out dir left in doubt stay in doubt (looked up first)."""
    doubt: dict[Hashable, int] = {}
    for payload, since in carried:
        key = subject(payload)
        doubt[key] = min(since, doubt.get(key, since))
    for entry in entries:
        earlier = doubt.get(subject(entry.payload)) if doubt and entry.payload is not None else None
        if earlier is not None and (entry.in_doubt_since_ms is None or earlier < entry.in_doubt_since_ms):
            entry = replace(entry, in_doubt_since_ms=earlier)
        yield entry


def share_batch_settings(spec: JobSpec) -> dict[str, object]:
    """The job settings that change which requests the input becomes; with its bytes they name the batch.

    A setting that only changes how the batch is sent (rate, attempts, base URL...) is not here:
    changing it resumes the same batch.
    """
    settings: dict[str, object] = {
        "sheet": spec.sheet, "encoding": spec.encoding, "columns": dict(sorted(spec.columns.items())),
        "timezone": spec.timezone, "expiry": spec.expiry, "cover_mark": spec.cover_mark}
    # Named only when set, so that a batch started before these options existed keeps its name.
    reading = {"ignore_columns": sorted(spec.ignore_columns), "header_row": spec.header_row,
               "include_hidden": spec.include_hidden}
    settings.update({key: value for key, value in reading.items() if value})
    return settings


class _Sink:
    """The engine's sink: the journal first, then the progress display."""

    def __init__(self, journal: Journal, progress: ProgressDisplay) -> None:
        self._journal = journal
        self._progress = progress

    async def attempt_started(self, row: int, started_ms: int) -> None:
        await self._journal.attempt_started(row, started_ms)

    def row_finished(self, outcome: RowOutcome) -> None:
        self._journal.row_finished(outcome)
        self._progress.row_finished(outcome)


VALIDATE_DIR = "validate"


def validate_batch(spec: JobSpec) -> BatchResult:
    """`sharebatch validate`: the same loading and report, nothing sent, no journal.

    Its outputs go to `<out>/validate/`, never over a run's report, under the out dir's lock.
    """
    started = time.monotonic()
    summary = Summary(started_at=utc_now_iso())
    source = open_input(input_options(spec, now_ms()))
    with RunLock(spec.out):
        pairs = ((row.cells, described(row, validation_outcome(row))) for row in iter_rows(source))
        result = _write_outputs(spec.out / VALIDATE_DIR, source.headers, source.dialect, pairs, summary)
        summary.warnings = source.warnings()
        _finish_summary(result, started, title=spec.name, html=False)  # no requests to chart; keeps validate quick
    result.validation_only = True
    result.job, result.input_path, result.kind = spec.name, spec.input, "validate"
    log_run_finished(result)
    return result


@dataclass
class JournaledPlan(Generic[PayloadT]):
    """What one kind of batch (share, revoke) plugs into the journaled run."""

    headers: list[str]  # the report's leading columns (the input's own)
    input_format: str | FileDialect  # the failed-rows file follows the input's format and dialect
    entries: Iterable[JournalEntry]  # every input row, in row order
    cells: Callable[[], Iterable[tuple[int, list[str]]]]  # a fresh pass of (row, cells) for the report
    decode: Callable[[str], PayloadT]  # a journal payload back into the action's request
    #: what makes two payloads the same row for doubt's sake (device and recipient, expiry aside)
    subject: Callable[[str], Hashable]
    action: Callable[[PlatformClient], Action[PayloadT]]
    warnings: Callable[[], list[str]]  # complete once `entries` has been consumed
    prepare: Prepare | None = None  # e.g. run --skip-existing's look-ups
    #: the report's pairs from the input's rows and the journal's outcomes (default: zip_outcomes of `cells`),
    #: for a kind of batch whose report adds to an outcome (extend names its status, run notes replaced shares)
    report_pairs: Callable[[Iterator[RowOutcome]], Iterable[tuple[list[str], RowOutcome]]] | None = None


async def run_batch(
    spec: JobSpec,
    auth: AuthSettings,
    *,
    interactive: bool = False,
    handle_signals: bool = True,
    settings: EngineSettings | None = None,
    fresh: bool = False,
    reshare_revoked: bool = False,
) -> BatchResult:
    """`sharebatch run`: validate every row, send the ones still to do, write all outputs.

    Running it again on the same out dir resumes: rows that succeeded are not sent again, rows
    left in flight by a crash are reconciled with the platform before anything is re-sent.
    """
    from runner.batches.actions import ShareAction
    from runner.batches.replacements import RepeatedDevices, ReplacementNotes  # they bring in the client
    from runner.batches.skipexisting import skip_existing

    open_input(input_options(spec, now_ms()))  # a bad file stops here, before the out dir is touched

    def plan(journal: Journal, snapshot: Path) -> JournaledPlan[ShareRequest]:
        source = open_input(input_options(spec, journal.anchor_ms(now_ms()), snapshot))
        repeats = RepeatedDevices()

        def entries() -> Iterator[JournalEntry]:
            for row in iter_rows(source):
                if row.request is not None:
                    repeats.add(row.request.device)
                yield journal_entry(row)

        def report_pairs(outcomes: Iterator[RowOutcome]) -> Iterator[tuple[list[str], RowOutcome]]:
            notes = ReplacementNotes(repeats)
            for row, outcome in zip_rows(iter_rows(source), outcomes):
                yield row.cells, notes.noted(row.request, described(row, outcome))

        return JournaledPlan(
            headers=source.headers,
            input_format=source.dialect,
            entries=entries(),
            cells=lambda: ((row.row, row.cells) for row in iter_rows(source)),
            decode=ShareRequest.from_json,
            subject=share_subject,
            action=ShareAction,
            warnings=source.warnings,
            prepare=skip_existing if spec.skip_existing else None,
            report_pairs=report_pairs,
        )

    return await run_journaled(spec, auth, plan, share_batch_settings(spec), interactive=interactive,
                               handle_signals=handle_signals, settings=settings, fresh=fresh,
                               reshare_revoked=reshare_revoked)


async def run_journaled(
    spec: JobSpec,
    auth: AuthSettings,
    make_plan: Callable[[Journal, Path], JournaledPlan[PayloadT]],
    batch_settings: dict[str, object],
    *,
    interactive: bool,
    handle_signals: bool,
    settings: EngineSettings | None,
    fresh: bool,
    reshare_revoked: bool = False,
    kind: str = "share",
) -> BatchResult:
    """The journaled run shared by every action: lock, journal, send what is left, write outputs.

    `make_plan` reads the input from the snapshot it is given, never from `spec.input` again.
    """
    spec.require_base_url()
    started = time.monotonic()
    summary = Summary(started_at=utc_now_iso())
    with RunLock(spec.out):
        for stray in _stray_temporaries(spec.out):  # half-written files of a run killed mid-write; nothing else
            stray.unlink(missing_ok=True)
        snapshot = take_snapshot(spec.input, spec.out)
        try:
            batch_name = batch_id(snapshot.sha256, batch_settings)
            opened = open_batch_journal(spec.out, batch_name, fresh=fresh, reshare_revoked=reshare_revoked, kind=kind)
            snapshot_path = snapshot.keep()
        finally:
            snapshot.discard()
        journal = opened.journal
        try:
            plan = make_plan(journal, snapshot_path)
            # the batch becomes this out dir's current one in the same transaction that writes its rows and the
            # doubt carried over from the batch it replaces: a kill at any instant keeps that doubt
            counts = journal.sync_rows(with_carried_doubt(plan.entries, plan.subject, opened.carried_doubt),
                                       meta={BATCH_ID_KEY: batch_name})
            journal.run_started(summary.started_at)
            context = report_context(spec, snapshot.sha256, batch_name, journal.get_meta(FIRST_STARTED_KEY),
                                     summary.started_at, plan.headers)
            log_event("run_started", f"run started: {counts.to_send} of {counts.total} rows to send",
                      job=spec.name, input=str(spec.input), out=str(spec.out), base_url=spec.base_url,
                      rows=counts.total, to_send=counts.to_send, already_done=counts.already_done)
            summary.warnings = [*([opened.replaced] if opened.replaced else []), *plan.warnings()]
            stats = RunStats()
            work = journal.iter_work(plan.decode)
            result = await _send(spec, auth, plan.action, work, journal, counts.to_send, stats, interactive,
                                 handle_signals, settings, plan.prepare, settle=kind == "share")
            summary.requests, summary.retries = stats.requests, stats.retries
            summary.rate_achieved = _rate(stats)
            summary.stopped = result.stopped
            summary.held_back = result.held_back
            summary.by_code = journal.failed_by_code()
            changed = _changed_during_run(spec.input, snapshot.sha256, snapshot_path)
            if changed:
                summary.warnings.append(changed)
                log_event("input_changed", changed, input=str(spec.input))
            outcomes = journal.iter_outcomes()
            pairs = plan.report_pairs(outcomes) if plan.report_pairs else zip_outcomes(plan.cells(), outcomes)
            batch = _write_outputs(spec.out, plan.headers, plan.input_format, pairs, summary)
            batch.signal_exit = result.signal_exit
            latencies = journal.latencies_ms()
            journal.run_ended(utc_now_iso(), batch.exit_code, result.stopped)
        finally:
            journal.close()
    _finish_summary(batch, started, title=spec.name, stats=stats, latencies_ms=latencies, context=context)
    batch.job, batch.input_path, batch.kind = spec.name, spec.input, kind
    log_run_finished(batch)
    return batch


@dataclass
class _SendResult:
    stopped: str | None
    signal_exit: ExitCode | None
    held_back: int = 0


async def _send(
    spec: JobSpec,
    auth: AuthSettings,
    make_action: Callable[[PlatformClient], Action[PayloadT]],
    work: Iterable[WorkItem[PayloadT]],
    journal: Journal,
    to_send: int,
    stats: RunStats,
    interactive: bool,
    handle_signals: bool,
    settings: EngineSettings | None,
    prepare: Prepare | None = None,
    *,
    settle: bool = False,
) -> _SendResult:
    from runner.outputs.progress import ProgressDisplay
    from runner.platform.session import platform_client

    settings = settings or EngineSettings(concurrency=spec.concurrency, max_attempts=spec.max_attempts,
                                          budget=row_budget(spec), brake=failure_brake(spec),
                                          settle_s=spec.settle_window_s if settle else 0.0)
    signal_exit: list[ExitCode] = []
    with ProgressDisplay(to_send, interactive=interactive) as progress:
        async with platform_client(spec, auth, stats) as client:
            sink = _Sink(journal, progress)
            engine = Engine(make_action(client), sink, settings, stats)
            stopper = _StopWithPrepare(engine)
            signals = _StopOnSignals(stopper, signal_exit, enabled=handle_signals)
            with signals, _StopAtDeadline(stopper, spec.deadline_s):
                if prepare is not None:
                    prepared = await stopper.prepared(prepare(journal, client, sink, settings))
                    if prepared.finished_rows:
                        work = (item for item in work if item.row not in prepared.finished_rows)
                    if prepared.stop is not None:  # every row left ends not_attempted (or unknown if in doubt)
                        engine.request_stop(prepared.stop, interrupted=False)
                result = await engine.run(work)
            record_clock_offset(journal, client.clock)
    journal.flush()
    return _SendResult(result.stopped, signal_exit[0] if signal_exit else None, result.held_back)


def record_clock_offset(journal: Journal, clock: PlatformClock) -> None:
    """The platform's clock against this machine's, for `sharebatch status` (look-ups already use the platform's)."""
    if clock.measured:
        journal.set_meta(CLOCK_OFFSET_KEY, str(clock.offset_ms))


def row_budget(spec: JobSpec) -> RowBudget | None:
    """--limit N: a canary run works on at most N rows; the next run without it resumes the rest."""
    if spec.limit is None:
        return None
    return RowBudget(spec.limit, f"not sent: held back by --limit {spec.limit} (this run took at most "
                                 f"{spec.limit} rows); run the same command without --limit to send it")


def failure_brake(spec: JobSpec) -> FailureBrake | None:
    """--max-failures N or P%: stop the run cleanly once that many rows failed."""
    if spec.max_failures is not None:
        return FailureBrake(count=spec.max_failures, label=f"--max-failures {spec.max_failures}")
    if spec.max_failure_share is not None:
        return FailureBrake(share=spec.max_failure_share, min_rows=FAILURE_SHARE_MIN_ROWS,
                            label=f"--max-failures {spec.max_failure_share:.0%} after at least "
                                  f"{FAILURE_SHARE_MIN_ROWS} rows")
    return None


def zip_rows(rows: Iterable[LoadedRow], outcomes: Iterable[RowOutcome]) -> Iterator[tuple[LoadedRow, RowOutcome]]:
    """Pair the input's rows with the journal's outcomes; both are in row order."""
    for row, outcome in zip(rows, outcomes, strict=True):
        if row.row != outcome.row:
            raise RuntimeError(f"journal and input disagree at row {row.row} (journal row {outcome.row})")
        yield row, outcome


def zip_outcomes(
    rows: Iterable[tuple[int, list[str]]], outcomes: Iterable[RowOutcome]
) -> Iterator[tuple[list[str], RowOutcome]]:
    """Pair the input's cells with the journal's outcomes; both are in row order."""
    for (row, cells), outcome in zip(rows, outcomes, strict=True):
        if row != outcome.row:
            raise RuntimeError(f"journal and input disagree at row {row} (journal row {outcome.row})")
        yield cells, outcome


def _changed_during_run(source: Path, loaded_sha256: str, snapshot: Path) -> str | None:
    """A warning when the input file no longer holds the bytes this run loaded and sent."""
    if file_sha256(source) == loaded_sha256:
        return None
    return (f"{source} changed while the run was going: this report describes the file as it was loaded "
            f"(kept as {snapshot}); run the new file as a batch of its own")


def _stray_temporaries(out_dir: Path) -> Iterator[Path]:
    """Temporaries the run itself creates (`.NAME.*.tmp` of its outputs and input snapshot), nothing else:
    an out dir may hold other people's dot files."""
    for name in (*OUTPUT_NAMES, SNAPSHOT_STEM):
        yield from out_dir.glob(f".{name}.*.tmp")


class _Stoppable(Protocol):
    def request_stop(self, reason: str, *, interrupted: bool = True) -> None: ...


class _StopWithPrepare:
    """The engine's stop, which also cancels the step before sending (run --skip-existing's look-ups).

    The look-ups change nothing on the platform, so cancelling them is harmless; a signal or the
    deadline then leaves every row to the engine, which reports them as a stopped run does.
    """

    def __init__(self, engine: Engine[Any]) -> None:
        self._engine = engine
        self._task: asyncio.Task[Prepared] | None = None

    def request_stop(self, reason: str, *, interrupted: bool = True) -> None:
        self._engine.request_stop(reason, interrupted=interrupted)
        if self._task is not None:
            self._task.cancel()

    async def prepared(self, step: Coroutine[Any, Any, Prepared]) -> Prepared:
        from runner.batches.skipexisting import Prepared  # only run --skip-existing gets here, and it has imported it

        self._task = asyncio.ensure_future(step)
        try:
            return await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this run itself is being cancelled, not only the step
            return Prepared()  # stopped: the engine already holds the reason
        finally:
            self._task = None


class _StopOnSignals:
    """While active, SIGINT/SIGTERM ask the engine to stop instead of killing the process."""

    def __init__(self, engine: _Stoppable, exit_codes: list[ExitCode], *, enabled: bool) -> None:
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


class _StopAtDeadline:
    """While active, asks the engine to stop once `seconds` have passed (--deadline); None: never."""

    def __init__(self, engine: _Stoppable, seconds: float | None) -> None:
        self._engine = engine
        self._seconds = seconds
        self._timer: asyncio.TimerHandle | None = None

    def __enter__(self) -> None:
        if self._seconds is not None:
            self._timer = asyncio.get_running_loop().call_later(self._seconds, self._stop)

    def _stop(self) -> None:
        self._engine.request_stop(f"stopped: the run's deadline ({self._seconds:g} s of sending) was reached; "
                                  "run the same command again to send the rest", interrupted=False)

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _write_outputs(
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


def _finish_summary(
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
        failed_rows=result.failed_rows, failed_file_name=failed_name,
        context=replace(context, run_finished_at=result.summary.finished_at) if context is not None else None,
    ))


def report_context(spec: JobSpec, sha256: str, batch: str, first_started_at: str | None, run_started_at: str,
                   headers: list[str]) -> ReportContext:
    """What report.html says about the run before its figures: file, platform, who, where, when."""
    from runner.batches.jobspec import REGION_BASE_URLS

    host, region = platform_of(spec.base_url, REGION_BASE_URLS)
    user, machine = who_and_where()
    mapped = spec.columns.get("recipient")
    recipients = frozenset(header for header in headers if header == mapped or canonical_name(header) == "recipient")
    return ReportContext(
        job=spec.name, input_name=spec.input.name, input_sha256=sha256, batch_id=batch, platform_host=host,
        region=region, os_user=user, host=machine, batch_started_at=first_started_at, run_started_at=run_started_at,
        run_finished_at="", recipient_headers=recipients, mask_recipients=spec.mask_recipients,
    )


def _rate(stats: RunStats) -> float:
    sent = stats.send_times
    if len(sent) < 2 or sent[-1] <= sent[0]:
        return 0.0
    return round((len(sent) - 1) / (sent[-1] - sent[0]), 2)
