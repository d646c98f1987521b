"""The cron inbox: a job whose `input` is a glob shares each new file once, then files it away.

    input = "inbox/*.csv"      # in the job file; relative to the job file's folder

One pass, under the job out dir's run lock (an overlapping cron run exits 4 at once), takes the
matching files in name order (dotfiles skipped: upload under a dot name or elsewhere, then rename
into the inbox, so a half-written file is never taken) and runs each as its own batch, with its
own out dir `<job out>/batch-<first 12 hex of the content's SHA-256>`:

- finished (exit 0 or 1): the file moves to `done/` beside it;
- unusable (a UsageError naming the file: empty, binary, a column missing...): it moves to
  `rejected/`, with `<name>.reason.txt` beside it holding the one-line error;
- stopped early (3) or interrupted (130/143): it stays, and the pass ends at once, leaving the
  later files too (what stops a batch, a dead token, a block, a wrong base URL, would stop them
  all). The next pass resumes it: same content, same out dir, same journal, so rows that already
  succeeded are not sent again.

Because the out dir follows the content only, the same bytes dropped again after they were done,
under any name (`shares (1).csv` from a mail client, a re-upload), are the same finished batch:
the file moves to done/ without a request (an accidental double upload cannot share twice); delete
that out dir (or run the file alone into it with `--fresh`) to send it afresh. A problem with the
job itself (no base URL, bad CA bundle, unknown encoding, token file) stops the pass with exit 2
and leaves every file in place.

Exit code of a pass, the most severe wins: 130/143 interrupted > 3 a file stopped early > 2 a file
was rejected > 1 a file finished with failed or invalid rows > 0 every file fully succeeded, or
there was nothing new. Exit 4 (locked) comes as a LockedError before any file is touched.
"""

from __future__ import annotations

import codecs
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from runner.batches.batchdir import file_sha256
from runner.batches.jobspec import JobSpec
from runner.batches.results import BatchResult
from runner.batches.run import run_batch
from runner.commands.console import echo
from runner.engine.journal import JOURNAL_NAME, UNFINISHED_STATES, Journal
from runner.engine.runlock import RunLock
from runner.errors import ExitCode, InputFileError, UsageError
from runner.events import log_event
from runner.input.editorfiles import editor_file_kind
from runner.outputs.atomic import atomic_writer
from runner.platform.auth.tokens import AuthSettings
from runner.platform.tls import tls_context
from runner.redact import redact

GLOB_CHARS = "*?["
DONE_DIR = "done"
REJECTED_DIR = "rejected"
REASON_SUFFIX = ".reason.txt"

# Most severe first; a pass's exit code is the first of these that any file had.
_SEVERITY = (ExitCode.INTERRUPTED, ExitCode.TERMINATED, ExitCode.ABORTED, ExitCode.USAGE, ExitCode.ROWS_FAILED)


class FileOutcome(StrEnum):
    """What became of one inbox file."""

    DONE = "done"  #: the batch finished (exit 0 or 1); the file is in done/
    REJECTED = "rejected"  #: the file itself is unusable; it is in rejected/ with a reason file
    KEPT = "kept"  #: stopped early or interrupted; it stays for the next pass to resume


@dataclass
class InboxFileResult:
    source: Path  #: where the file was found
    outcome: FileOutcome
    exit_code: ExitCode
    out_dir: Path
    moved_to: Path | None = None
    reason: str | None = None  #: rejected: the error; kept: why the batch stopped
    batch: BatchResult | None = None


@dataclass
class InboxResult:
    folder: Path
    job: str = ""  #: the job's name, for the lines a cron log keeps
    files: list[InboxFileResult] = field(default_factory=list)
    #: found but not started, because an earlier file stopped the pass
    left: list[Path] = field(default_factory=list)
    exit_code: ExitCode = ExitCode.OK

    def counts(self) -> dict[str, int]:
        """Files per outcome, plus `left`."""
        counted = Counter(result.outcome.value for result in self.files)
        return {**{outcome.value: counted[outcome.value] for outcome in FileOutcome}, "left": len(self.left)}


def is_glob(text: str) -> bool:
    """True when `text` holds a glob character, i.e. names an inbox rather than one file."""
    return any(char in text for char in GLOB_CHARS)


async def run_inbox(
    spec: JobSpec, pattern: str, auth: AuthSettings | None, *, interactive: bool, handle_signals: bool = True
) -> InboxResult:
    """One inbox pass: each matching file as its own batch, then filed away; see the module docstring."""
    folder, name_glob = split_pattern(pattern)
    _check_job(spec)
    result = InboxResult(folder, job=spec.name)
    with RunLock(spec.out):
        files = list_new_files(folder, name_glob)
        for index, path in enumerate(files):
            done = await _process_file(spec, path, auth, interactive=interactive, handle_signals=handle_signals)
            result.files.append(done)
            log_event("inbox_file", f"{path.name}: {done.outcome.value}, exit {int(done.exit_code)}",
                      file=str(path), outcome=done.outcome.value, exit_code=int(done.exit_code),
                      out=str(done.out_dir), moved_to=str(done.moved_to) if done.moved_to else None,
                      reason=done.reason)
            if done.outcome is FileOutcome.KEPT:
                result.left = files[index + 1:]
                break
    result.exit_code = inbox_exit_code(result.files)
    log_event("inbox_finished", f"inbox {folder}: {len(result.files)} files, exit {int(result.exit_code)}",
              inbox=str(folder), exit_code=int(result.exit_code), **result.counts())
    return result


def inbox_exit_code(files: list[InboxFileResult]) -> ExitCode:
    """The most severe file's exit code (see the module docstring); 0 for no files."""
    codes = {result.exit_code for result in files}
    return next((code for code in _SEVERITY if code in codes), ExitCode.OK)


def split_pattern(pattern: str) -> tuple[Path, str]:
    """The inbox folder and the file-name glob; glob characters belong in the file name only."""
    path = Path(pattern)
    if is_glob(str(path.parent)):
        raise UsageError(f"{pattern}: only the file name may hold * ? [ (an inbox is one folder, e.g. inbox/*.csv)")
    return path.parent, path.name


def list_new_files(folder: Path, name_glob: str) -> list[Path]:
    """Matching files in name order; editor lock files, dotfiles and `*.tmp` (saves in progress) and folders
    are skipped."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: the inbox folder does not exist")
    found = (path for path in folder.glob(name_glob) if path.is_file() and editor_file_kind(path.name) is None)
    return sorted(found, key=lambda path: path.name)


def batch_out_dir(job_out: Path, path: Path) -> Path:
    """`<job out>/batch-<content hash>`: the same bytes under any name are the same batch.

    A copy saved as `shares (1).csv` therefore resumes (or finds finished) the batch of
    `shares.csv` instead of sharing it again. Out dirs of earlier versions were named
    `<stem>-<hash>`; one of those for these bytes is used as it is, so its batch resumes.
    """
    digest = file_sha256(path)
    if digest is None:
        raise InputFileError(path, "cannot read the file")
    short = digest[:12]
    earlier = sorted(candidate for candidate in job_out.glob(f"*-{short}") if candidate.is_dir())
    return earlier[0] if earlier else job_out / f"batch-{short}"


def finished_batch(out_dir: Path) -> bool:
    """True when `out_dir` holds a batch with nothing left to send or look up (every row has its final outcome)."""
    if not (out_dir / JOURNAL_NAME).exists():
        return False
    journal = Journal.open(out_dir, scrub=redact)
    try:
        counts = journal.counts()
    finally:
        journal.close()
    return bool(counts) and not any(counts.get(state) for state in UNFINISHED_STATES)


def _check_job(spec: JobSpec) -> None:
    """Problems of the job, not of a file: found before any file is touched, so none is rejected for them."""
    spec.require_base_url()
    if is_glob(str(spec.out)):
        raise UsageError(f"an inbox job needs an out dir without * ? [ (now {spec.out}): set `name` or `out`")
    try:
        codecs.lookup(spec.encoding)
    except LookupError:
        raise UsageError(f'unknown encoding "{spec.encoding}" (try utf-8, latin-1, cp1252 or gbk)') from None
    tls_context(spec.ca_bundle)


async def _process_file(
    spec: JobSpec, path: Path, auth: AuthSettings | None, *, interactive: bool, handle_signals: bool
) -> InboxFileResult:
    try:
        out_dir = batch_out_dir(spec.out, path)
    except InputFileError as exc:
        return InboxFileResult(path, FileOutcome.REJECTED, ExitCode.USAGE, spec.out, reject_file(path, str(exc)),
                               str(exc))
    if finished_batch(out_dir):
        # The same bytes were shared before (a copy under another name, or dropped again): no request.
        moved = move_into(path, DONE_DIR)
        return InboxFileResult(path, FileOutcome.DONE, ExitCode.OK, out_dir, moved,
                               reason=f"same content as the batch in {out_dir}, which is finished; nothing sent")
    try:
        batch = await run_batch(replace(spec, input=path, out=out_dir), auth, interactive=interactive,
                                handle_signals=handle_signals)
    except InputFileError as exc:
        # A problem of this file rejects it; anything else is the job's, and stops the pass.
        if exc.path != path:
            raise
        reason = str(exc)
        moved = reject_file(path, reason)
        return InboxFileResult(path, FileOutcome.REJECTED, ExitCode.USAGE, out_dir, moved, reason)
    if batch.exit_code in (ExitCode.OK, ExitCode.ROWS_FAILED):
        moved = move_into(path, DONE_DIR)
        return InboxFileResult(path, FileOutcome.DONE, batch.exit_code, out_dir, moved, batch=batch)
    return InboxFileResult(path, FileOutcome.KEPT, batch.exit_code, out_dir, reason=batch.summary.stopped,
                           batch=batch)


def move_into(path: Path, folder_name: str) -> Path:
    """Move the file into `<its folder>/<folder_name>/`, never over an earlier file of the same name."""
    target = _free_name(path.parent / folder_name, path.name)
    path.rename(target)
    return target


def reject_file(path: Path, reason: str) -> Path:
    """Move the file to rejected/ with `<name>.reason.txt` beside it; the reason is written first."""
    target = _free_name(path.parent / REJECTED_DIR, path.name)
    with atomic_writer(target.with_name(target.name + REASON_SUFFIX)) as handle:
        handle.write(reason + "\n")
    path.rename(target)
    return target


def _free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `stem-2.ext`, `stem-3.ext`, ... when an earlier file took it."""
    folder.mkdir(exist_ok=True)
    candidate = folder / name
    number = 1
    while candidate.exists():
        number += 1
        candidate = folder / f"{Path(name).stem}-{number}{Path(name).suffix}"
    return candidate


def print_inbox(result: InboxResult, *, quiet: bool, job: str) -> None:
    """One line per inbox file, then the pass, each starting with the UTC time and the job (a cron log
    collects every night's lines); --quiet says nothing when there was nothing new."""
    if not result.files and quiet:
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for item in result.files:
        where = f" -> {item.moved_to}" if item.moved_to else ""
        line = f"{stamp} job {job} input {item.source}: {item.outcome.value} (exit {int(item.exit_code)}){where}"
        if item.batch is not None:
            s = item.batch.summary
            unknown = f", {s.unknown} unknown" if s.unknown else ""
            line += (f"; {s.total} rows: {s.success} success, {s.failed} failed, {s.invalid} invalid, "
                     f"{s.not_attempted} not attempted{unknown}, {s.requests} requests; "
                     f"report {item.batch.report_path}")
            if s.warnings:
                line += f"; {len(s.warnings)} warning(s) in {item.batch.summary_path}"
        if item.reason:
            line += f"; {item.reason}"
        echo(line)
    counts = result.counts()
    left = f", {counts['left']} left for the next pass" if counts["left"] else ""
    echo(f"{stamp} job {job} inbox {result.folder}: exit {int(result.exit_code)}; {len(result.files)} files: "
         f"{counts['done']} done, {counts['rejected']} rejected, {counts['kept']} kept{left}")
