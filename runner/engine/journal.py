"""The journal: every row's request fingerprint and state, in a SQLite file in the out dir.

A row moves pending → in_flight (with the attempt's start time) → a final outcome. The in_flight
state is committed and on disk (synchronous=FULL, group commits) before the request leaves, so a
process killed mid-request, or a machine that lost power, leaves a row that the next run reconciles
against the platform instead of re-sending blindly. Outcomes are buffered
and committed in groups (each in_flight commit also carries them), which keeps SQLite off the
critical path; an outcome lost in a crash leaves its row in_flight, which is safe.

`doubt_ms` is the start of the first attempt whose outcome is unknown. It is set with every
in_flight commit and kept with whatever outcome the engine reports until a look-up or an answer
proves the row applied; the engine is handed it back with the row and looks before sending.

One journal holds one batch: `batch_id` in the meta table names the input's content and the
settings that shape the requests, and the batch layer archives a journal whose batch differs.

All SQL of the project lives here and in journalschema.py (the tables and how the file is opened).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from runner.engine.journalschema import connect_read_only, connect_writable
from runner.engine.journalwrites import RowUpserts
from runner.engine.protocols import WorkItem
from runner.engine.records import IN_FLIGHT, PENDING, JournalEntry, JournalStatus, SyncCounts
from runner.models import RowOutcome, RowStatus, statuses_where

PayloadT = TypeVar("PayloadT")
#: (code, message) of a failed row -> whether sending it again may succeed
FailureFilter = Callable[[int | None, str], bool]

JOURNAL_NAME = "journal.sqlite"
#: final states of a row whose request took effect: never sent again
DONE_STATES = tuple(status.value for status in statuses_where(done=True))
#: states whose rows the engine works on
WORK_STATES = (PENDING, IN_FLIGHT, RowStatus.FAILED.value, RowStatus.NOT_ATTEMPTED.value, RowStatus.UNKNOWN.value)
#: states of a row that still needs sending or a look-up
UNFINISHED_STATES = (PENDING, IN_FLIGHT, RowStatus.NOT_ATTEMPTED.value, RowStatus.UNKNOWN.value)
#: the journal's files: the database and SQLite's write-ahead log beside it
JOURNAL_FILES = (JOURNAL_NAME, f"{JOURNAL_NAME}-wal", f"{JOURNAL_NAME}-shm")
FLUSH_EVERY_S = 0.5
#: meta keys of the runs' history, for `sharebatch status`
FIRST_STARTED_KEY = "first_started_at"
LAST_STARTED_KEY = "last_run_started_at"
LAST_ENDED_KEY = "last_run_ended_at"
LAST_EXIT_KEY = "last_run_exit_code"
LAST_STOPPED_KEY = "last_run_stopped"
FLUSH_EVERY_ROWS = 500
#: rows about to leave within this window share one commit and one fsync. 2 ms, not 5: the fsync blocks
#: the event loop's thread either way, and with 64 rows in flight on a fast platform all of them sat
#: waiting out a 5 ms window (a 20,000-row run took 5.1 s at 5 ms, 4.2 s at 2 ms, 4.4 s at 1 and 3 ms).
#: A commit in a worker thread was slower still (4.6 s): the GIL's hand-over delayed each answer.
GROUP_COMMIT_S = 0.002
#: the platform's clock minus this machine's, in ms, as the last run measured it (for `status`)
CLOCK_OFFSET_KEY = "platform_clock_offset_ms"

_OUTCOME_COLUMNS = "row, state, code, message, share_code, attempts, http_status, latency_ms, finished_at, doubt_ms"
# Built once from this module's constants, every value bound as "?" (bandit B608 flags the formatting; ruff UP032
# would make it an f-string, which bandit cannot be told about on one line).
_WORK_STATE_MARKS = ", ".join("?" for _ in WORK_STATES)
_WORK_QUERY = "SELECT row, state, started_ms, payload, doubt_ms, code, message FROM rows WHERE row > ? AND state IN ({}) ORDER BY row LIMIT ?".format(_WORK_STATE_MARKS)  # noqa: E501, UP032  # nosec B608
_DONE_STATE_MARKS = ", ".join("?" for _ in DONE_STATES)
_IN_DOUBT_QUERY = "SELECT payload, doubt_ms FROM rows WHERE doubt_ms IS NOT NULL AND payload IS NOT NULL AND state NOT IN ({})".format(_DONE_STATE_MARKS)  # noqa: E501, UP032  # nosec B608
_DONE_QUERY = "SELECT row, payload FROM rows WHERE row > ? AND payload IS NOT NULL AND state IN ({}) ORDER BY row LIMIT ?".format(_DONE_STATE_MARKS)  # noqa: E501, UP032  # nosec B608
_OUTCOMES_QUERY = "SELECT {}, payload, note FROM rows WHERE row > ? ORDER BY row LIMIT ?".format(_OUTCOME_COLUMNS)  # noqa: UP032  # nosec B608


class Journal:
    """One batch's journal; open with `Journal.open(out_dir, scrub=redact)` and close when done.

    `scrub` masks secrets in every message before it is stored; it is required (not a default or a
    setter) so that no caller can forget it, and injected so the engine does not import redact.py.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path, scrub: Callable[[str], str]) -> None:
        self._db = connection
        self.path = path
        self._scrub = scrub
        self._buffered: list[tuple[object, ...]] = []
        self._starting: list[tuple[int, int]] = []  # (started_ms, row) waiting for the next commit
        self._starting_committed: list[asyncio.Future[None]] = []  # one future per starting row
        self._applied: list[tuple[object, ...]] = []
        self._last_flush = time.monotonic()

    @classmethod
    def open(cls, out_dir: Path, *, scrub: Callable[[str], str]) -> Journal:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / JOURNAL_NAME
        return cls(connect_writable(path), path, scrub)

    @classmethod
    def open_read_only(cls, out_dir: Path) -> Journal:
        """For `status`: reads a journal that this user may not write (or another run is writing)."""
        path = out_dir / JOURNAL_NAME
        return cls(connect_read_only(path), path, _stores_nothing)

    def close(self) -> None:
        self.flush()
        self._db.close()

    # -- metadata -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        found = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        self._db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def _set_default(self, key: str, value: str) -> str:
        self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return self.get_meta(key) or value

    def is_empty(self) -> bool:
        """True for a journal that has never loaded an input."""
        return self._db.execute("SELECT 1 FROM rows LIMIT 1").fetchone() is None

    def anchor_ms(self, now_ms: int) -> int:
        """The batch's first start: relative expiries count from it in every resumed run."""
        return int(self._set_default("anchor_ms", str(now_ms)))

    # -- loading the input --------------------------------------------------------------------

    def sync_rows(self, entries: Iterable[JournalEntry], meta: dict[str, str] | None = None) -> SyncCounts:
        """Record this run's view of the input, and `meta`, in one transaction; keep outcomes whose request
        did not change."""
        self.flush()
        total = to_send = done = 0
        db = self._db
        db.execute("BEGIN")
        try:
            for key, value in (meta or {}).items():
                self.set_meta(key, value)
            known = {row: (fingerprint, state, note) for row, fingerprint, state, note in
                     db.execute("SELECT row, fingerprint, state, note FROM rows")}
            # A new batch has applied nothing yet: no row needs looking up there.
            upserts = RowUpserts(db, look_up_applied=db.execute("SELECT 1 FROM applied LIMIT 1").fetchone() is not None)
            for entry in entries:
                total += 1
                previous = known.pop(entry.row, None)
                if self._sync_one(entry, previous, upserts):
                    to_send += 1
                elif entry.fingerprint is not None:
                    done += 1
            upserts.write()
            # rows beyond the end of a shorter input no longer exist
            db.executemany("DELETE FROM rows WHERE row = ?", [(row,) for row in known])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return SyncCounts(total=total, to_send=to_send, already_done=done)

    def _sync_one(self, entry: JournalEntry, previous: tuple[str | None, str, str] | None, upserts: RowUpserts) -> bool:
        """Upsert one row; True when it still needs sending."""
        if entry.fingerprint is None or entry.payload is None:
            outcome = entry.outcome or RowOutcome(entry.row, RowStatus.NOT_ATTEMPTED, message="nothing to send")
            upserts.add_unsent((entry.row, outcome.status.value, outcome.message))
            return False
        fingerprint = entry.fingerprint
        if previous is not None and previous[0] == fingerprint:
            if previous[2] != entry.note:  # the same request, read differently (a cell now text, not a number)
                self._db.execute("UPDATE rows SET note = ? WHERE row = ?", (entry.note, entry.row))
            if previous[1] in DONE_STATES:
                return False
            if previous[1] in WORK_STATES:
                if entry.in_doubt_since_ms is not None:
                    self._db.execute("UPDATE rows SET doubt_ms = min(coalesce(doubt_ms, ?), ?) WHERE row = ?",
                                     (entry.in_doubt_since_ms, entry.in_doubt_since_ms, entry.row))
                return True
        applied = upserts.applied(fingerprint)
        if applied is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO rows (row, fingerprint, state, payload, code, message, share_code, "
                "http_status, finished_at, note) VALUES (?, ?, ?, ?, 200, ?, ?, 200, ?, ?)",
                (entry.row, fingerprint, applied[3], entry.payload,
                 f"already done by an earlier run (then row {applied[0]})", applied[1], applied[2], entry.note),
            )
            return False
        upserts.add_pending((entry.row, fingerprint, entry.payload, entry.in_doubt_since_ms, entry.note))
        return True

    # -- the engine's sink ----------------------------------------------------------------------

    def iter_work(
        self, decode: Callable[[str], PayloadT], chunk_rows: int = 1000, *, resend: FailureFilter | None = None
    ) -> Iterator[WorkItem[PayloadT]]:
        """Rows still to do, in row order, in chunks; a failed row (not in doubt) only if `resend` says it may pass."""
        last_row = 0
        while True:
            chunk = self._db.execute(_WORK_QUERY, (last_row, *WORK_STATES, chunk_rows)).fetchall()
            if not chunk:
                return
            for row, state, started_ms, payload, doubt_ms, code, message in chunk:
                if _stays_failed(state, doubt_ms, code, message, resend):
                    continue
                since = doubt_ms if doubt_ms is not None else (started_ms if state == IN_FLIGHT else None)
                yield WorkItem(row=row, payload=decode(payload), in_doubt_since_ms=since,
                               settle_from_ms=started_ms if since is not None else None)
            last_row = chunk[-1][0]

    def left_to_do(self, resend: FailureFilter | None) -> tuple[int, int]:
        """(failed rows this run leaves failed as `resend` says, rows in doubt: looked up before any send)."""
        rows = self._db.execute("SELECT state, doubt_ms, code, message FROM rows WHERE state IN (?, ?, ?)",
                                (RowStatus.FAILED.value, IN_FLIGHT, RowStatus.UNKNOWN.value)).fetchall()
        kept = sum(_stays_failed(state, doubt_ms, code, message, resend) for state, doubt_ms, code, message in rows)
        return kept, sum(doubt_ms is not None or state != RowStatus.FAILED.value for state, doubt_ms, _, _ in rows)

    async def attempt_started(self, row: int, started_ms: int) -> None:
        """Returns once the row's in_flight state is committed and on disk, so the request may leave.

        Group commit: rows leaving within GROUP_COMMIT_S share one commit, and so one fsync (with any
        buffered outcomes). One commit per request was a quarter of the run's CPU in the profile, and
        rows leave the rate gate a few event-loop turns apart, so a window of a few ms is what groups them.
        """
        loop = asyncio.get_running_loop()
        if not self._starting:
            loop.call_later(GROUP_COMMIT_S, self._commit_starting)
        committed: asyncio.Future[None] = loop.create_future()  # its own: a waiter cancelled cancels no other
        self._starting.append((started_ms, row))
        self._starting_committed.append(committed)
        await committed

    def _commit_starting(self) -> None:
        waiting, self._starting_committed = self._starting_committed, []
        starting, self._starting = self._starting, []
        try:
            # Until the answer comes the attempt is in doubt; an earlier doubt keeps its (earlier)
            # time, so that a look-up after a crash reaches back far enough to find its share.
            self._flush(extra=(
                "UPDATE rows SET started_ms = ?1, doubt_ms = coalesce(doubt_ms, ?1), state = 'in_flight', "
                "attempts = attempts + 1 WHERE row = ?2",
                starting,
            ))
        except Exception as exc:
            for committed in waiting:
                if not committed.done():
                    committed.set_exception(exc)
            return
        for committed in waiting:
            if not committed.done():
                committed.set_result(None)

    def row_finished(self, outcome: RowOutcome) -> None:
        """Buffer a row's outcome; the engine's `in_doubt_since_ms` replaces the journal's doubt."""
        in_doubt = outcome.in_doubt_since_ms is not None
        self._buffered.append((
            outcome.status.value, outcome.in_doubt_since_ms, outcome.code, self._scrub(outcome.message),
            outcome.share_code, outcome.http_status, outcome.latency_ms, outcome.finished_at, outcome.row,
        ))
        if outcome.status.value in DONE_STATES and not in_doubt:
            self._applied.append((outcome.row, outcome.share_code, outcome.finished_at, outcome.status.value,
                                  outcome.row))
        if len(self._buffered) >= FLUSH_EVERY_ROWS or time.monotonic() - self._last_flush >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        self._flush(extra=None)

    def _flush(self, extra: tuple[str, list[tuple[int, int]]] | None) -> None:
        if not self._buffered and extra is None:
            return
        db = self._db
        db.execute("BEGIN")
        try:
            if self._buffered:
                db.executemany(
                    "UPDATE rows SET state = ?, doubt_ms = ?, code = ?, message = ?, share_code = ?, "
                    "http_status = ?, latency_ms = ?, finished_at = ? WHERE row = ?",
                    self._buffered,
                )
                db.executemany(
                    "INSERT OR REPLACE INTO applied (fingerprint, row, share_code, finished_at, state) "
                    "SELECT fingerprint, ?, ?, ?, ? FROM rows WHERE row = ?",
                    self._applied,
                )
            if extra is not None:
                db.executemany(*extra)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._buffered.clear()
        self._applied.clear()
        self._last_flush = time.monotonic()

    # -- reading it back ------------------------------------------------------------------------

    def iter_outcomes(self, chunk_rows: int = 5000) -> Iterator[RowOutcome]:
        """Every row's outcome in row order, as the report shows it."""
        return (outcome for outcome, _, _ in self.iter_journaled(chunk_rows))

    def iter_journaled(self, chunk_rows: int = 5000) -> Iterator[tuple[RowOutcome, str | None, str]]:
        """Every row's outcome, the request payload journaled for it (None: never a request) and how it was
        read (its note), in row order."""
        self.flush()
        last_row = 0
        while True:
            chunk = self._db.execute(_OUTCOMES_QUERY, (last_row, chunk_rows)).fetchall()
            if not chunk:
                return
            for (row, state, code, message, share_code, attempts, http_status, latency_ms, finished_at, doubt,
                 payload, note) in chunk:
                status, message = _report_status(state, message)
                yield RowOutcome(row, status, code, message, share_code, attempts, http_status, latency_ms,
                                 finished_at, in_doubt_since_ms=doubt), payload, note
            last_row = chunk[-1][0]

    def failed_by_code(self) -> dict[str, int]:
        """Failed rows per final platform code ("transport" when there was no code)."""
        self.flush()
        found = self._db.execute(
            "SELECT coalesce(code, 'transport'), count(*) FROM rows WHERE state = 'failed' GROUP BY 1 ORDER BY 1"
        )
        return {str(code): count for code, count in found}

    def latencies_ms(self) -> list[int]:
        """Each row's last-attempt latency, for the report's histogram."""
        self.flush()
        return [value for (value,) in self._db.execute("SELECT latency_ms FROM rows WHERE latency_ms IS NOT NULL")]

    def mark_revoked(self, share_codes: Iterable[str], message: str) -> int:
        """Rows whose share `sharebatch revoke` revoked: `revoked`, no longer `success`; returns how many."""
        self.flush()
        db = self._db
        db.execute("BEGIN")
        try:
            changed = sum(db.execute("UPDATE rows SET state = 'revoked', message = ? WHERE share_code = ? AND "
                                     "state = 'success'", (message, code)).rowcount for code in share_codes)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return changed

    def reshare_revoked(self) -> int:
        """Put the revoked rows back to pending, to be shared anew; returns how many."""
        self.flush()
        return self._db.execute("UPDATE rows SET state = 'pending', share_code = NULL, code = NULL, message = '', "
                                "doubt_ms = NULL WHERE state = 'revoked'").rowcount

    def iter_done(self, chunk_rows: int = 5000) -> Iterator[tuple[int, str]]:
        """(row, payload) of every row whose request took effect, in row order, read in chunks."""
        self.flush()
        chunk = self._db.execute(_DONE_QUERY, (0, *DONE_STATES, chunk_rows)).fetchall()
        while chunk:
            yield from chunk
            chunk = self._db.execute(_DONE_QUERY, (chunk[-1][0], *DONE_STATES, chunk_rows)).fetchall()

    def in_doubt(self) -> list[tuple[str, int]]:
        """(payload, doubt_ms) of every row not done whose attempt may have been applied."""
        self.flush()
        return [(payload, doubt) for payload, doubt in self._db.execute(_IN_DOUBT_QUERY, DONE_STATES)]

    def run_started(self, at: str) -> None:
        """A run of this batch starts (UTC ISO time); the first one stays the batch's first start."""
        self._set_default(FIRST_STARTED_KEY, self._anchor_iso() or at)
        self.set_meta(LAST_STARTED_KEY, at)

    def _anchor_iso(self) -> str | None:
        """The batch's first start as older versions kept it (anchor_ms), as a UTC ISO time."""
        anchor = self.get_meta("anchor_ms")
        if anchor is None or not anchor.isdigit():
            return None
        return datetime.fromtimestamp(int(anchor) / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def run_ended(self, at: str, exit_code: int, stopped: str | None) -> None:
        """The run wrote its outputs and ends with `exit_code` (`stopped`: why it stopped early)."""
        self.flush()
        self.set_meta(LAST_ENDED_KEY, at)
        self.set_meta(LAST_EXIT_KEY, str(exit_code))
        if stopped:
            self.set_meta(LAST_STOPPED_KEY, self._scrub(stopped))
        else:
            self.delete_meta(LAST_STOPPED_KEY)

    def status(self) -> JournalStatus:
        """Everything `sharebatch status` shows, read in one go."""
        self.flush()
        first = self.get_meta(FIRST_STARTED_KEY) or self._anchor_iso()
        exit_code = self.get_meta(LAST_EXIT_KEY)
        (last_row,) = self._db.execute("SELECT max(finished_at) FROM rows").fetchone()
        return JournalStatus(
            states=self.counts(), failed_by_code=self.failed_by_code(), first_started_at=first,
            last_started_at=self.get_meta(LAST_STARTED_KEY), last_ended_at=self.get_meta(LAST_ENDED_KEY),
            last_exit_code=int(exit_code) if exit_code is not None and exit_code.isdigit() else None,
            last_stopped=self.get_meta(LAST_STOPPED_KEY), last_row_finished_at=last_row,
            clock_offset_ms=int(offset) if (offset := self.get_meta(CLOCK_OFFSET_KEY)) and offset.lstrip("-").isdigit()
            else None,
        )

    def counts(self) -> dict[str, int]:
        """Rows per state, journal states (pending, in_flight) included."""
        self.flush()
        return {state: count for state, count in self._db.execute("SELECT state, count(*) FROM rows GROUP BY state")}


def _stores_nothing(message: str) -> str:
    """The scrub of a read-only journal: its connection refuses every write, so no message is stored."""
    return message


def _stays_failed(state: str, doubt_ms: int | None, code: int | None, message: str,
                  resend: FailureFilter | None) -> bool:
    """A failed row whose failure re-sending cannot change: not in doubt (a look-up settles those), and refused."""
    return (resend is not None and state == RowStatus.FAILED.value and doubt_ms is None
            and not resend(code, message or ""))


def _report_status(state: str, message: str) -> tuple[RowStatus, str]:
    if state == PENDING:
        return RowStatus.NOT_ATTEMPTED, message or "not sent yet"
    if state == IN_FLIGHT:
        return RowStatus.UNKNOWN, ("in flight when the run was killed; it may have been applied. It is looked up in "
                                   "the device's share list before it is ever sent again.")
    return RowStatus(state), message

