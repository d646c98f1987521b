"""A batch's out dir: which batch it holds, the input as it was loaded, and the history of earlier ones.

One out dir holds one batch at a time. A batch is named by the SHA-256 of the input's bytes plus
the settings that shape its requests (`batch_id`), stored in the journal. A run whose batch
differs from the journal's (the same cron path with tonight's file, an edited spreadsheet,
`--fresh`) moves the earlier batch's journal and outputs to `history/<UTC time>-<batch id>/`
first, so two batches never share a journal and an earlier batch can still be revoked.

The run reads its input from a copy taken under the lock (`input-as-loaded.<ext>`): the rows it
sends and the rows its report shows come from the same bytes, even if someone replaces the
original file while the run is going.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from runner.clock import utc_now_iso
from runner.engine.journal import JOURNAL_FILES, Journal
from runner.engine.runlock import RunLock
from runner.errors import InputFileError, JournalUnusableError, UsageError
from runner.events import log_event
from runner.redact import redact

SNAPSHOT_STEM = "input-as-loaded"
HISTORY_DIR = "history"
#: what a batch leaves in its out dir besides the journal and the snapshot; moved to history with it
OUTPUT_NAMES = ("report.csv", "failed.csv", "failed.xlsx", "summary.json", "report.html", "revoke", "validate",
                "track", "extend")
BATCH_ID_KEY = "batch_id"
REVOKED_KEY = "revoked_at"  # a revoke of this batch started then
REVOKE_FINISHED_KEY = "revoke_finished_at"  # ... and went through every row it selected
_BLOCK = 1 << 20
#: the batches run over a report's selection of rows, and the state of a row they did
_DONE_WORD = {"revoke": "revoked", "extend": "extended"}


@dataclass
class OpenedBatch:
    """The journal of this run's batch, and what the batch it replaced in this out dir left behind."""

    journal: Journal
    #: (payload, doubt_ms) of the replaced batch's rows that may have been applied: never forgotten
    carried_doubt: list[tuple[str, int]] = field(default_factory=list)
    #: a line for the summary when an earlier batch was moved to history
    replaced: str | None = None
    #: device and recipient of each share the replaced batch made: a row of this batch that repeats one is a
    #: second share, and the summary says so once the run has shared it (not before, and not when none was)
    earlier_shares: frozenset[object] = frozenset()


@dataclass(frozen=True)
class Snapshot:
    """The input copied into the out dir under a temporary name, with the digest of those bytes."""

    temporary: Path
    final: Path
    sha256: str

    def keep(self) -> Path:
        """Put the copy in place (replacing an identical one from an earlier run of the batch)."""
        self.temporary.replace(self.final)
        return self.final

    def discard(self) -> None:
        self.temporary.unlink(missing_ok=True)


def take_snapshot(source: Path, out_dir: Path) -> Snapshot:
    """Copy `source` into `out_dir` while hashing it; the copy is what the run reads."""
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{SNAPSHOT_STEM}{source.suffix.lower()}"
    temporary = out_dir / f".{final.name}.tmp"
    digest = hashlib.sha256()
    try:
        reader = source.open("rb")
    except OSError as exc:  # the file's own problem (gone, unreadable): an inbox rejects the file
        raise InputFileError(source, f"cannot be read ({exc.strerror or exc})") from None
    try:
        # 0600 like every output: the copy holds the recipients' emails and phones
        private = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with reader, os.fdopen(private, "wb") as writer:
            for block in iter(lambda: reader.read(_BLOCK), b""):
                digest.update(block)
                writer.write(block)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"{source}: cannot copy the input into {out_dir}: {exc.strerror or exc}") from None
    return Snapshot(temporary, final, digest.hexdigest())


def file_sha256(path: Path) -> str | None:
    """The file's digest, or None when it cannot be read (gone, replaced by a folder...)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(_BLOCK), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def batch_id(content_sha256: str, settings: Mapping[str, object]) -> str:
    """The batch's name: the input's bytes plus the settings that change what is sent."""
    shaped = json.dumps({"content": content_sha256, **settings}, sort_keys=True, default=str)
    return hashlib.sha256(shaped.encode()).hexdigest()[:24]


def open_batch_journal(
    out_dir: Path, batch: str, *, fresh: bool, reshare_revoked: bool = False, kind: str = "share",
) -> OpenedBatch:
    """The journal of `batch` in `out_dir`; an earlier, different batch (or any, with `fresh`) goes to history.

    Refuses (UsageError) to resume a batch whose shares `sharebatch revoke` has revoked: its
    journal says `success` for shares that no longer exist. The replaced batch's rows in doubt
    are handed back, so that the same rows in the new batch are looked up before they are sent.
    """
    try:
        journal = Journal.open(out_dir, scrub=redact)
    except JournalUnusableError:
        if not fresh or not (out_dir / JOURNAL_FILES[0]).exists():
            raise  # the message says --fresh sets a damaged journal aside
        moved = archive_batch(out_dir, "damaged")
        log_event("batch_archived", f"a new batch starts in {out_dir} (--fresh); the damaged journal is kept in "
                  f"{moved}", out=str(out_dir), history=str(moved), reason="--fresh on a damaged journal")
        journal = Journal.open(out_dir, scrub=redact)
        journal.set_meta(BATCH_ID_KEY, batch)
        return OpenedBatch(journal, [], f"the journal of this out dir was damaged and is kept in {moved}; what it "
                           "recorded cannot be read, so rows it had already shared may be shared again: check the "
                           "devices' share lists if that matters")
    recorded = journal.get_meta(BATCH_ID_KEY)
    if recorded is None and not journal.is_empty():
        recorded = batch  # a journal from before batches had names: it is the batch it was resumed as
        journal.set_meta(BATCH_ID_KEY, batch)
    if recorded == batch and not fresh:
        revoked = journal.get_meta(REVOKED_KEY)
        if revoked is not None:
            _resume_revoked(journal, out_dir, revoked, reshare=reshare_revoked)
        return OpenedBatch(journal)
    empty = journal.is_empty()
    # An empty journal is a new batch whose first run was killed before its rows were written: the batch it
    # replaced is already in history, and its doubt is taken from there (the new batch's name and rows, with
    # that doubt, are written in one transaction by the run).
    carried = journal.in_doubt() if not empty else latest_history_doubt(out_dir)
    # a share batch: what it shared, to tell the repeats that this batch shares again
    earlier = _shared_subjects(journal) if kind not in _DONE_WORD else frozenset()
    counts = journal.counts()
    journal.close()
    replaced = None
    if not empty:
        moved = archive_batch(out_dir, recorded or "unnamed")
        if moved is not None:
            why = "--fresh" if fresh and recorded == batch else "the input or its settings changed"
            log_event("batch_archived", f"a new batch starts in {out_dir} ({why}); the earlier one is in {moved}",
                      out=str(out_dir), history=str(moved), reason=why)
            if kind in _DONE_WORD:  # another --rows selection: the earlier selection's report is kept, not hidden
                done = _DONE_WORD[kind]
                replaced = (f"another selection of rows ({why}): the earlier {kind} ({sum(counts.values())} rows, "
                            f"{counts.get(done, 0)} {done}) and its report are kept in {moved}; this report "
                            "covers this selection only")
            else:
                replaced = (f"a new batch started in this out dir ({why}): the earlier one ({sum(counts.values())} "
                            f"rows, {counts.get('success', 0)} shared) is in {moved}")
    return OpenedBatch(Journal.open(out_dir, scrub=redact), carried, replaced, earlier)


def _shared_subjects(journal: Journal) -> frozenset[object]:
    """Device and recipient of each share the batch made (a payload that is not a share request is skipped)."""
    from runner.batches.sharerows import share_subject
    from runner.models import RowStatus

    found: set[object] = set()
    for outcome, payload, _ in journal.iter_journaled():
        if outcome.status is RowStatus.SUCCESS and payload:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                found.add(share_subject(payload))
    return frozenset(found)


def latest_history_doubt(out_dir: Path) -> list[tuple[str, int]]:
    """The rows in doubt of the batch most recently moved to history (their names sort by time)."""
    history = out_dir / HISTORY_DIR
    batches = sorted(path for path in history.iterdir() if (path / JOURNAL_FILES[0]).exists()) \
        if history.is_dir() else []
    if not batches:
        return []
    try:
        earlier = Journal.open(batches[-1], scrub=redact)
    except JournalUnusableError:
        return []  # a damaged journal set aside by --fresh: nothing can be read from it
    try:
        return earlier.in_doubt()
    finally:
        earlier.close()


def _resume_revoked(journal: Journal, out_dir: Path, revoked_at: str, *, reshare: bool) -> None:
    """A batch that `sharebatch revoke` has undone is not resumed as if its shares still existed."""
    count = journal.counts().get("revoked", 0)
    finished = journal.get_meta(REVOKE_FINISHED_KEY) is not None
    if (reshare and count) or (finished and not count):  # shared anew, or the revoke took none of its shares
        journal.reshare_revoked()
        journal.delete_meta(REVOKED_KEY)
        journal.delete_meta(REVOKE_FINISHED_KEY)
        return
    journal.close()
    if count:
        raise UsageError(
            f"{out_dir}: sharebatch revoke revoked {count} of this batch's shares ({revoked_at}); running it again "
            "would report shares that no longer exist. --reshare-revoked shares those rows anew (new share codes; "
            f"the other rows stay as they are); --fresh shares every row anew (the record moves to {HISTORY_DIR}/)"
        )
    raise UsageError(
        f"{out_dir}: a sharebatch revoke of this batch started at {revoked_at} and did not finish, so some of its "
        "shares may be gone: run that revoke command again to finish it, then run this batch with --reshare-revoked"
    )


def archive_batch(out_dir: Path, batch: str) -> Path | None:
    """Move the batch's journal and outputs to `history/<UTC time>-<batch id>/`; None if there was nothing."""
    if (out_dir / JOURNAL_FILES[0]).exists():
        with contextlib.suppress(JournalUnusableError):  # a damaged journal moves as it is, WAL and all
            Journal.open(out_dir, scrub=redact).close()  # a clean close folds the WAL back into the database
    names = [*JOURNAL_FILES, *OUTPUT_NAMES, *(path.name for path in out_dir.glob(f"{SNAPSHOT_STEM}.*"))]
    present = [out_dir / name for name in names if (out_dir / name).exists()]
    if not present:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = out_dir / HISTORY_DIR / f"{stamp}-{batch[:12]}"
    target.mkdir(parents=True)
    for path in present:
        shutil.move(str(path), str(target / path.name))
    return target


def mark_revoke_started(batch_dir: Path) -> bool:
    """Record in a share batch's journal that a revoke of it started; False when there is no journal.

    From then on the batch is not resumed as if all its shares existed, even if the revoke is
    interrupted before it says which shares it revoked (`mark_shares_revoked`).
    """
    if not (batch_dir / JOURNAL_FILES[0]).exists():
        return False
    journal = Journal.open(batch_dir, scrub=redact)  # the caller holds the batch's lock (`share_batch_lock`)
    try:
        journal.set_meta(REVOKED_KEY, utc_now_iso("seconds"))
    finally:
        journal.close()
    return True


def mark_shares_revoked(batch_dir: Path, share_codes: list[str], revoke_dir: Path, *, finished: bool) -> int:
    """The share batch's rows whose share was revoked become `revoked`; returns how many rows changed.

    `finished`: the revoke went through every row it selected, so the batch knows all it lost.
    """
    if not (batch_dir / JOURNAL_FILES[0]).exists():
        return 0
    stamp = utc_now_iso("seconds")
    journal = Journal.open(batch_dir, scrub=redact)  # the caller holds the batch's lock (`share_batch_lock`)
    try:
        changed = journal.mark_revoked(share_codes, f"shared, then revoked by sharebatch revoke ({revoke_dir}, "
                                                    f"{stamp})")
        if finished:
            journal.set_meta(REVOKE_FINISHED_KEY, stamp)
        return changed
    finally:
        journal.close()


def share_batch_lock(batch_dir: Path, out_dir: Path) -> contextlib.AbstractContextManager[object]:
    """The share batch's lock, held by `revoke` and `extend` for their whole run (one lock rule).

    A run of the batch is refused (exit 4) while they change its shares, and they are refused while
    a run holds it. No second lock when their out dir is the batch's own folder (run_journaled takes it).
    """
    if out_dir.resolve() == batch_dir.resolve():
        return contextlib.nullcontext()
    return RunLock(batch_dir)
