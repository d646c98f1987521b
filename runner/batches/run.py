"""One batch from job spec to outputs: load, validate, journal, send, account for every row.

This is the library entry point behind `sharebatch run` (and the journaled run of revoke and extend); it returns
figures and an exit code and leaves printing to the CLI. Memory stays flat in the row count: the
input is read in chunks into the journal, the engine reads its work back from the journal, and
the report streams the input a second time beside the journal's outcomes.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Coroutine, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

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
from runner.batches.replacements import RepeatedDevices, ReplacementNotes
from runner.batches.resend import failure_filter
from runner.batches.results import (
    BatchResult,
    achieved_rate,
    finish_summary,
    log_run_finished,
    report_context,
    write_outputs,
)
from runner.batches.sharerows import (
    described_request,
    input_options,
    iter_rows,
    journal_entry,
    journaled_pairs,
    share_batch_settings,
    share_subject,
)
from runner.batches.stopping import StopAtDeadline, StopOnSignals, StopWithPrepare
from runner.clock import now_ms, utc_now_iso
from runner.engine.journal import CLOCK_OFFSET_KEY, FIRST_STARTED_KEY, Journal
from runner.engine.protocols import Action, OutcomeSink, WorkItem
from runner.engine.records import JournalEntry, SyncCounts
from runner.engine.runlock import RunLock
from runner.engine.settings import EngineSettings, FailureBrake, RowBudget
from runner.errors import ExitCode
from runner.events import log_event
from runner.input.rows import open_input
from runner.models import FileDialect, RowOutcome, RunStats, ShareRequest
from runner.outputs.report import Summary

if TYPE_CHECKING:  # the sending side (aiohttp, rich) is imported in _send: `validate` never loads it
    from runner.batches.skipexisting import Prepared
    from runner.outputs.progress import ProgressDisplay
    from runner.platform.auth.tokens import AuthSettings
    from runner.platform.client import PlatformClient
    from runner.platform.clockskew import PlatformClock

PayloadT = TypeVar("PayloadT")


if TYPE_CHECKING:
    #: a step between loading the journal and sending (run --skip-existing's look-ups)
    #: (the clients by account name, DEFAULT_ACCOUNT for the default credentials)
    Prepare = Callable[[Journal, Mapping[str, PlatformClient], OutcomeSink, EngineSettings],
                       Coroutine[Any, Any, Prepared]]
#: --max-failures P% is judged once this many rows have finished: two failures of the first three are no trend
FAILURE_SHARE_MIN_ROWS = 20


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
    #: the owner account of a payload (the job's [accounts]), for a kind of batch that sends each row as its account
    account_of: Callable[[PayloadT], str | None] | None = None


async def run_batch(
    spec: JobSpec,
    auth: AuthSettings | None,
    *,
    interactive: bool = False,
    handle_signals: bool = True,
    settings: EngineSettings | None = None,
    fresh: bool = False,
    reshare_revoked: bool = False,
    failures_on_purpose: bool = False,
) -> BatchResult:
    """`sharebatch run`: validate every row, send the ones still to do, write all outputs.

    Running it again on the same out dir resumes: rows that succeeded are not sent again, rows
    left in flight by a crash are reconciled with the platform before anything is re-sent.
    """
    from runner.batches.actions import ShareAction
    from runner.batches.coverorder import keep_device_order
    from runner.batches.skipexisting import Prepared, skip_existing

    open_input(input_options(spec, now_ms()))  # a bad file stops here, before the out dir is touched

    async def share_prepare(journal: Journal, clients: Mapping[str, PlatformClient], sink: OutcomeSink,
                            settings: EngineSettings) -> Prepared:
        """--skip-existing's look-ups, then the rows a resume must not send behind a later row (coverorder.py)."""
        prepared = await skip_existing(journal, clients, sink, settings) if spec.skip_existing else Prepared()
        return keep_device_order(prepared, journal, sink)

    def plan(journal: Journal, snapshot: Path) -> JournaledPlan[ShareRequest]:
        source = open_input(input_options(spec, journal.anchor_ms(now_ms()), snapshot))
        repeats = RepeatedDevices()

        def entries() -> Iterator[JournalEntry]:
            for row in iter_rows(source):
                if row.request is not None:
                    repeats.add(row.request.device)
                yield journal_entry(row)

        def report_pairs(_: Iterator[RowOutcome]) -> Iterator[tuple[list[str], RowOutcome]]:
            notes = ReplacementNotes(repeats)
            lines = journaled_pairs(source.shown_rows(), journal.iter_journaled(), len(source.headers))
            for cells, request, note, outcome in lines:
                yield cells, notes.noted(request, described_request(request, note, outcome))

        return JournaledPlan(
            headers=source.headers,
            input_format=source.dialect,
            entries=entries(),
            cells=source.shown_rows,
            decode=ShareRequest.from_json,
            subject=share_subject,
            action=ShareAction,
            warnings=source.warnings,
            prepare=share_prepare,
            report_pairs=report_pairs,
            account_of=_account_of,
        )

    return await run_journaled(spec, auth, plan, share_batch_settings(spec), interactive=interactive,
                               handle_signals=handle_signals, settings=settings, fresh=fresh,
                               reshare_revoked=reshare_revoked, failures_on_purpose=failures_on_purpose)


def _account_of(request: ShareRequest) -> str | None:
    return request.account


async def run_journaled(
    spec: JobSpec,
    auth: AuthSettings | None,
    make_plan: Callable[[Journal, Path], JournaledPlan[PayloadT]],
    batch_settings: dict[str, object],
    *,
    interactive: bool,
    handle_signals: bool,
    settings: EngineSettings | None,
    fresh: bool,
    reshare_revoked: bool = False,
    kind: str = "share",
    failures_on_purpose: bool = False,
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
            resend = failure_filter(spec.retry_codes, spec.retry_failed)
            kept_failed, in_doubt = journal.left_to_do(resend)
            counts = replace(counts, to_send=counts.to_send - kept_failed)
            first_started = journal.get_meta(FIRST_STARTED_KEY)
            journal.run_started(summary.started_at)
            context = report_context(spec, snapshot.sha256, batch_name, journal.get_meta(FIRST_STARTED_KEY),
                                     summary.started_at, plan.headers)
            announce = functools.partial(_log_start, spec, kind, summary.started_at, first_started, counts,
                                         kept_failed, in_doubt)
            summary.warnings = [*([opened.replaced] if opened.replaced else []), *plan.warnings(),
                                *_preflight(spec, auth)]
            stats = RunStats()
            work = journal.iter_work(plan.decode, resend=resend)
            result = await _send(spec, auth, plan.action, work, journal, counts.to_send, stats, interactive,
                                 handle_signals, settings, plan.prepare, plan.account_of, announce,
                                 settle=kind == "share")
            summary.requests, summary.retries = stats.requests, stats.retries
            summary.rate_achieved = achieved_rate(stats)
            summary.stopped = result.stopped
            summary.held_back = result.held_back
            summary.by_code = journal.failed_by_code()
            if opened.earlier_shares:
                summary.warnings += _shared_again(journal, opened.earlier_shares)
            changed = _changed_during_run(spec.input, snapshot.sha256, snapshot_path)
            if changed:
                summary.warnings.append(changed)
                log_event("input_changed", changed, input=str(spec.input))
            outcomes = journal.iter_outcomes()
            pairs = plan.report_pairs(outcomes) if plan.report_pairs else zip_outcomes(plan.cells(), outcomes)
            batch = write_outputs(spec.out, plan.headers, plan.input_format, pairs, summary)
            batch.signal_exit, batch.failures_on_purpose = result.signal_exit, failures_on_purpose  # before run_ended
            latencies = journal.latencies_ms()
            journal.run_ended(utc_now_iso(), batch.exit_code, result.stopped)
        finally:
            journal.close()
    batch.job, batch.input_path, batch.kind = spec.name, spec.input, kind  # before report.html: its words are kind's
    finish_summary(batch, started, title=spec.name, stats=stats, latencies_ms=latencies, context=context)
    log_run_finished(batch)
    return batch


@dataclass
class _SendResult:
    stopped: str | None
    signal_exit: ExitCode | None
    held_back: int = 0


async def _send(
    spec: JobSpec,
    auth: AuthSettings | None,
    make_action: Callable[[PlatformClient], Action[PayloadT]],
    work: Iterable[WorkItem[PayloadT]],
    journal: Journal,
    to_send: int,
    stats: RunStats,
    interactive: bool,
    handle_signals: bool,
    settings: EngineSettings | None,
    prepare: Prepare | None = None,
    account_of: Callable[[PayloadT], str | None] | None = None,
    announce: Callable[[], None] = lambda: None,
    *,
    settle: bool = False,
) -> _SendResult:
    from runner.batches.accountrouting import routed_engine, workers_for
    from runner.outputs.progress import ProgressDisplay
    from runner.platform.session import account_clients

    routed = bool(spec.accounts) and account_of is not None
    settings = settings or EngineSettings(concurrency=workers_for(spec) if routed else spec.concurrency,
                                          max_attempts=spec.max_attempts, budget=row_budget(spec),
                                          brake=failure_brake(spec), settle_s=spec.settle_window_s if settle else 0.0)
    signal_exit: list[ExitCode] = []
    with ProgressDisplay(to_send, interactive=interactive) as progress:
        async with account_clients(spec, auth, stats, with_accounts=routed) as clients:
            announce()  # the credentials could be read: the run starts (a bad token file stays one line)
            sink = _Sink(journal, progress)
            engine = routed_engine(spec, clients, make_action, account_of if routed else None, sink, settings, stats)
            stopper = StopWithPrepare(engine)
            signals = StopOnSignals(stopper, signal_exit, enabled=handle_signals)
            with signals, StopAtDeadline(stopper, spec.deadline_s):
                if prepare is not None:
                    prepared = await stopper.prepared(prepare(journal, clients, sink, settings))
                    if prepared.finished_rows:
                        work = (item for item in work if item.row not in prepared.finished_rows)
                    if prepared.stop is not None:  # every row left ends not_attempted (or unknown if in doubt)
                        engine.request_stop(prepared.stop, interrupted=False)
                result = await engine.run(work)
            record_clock_offset(journal, [client.clock for client in clients.values()])
    journal.flush()
    return _SendResult(result.stopped, signal_exit[0] if signal_exit else None, result.held_back)


def record_clock_offset(journal: Journal, clocks: list[PlatformClock]) -> None:
    """The platform's clock against this machine's, for `sharebatch status` (look-ups already use the platform's)."""
    measured = [clock for clock in clocks if clock.measured]
    if measured:
        journal.set_meta(CLOCK_OFFSET_KEY, str(measured[0].offset_ms))


def _shared_again(journal: Journal, earlier: frozenset[object]) -> list[str]:
    """The rows this batch shared that repeat a share of the batch it replaced: each is now a second share."""
    from runner.batches.sharerows import share_subject
    from runner.models import RowStatus

    rows = [outcome.row for outcome, payload, _ in journal.iter_journaled()
            if outcome.status is RowStatus.SUCCESS and payload and share_subject(payload) in earlier]
    if not rows:
        return []
    shown = ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else "")
    return [f"{len(rows)} rows of this input repeat shares of the earlier batch and were shared again (rows {shown}). "
            "To send only what is left of a batch, feed its failed.csv back instead of an edited input"]


def _log_start(spec: JobSpec, kind: str, started_at: str, first_started: str | None, counts: SyncCounts,
               kept_failed: int, in_doubt: int) -> None:
    """The first line of every run: a run killed later still leaves what it was, and where, in the log."""
    import logging

    batch = "a new batch" if first_started is None else f"resumes the batch first started {first_started}"
    kept = f", {kept_failed} failed rows kept (refused; --retry-failed re-sends them)" if kept_failed else ""
    doubt = f" (of them {in_doubt} in doubt: each looked up before any send)" if in_doubt else ""
    logging.getLogger("runner.run").info(
        f"{kind} started {started_at}: job {spec.name}, input {spec.input}, {counts.total} rows; {batch}: "
        f"{counts.already_done} done, {counts.to_send} to send{doubt}{kept}; out {spec.out}",
        extra={"event": "run_started", "job": spec.name, "input": str(spec.input), "out": str(spec.out),
               "base_url": spec.base_url, "rows": counts.total, "to_send": counts.to_send,
               "already_done": counts.already_done, "in_doubt": in_doubt, "failed_kept": kept_failed,
               "resumed": first_started is not None})


def _preflight(spec: JobSpec, auth: AuthSettings | None) -> list[str]:
    """Token expiries and clock skew, said before anything is sent (and kept in the summary).

    The default token checked is the one this run sends with (`auth`: runner.api's `env=`), never
    whatever this process's own environment holds.
    """
    import logging

    from runner.platform.preflight import REFRESH_TOKEN_ENV, TOKEN_ENV, preflight_warnings

    environ: dict[str, str] = {}
    if auth is not None and auth.access_token is not None:
        environ[TOKEN_ENV] = auth.access_token.reveal()
        if auth.refresh_token is not None:
            environ[REFRESH_TOKEN_ENV] = auth.refresh_token.reveal()
    found = preflight_warnings(spec, environ=environ, sending=True)
    for line in found:
        logging.getLogger("runner.preflight").warning(line, extra={"event": "preflight"})
    return found


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
