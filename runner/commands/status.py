"""`sharebatch status`: what a batch's journal and lock say, in the report's terms (and, given the job, its preflight).

The journal's own states are translated as the report translates them once no run is active: a
row still `pending` was not sent (`not_attempted`), and a row left `in_flight` by a run that was
killed is in doubt (`unknown`: it is looked up before it is ever sent again), never "running".
Only a run that holds the out dir's lock right now makes the batch `running`; the lock is read,
never taken, so `status` cannot make a starting run exit 4. Given the job, it also prints the
preflight warnings (tokens, and the platform's clock: one HEAD request without a token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from runner.commands.console import echo
from runner.engine.journal import JOURNAL_NAME, Journal
from runner.engine.records import IN_FLIGHT, PENDING, JournalStatus
from runner.engine.runlock import LockHolder, active_holder
from runner.errors import ExitCode, UsageError
from runner.models import RENAMED_STATUS_VALUES, RowStatus
from runner.outputs.nextstep import unknown_meaning, unknown_next_step
from runner.platform.clockskew import SKEW_WARN_S, describe_offset
from runner.platform.codes import advise_code, describe_code

#: the order rows are listed in, report statuses first
STATUS_ORDER = ("success", "revoked", "already_ended", "failed", "invalid", "duplicate", "not_attempted", "unknown",
                PENDING, IN_FLIGHT)
_UNFINISHED = (RowStatus.NOT_ATTEMPTED.value, RowStatus.UNKNOWN.value, PENDING, IN_FLIGHT)
_STOPPING_EXITS = (int(ExitCode.ABORTED), int(ExitCode.INTERRUPTED), int(ExitCode.TERMINATED))


@dataclass
class BatchStatus:
    """One out dir's batch as `status` shows it."""

    out_dir: Path
    state: str  # running, finished, held_back (--limit), stopped or cut_off (the last run was killed before its end)
    why: str  # one line saying what `state` means here
    rows: dict[str, int]  # report status (or, while running, pending / in_flight) -> rows
    in_doubt: int  # of rows["unknown"]: left in flight by a run that was killed
    failed_by_code: dict[str, int]
    first_started_at: str | None
    last_finished_at: str | None
    last_exit_code: int | None
    holder: LockHolder | None = None
    notes: list[str] = field(default_factory=list)
    clock_offset_ms: int | None = None  # the platform's clock minus this machine's, as the last run measured it

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    @property
    def unfinished(self) -> int:
        return sum(self.rows.get(state, 0) for state in _UNFINISHED)

    def to_dict(self) -> dict[str, object]:
        return {
            "out": str(self.out_dir), "state": self.state, "why": self.why, "total": self.total, "rows": self.rows,
            "in_doubt": self.in_doubt, "failed_by_code": self.failed_by_code,
            "first_started_at": self.first_started_at, "last_finished_at": self.last_finished_at,
            "last_exit_code": self.last_exit_code, "unfinished": self.unfinished,
            "platform_clock_offset_s": None if self.clock_offset_ms is None else round(self.clock_offset_ms / 1000),
            "running": None if self.holder is None else {
                "pid": self.holder.pid, "host": self.holder.host, "started_at": self.holder.started_at},
        }


def batch_dirs(out_dir: Path) -> list[Path]:
    """The batch in `out_dir`, or for an inbox job every file's batch below it."""
    if (out_dir / JOURNAL_NAME).exists():
        return [out_dir]
    found = sorted(path.parent for path in out_dir.glob(f"*/{JOURNAL_NAME}"))
    if not found:
        raise UsageError(f"{_clean(out_dir)}: no journal here (has this job been run with this --out?)")
    return found


def read_status(out_dir: Path) -> BatchStatus:
    """The batch in `out_dir` from its journal (read only) and its lock (read, never taken)."""
    holder = active_holder(out_dir)
    journal = Journal.open_read_only(out_dir)
    try:
        recorded = journal.status()
    finally:
        journal.close()
    return _status(_clean(out_dir), recorded, holder)


def exit_code(statuses: list[BatchStatus]) -> ExitCode:
    """0 when every batch finished (each row has its outcome, no run is active); 1 otherwise."""
    busy = any(status.unfinished or status.state != "finished" for status in statuses)
    return ExitCode.ROWS_FAILED if busy else ExitCode.OK


def describe(status: BatchStatus) -> list[str]:
    """The text lines of one batch."""
    lines = [f"{status.out_dir}: {status.total} rows; {status.state}: {status.why}"]
    lines.append(f"  {'first start':<22}{_local(status.first_started_at)}")
    lines.append(f"  {'last finish':<22}{_local(status.last_finished_at)}")
    labels = {PENDING: "not_attempted", IN_FLIGHT: "in_flight"}  # the report's words
    for state in STATUS_ORDER:
        count = status.rows.get(state, 0)
        if count:
            lines.append(f"  {labels.get(state, state):<22}{count:>8}")
    if status.in_doubt:
        lines.append(f"  ({status.in_doubt} of the unknown rows were in flight when a run was killed: in doubt; "
                     "each is looked up in the device's share list before it is ever sent again)")
    unknown = status.rows.get(RowStatus.UNKNOWN.value, 0)
    if unknown and status.holder is None:  # while a run is active, it is the one settling them
        lines.append(f"  {unknown_meaning(unknown)} What to do: {unknown_next_step(None, status_line=False)}")
    if status.failed_by_code:
        lines.append("  failed by code:")
        for code, count in status.failed_by_code.items():
            label = describe_code(int(code)) if code.isdigit() else "no answer (connection or timeout)"
            lines.append(f"    {count:>8}  {label}")
            lines.append(f"              what to do: {advise_code(code)}")
    lines.extend(f"  {note}" for note in status.notes)
    return lines


def _status(out_dir: Path, recorded: JournalStatus, holder: LockHolder | None) -> BatchStatus:
    rows: dict[str, int] = {}
    for state, count in recorded.states.items():  # an older journal may use an older name
        name = RENAMED_STATUS_VALUES.get(state, state)
        rows[name] = rows.get(name, 0) + count
    in_doubt = 0
    last_finished = recorded.last_ended_at or recorded.last_row_finished_at
    if holder is not None:
        state, why = "running", f"a run holds the lock now ({holder.describe()})"
    else:
        # No run is active: the journal's states read as the report reads them.
        in_doubt = rows.pop(IN_FLIGHT, 0)
        if in_doubt:
            rows[RowStatus.UNKNOWN.value] = rows.get(RowStatus.UNKNOWN.value, 0) + in_doubt
        pending = rows.pop(PENDING, 0)
        if pending:
            rows[RowStatus.NOT_ATTEMPTED.value] = rows.get(RowStatus.NOT_ATTEMPTED.value, 0) + pending
        state, why = _ending(recorded, rows)
    rows = {name: rows[name] for name in [*STATUS_ORDER, *sorted(set(rows) - set(STATUS_ORDER))] if rows.get(name)}
    status = BatchStatus(out_dir, state, why, rows, in_doubt, recorded.failed_by_code, recorded.first_started_at,
                         last_finished, recorded.last_exit_code if holder is None else None, holder)
    offset = recorded.clock_offset_ms
    if offset is not None and abs(offset) > SKEW_WARN_S * 1000:
        status.notes.append(f"the platform's clock is {describe_offset(offset)} (measured by the last run from its "
                            "answers); share-list look-ups use the platform's time, but fix this machine's clock "
                            "(NTP) if it is the one that is off")
    status.clock_offset_ms = offset
    return status


def _ending(recorded: JournalStatus, rows: dict[str, int]) -> tuple[str, str]:
    """How the last run ended, when none is running now."""
    unfinished = sum(rows.get(state, 0) for state in _UNFINISHED)
    if not recorded.last_run_ended:
        started = f" (started {_local(recorded.last_started_at)})" if recorded.last_started_at else ""
        return "cut_off", (f"the last run{started} ended before it finished (killed, or the machine stopped); "
                           "run the same command again: it looks up the rows in doubt first")
    exit_note = f", exit {recorded.last_exit_code}" if recorded.last_exit_code is not None else ""
    held = rows.get(RowStatus.NOT_ATTEMPTED.value, 0)
    if held and held == unfinished and not recorded.last_stopped and recorded.last_exit_code in (0, 1):
        # only a row budget (--limit) ends a run that was not stopped with rows never sent
        return "held_back", (f"{held} rows held back by --limit (not sent yet); run the same command without "
                             f"--limit to send them{exit_note}")
    if recorded.last_stopped or recorded.last_exit_code in _STOPPING_EXITS or unfinished:
        reason = recorded.last_stopped or f"{unfinished} rows are not finished"
        return "stopped", f"{reason}{exit_note}"
    return "finished", f"no run is active; every row has its outcome{exit_note}"


def _clean(path: Path) -> Path:
    """An absolute path without `..` (`jobs/../out/b2` is shown as the folder it is)."""
    return path.resolve()


def _local(iso: str | None) -> str:
    """A UTC ISO time as local time with its zone, UTC beside it; '-' when there is none."""
    if not iso:
        return "-"
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if moment.tzinfo is None:
        return iso
    local = moment.astimezone()
    utc = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    if local.utcoffset() == moment.utcoffset():
        return utc
    return f"{local.strftime('%Y-%m-%d %H:%M:%S %Z')} ({utc})"


def status_command(job: Path | None, out: Path | None, input_path: Path | None, *, as_json: bool) -> int:
    """Read every batch of the out dir, print it (or one JSON object); the exit code."""
    from runner.batches.jobspec import load_job_spec

    if job is None and out is None and input_path is None:
        raise UsageError("give a job file or --out DIR")
    from runner.platform.preflight import preflight_warnings

    spec = load_job_spec(job, {"input": input_path}) if job is not None or input_path is not None else None
    out_dir = out if out is not None else spec.out if spec is not None else Path()
    warnings = preflight_warnings(spec) if spec is not None else []  # tokens and clock, before the next run
    if not as_json:
        for line in warnings:
            echo(f"warning: {line}")
    statuses = [read_status(batch_dir) for batch_dir in batch_dirs(out_dir)]
    if as_json:
        import json

        import click

        from runner.redact import redact

        click.echo(redact(json.dumps({"batches": [item.to_dict() for item in statuses], "warnings": warnings},
                                     ensure_ascii=False)))
    else:
        for item in statuses:
            for line in describe(item):
                echo(line)
    return int(exit_code(statuses))
