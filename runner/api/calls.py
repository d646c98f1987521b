"""The library calls behind the commands: one per command, the same options, typed results.

Each call loads and checks the job like its command (a job file, then keyword options over it),
runs it to the end and returns the command's result: the summary figures, the output paths and
`exit_code`, the code the command line would exit with. A problem with the job, the input, the
out dir or the machine raises a `runner.errors.RunnerError` (UsageError, LockedError, ...), never
a traceback from below; a row's problem is a row's status in the report, never an exception.

The calls are synchronous. Inside a running event loop (a notebook) the batch runs on its own
loop in a worker thread, so `runner.api.run(...)` works in a Jupyter cell as in a script.
Tokens come from `env` (default: os.environ), read as the command reads them
(SHAREBATCH_TOKEN, SHAREBATCH_REFRESH_TOKEN), or from the `token_file` option.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from runner.api.faults import environment_faults
from runner.api.options import PathArg, PlanOptions, ReadingOptions, RunOptions, SendingOptions, job_overrides
from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.batches.jobspec import JobSpec
    from runner.batches.results import BatchResult
    from runner.commands.inbox import InboxResult
    from runner.commands.plan import PlanResult
    from runner.commands.track import TrackResult
    from runner.platform.auth.tokens import AuthSettings

T = TypeVar("T")


def validate(job: PathArg | None = None, /, **options: Unpack[ReadingOptions]) -> BatchResult:
    """Load and validate the input like `run`; send nothing; write the report to OUT/validate/.

    Each row's status is valid, invalid or duplicate. `exit_code` is 0 when no row is invalid,
    1 otherwise. Raises UsageError for a file or option problem, LockedError while a run holds OUT.
    """
    from runner.commands.validate import validate_batch
    from runner.outputs.outdir import check_out_dir

    spec = _spec(job, options)
    check_out_dir(spec.out)
    with environment_faults(spec.out):
        return validate_batch(spec)


def run(
    job: PathArg | None = None, /, *, fresh: bool = False, reshare_revoked: bool = False, progress: bool = False,
    env: Mapping[str, str] | None = None, **options: Unpack[RunOptions],
) -> BatchResult:
    """Share the devices of the input: validate every row, send the valid ones, report every row.

    Calling it again with the same input and out dir resumes the batch: rows already shared are
    not sent again, rows a killed run left in doubt are looked up first. `fresh` starts the
    batch again (the old journal and outputs move to OUT/history/); `reshare_revoked` shares the
    rows a revoke ended anew; `progress` shows a progress bar on stderr. The outputs are
    report.csv, failed.csv (or .xlsx), summary.json and report.html in `result.out_dir`;
    `result.exit_code` is 0 when every unique row succeeded, 1 when some did not, 3 when the
    run stopped early, 130/143 when a signal stopped it.
    """
    from runner.batches.run import run_batch
    from runner.commands.inbox import is_glob
    from runner.outputs.outdir import check_out_dir

    spec = _spec(job, options)
    if is_glob(str(spec.input)):
        raise UsageError(f"{spec.input} is a glob, i.e. an inbox folder: call runner.api.inbox() for it")
    check_out_dir(spec.out)
    auth = _auth(spec, env)
    with environment_faults(spec.out):
        return _call(lambda signals: run_batch(spec, auth, interactive=progress, handle_signals=signals, fresh=fresh,
                                               reshare_revoked=reshare_revoked))


def is_inbox(job: PathArg | None = None, /, **options: Unpack[RunOptions]) -> bool:
    """True when the job's input is a glob (inbox/*.csv): an inbox for `inbox()`, not a file for `run()`."""
    from runner.commands.inbox import is_glob

    return is_glob(str(_spec(job, options).input))


def inbox(
    job: PathArg | None = None, /, *, progress: bool = False, env: Mapping[str, str] | None = None,
    **options: Unpack[RunOptions],
) -> InboxResult:
    """One pass over an inbox (the input is a glob such as inbox/*.csv): each new file as its own batch.

    Each file is run like `run()` into a folder of its own under OUT, then filed under done/ or
    rejected/ (README, An inbox folder). `result.files` holds one entry per file;
    `result.exit_code` is the command's.
    """
    from runner.commands.inbox import is_glob, run_inbox
    from runner.outputs.outdir import check_out_dir

    spec = _spec(job, options)
    if not is_glob(str(spec.input)):
        raise UsageError(f"{spec.input} is one file, not an inbox glob such as inbox/*.csv: call runner.api.run()")
    if spec.limit is not None:
        raise UsageError("--limit does not apply to an inbox (input is a glob): a file would be filed as done "
                         "with rows unsent; run one file with --input and --limit first")
    check_out_dir(spec.out)
    auth = _auth(spec, env)
    with environment_faults(spec.out):
        return _call(lambda signals: run_inbox(spec, str(spec.input), auth, interactive=progress,
                                               handle_signals=signals))


def plan(
    job: PathArg | None = None, /, *, env: Mapping[str, str] | None = None, **options: Unpack[PlanOptions],
) -> PlanResult:
    """What the batch would do to the shares that exist, before it is run; nothing is changed.

    Reads each distinct device's share list once and writes OUT/plan/plan.csv: every input row
    with its action (create, in_place, change_expiry, replaces, no_permission, lookup_failed,
    invalid, duplicate) and detail. `result.counts` holds rows per action; `exit_code` is 0 when
    every row is create or in_place, 1 when a row needs a look, 3 when the look-ups stopped.
    """
    from runner.commands.plan import plan_batch

    spec = _spec(job, options)
    auth = _auth(spec, env)
    with environment_faults(spec.out):
        return _call(lambda _signals: plan_batch(spec, auth))


def track(
    report: PathArg, /, *, out: PathArg | None = None, env: Mapping[str, str] | None = None,
    **options: Unpack[SendingOptions],
) -> TrackResult:
    """Where each share a run created stands: accepted, pending, ended, missing (or unknown).

    Reads the share list of every device the run's report.csv shared and writes OUT/track.csv
    (default OUT: a `track` folder beside the report). `result.counts` holds shares per state;
    `exit_code` is 0 when every state was read, 1 when some could not be, 3 when the look-ups stopped.
    """
    from runner.commands.track import track_report

    spec = _report_spec(report, out, "track", dict(options))
    auth = _auth(spec, env, login=False)
    with environment_faults(spec.out):
        return _call(lambda _signals: track_report(spec, auth))


def revoke(
    report: PathArg, /, *, rows: str | None = None, out: PathArg | None = None, fresh: bool = False,
    mask_recipients: bool | None = None, progress: bool = False, env: Mapping[str, str] | None = None,
    **options: Unpack[SendingOptions],
) -> BatchResult:
    """Undo a batch: revoke every share a run's report.csv says it created (or only `rows`, e.g. "3,7-12").

    Journaled and resumable like `run`; its report (default OUT: a `revoke` folder beside the
    report) lists revoked, already_ended, failed or not_attempted. A selection that holds no
    successful share raises NothingToDoError and touches nothing.
    """
    from runner.commands.revoke import revoke_batch
    from runner.outputs.outdir import check_out_dir

    spec = _report_spec(report, out, "revoke", {**options, "mask_recipients": mask_recipients})
    check_out_dir(spec.out)
    auth = _auth(spec, env, login=False)
    with environment_faults(spec.out):
        return _call(lambda signals: revoke_batch(spec, auth, rows=rows, interactive=progress,
                                                  handle_signals=signals, fresh=fresh))


def extend(
    report: PathArg, /, *, expiry: str, rows: str | None = None, timezone: str | None = None,
    out: PathArg | None = None, fresh: bool = False, progress: bool = False, env: Mapping[str, str] | None = None,
    **options: Unpack[SendingOptions],
) -> BatchResult:
    """Change the expiry of the shares a run's report.csv says it created (or only `rows`).

    `expiry` takes any form an expiry cell takes (2027-03-31, an ISO date-time, epoch ms, 90d
    from the first start of this extend); it cannot be permanent (the platform requires one).
    Journaled and resumable like `run`; its report lists extended, already_ended, failed or
    not_attempted (default OUT: an `extend` folder beside the report).
    """
    from runner.commands.extend import extend_batch

    spec = _report_spec(report, out, "extend", {**options, "timezone": timezone})
    auth = _auth(spec, env, login=False)
    with environment_faults(spec.out):
        return _call(lambda signals: extend_batch(spec, auth, expiry=expiry, rows=rows, interactive=progress,
                                                  handle_signals=signals, fresh=fresh))


def _spec(job: PathArg | None, options: Mapping[str, object]) -> JobSpec:
    from runner.batches.jobspec import load_job_spec

    return load_job_spec(None if job is None else Path(job), job_overrides(options))


def _report_spec(report: PathArg, out: PathArg | None, name: str, options: dict[str, object]) -> JobSpec:
    """The job of a command that starts from a run's report: its out dir defaults to a folder beside it."""
    from runner.batches.jobspec import load_job_spec

    path = Path(report)
    return load_job_spec(None, {**job_overrides(options), "input": path, "out": Path(out) if out else
                                path.parent / name, "name": name})


def _auth(spec: JobSpec, env: Mapping[str, str] | None, *, login: bool = True) -> AuthSettings | None:
    """The default credentials; optional (None) for a job with accounts, whose rows may all name theirs."""
    from runner.batches.accountrouting import default_credentials

    return default_credentials(spec, env, login=login)


def _call(make: Callable[[bool], Coroutine[Any, Any, T]]) -> T:
    """Run a batch's coroutine to the end; `make(True)` may install Ctrl-C / SIGTERM handlers.

    Signal handlers need the main thread and a loop of our own; inside a running loop (a
    notebook's) the batch gets a fresh loop in a worker thread, without them.
    """
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make(threading.current_thread() is threading.main_thread()))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sharebatch") as pool:
        return pool.submit(asyncio.run, make(False)).result()

