"""The journal's new rows while it loads an input: written a few thousand at a time.

Apart from journal.py for its size; only Journal.sync_rows uses it. One executemany per batch
of rows instead of a statement each was 4 % of a 20,000-row run, and a new batch (nothing
applied yet) skips the per-row look-up of an earlier run's applied request.
"""

from __future__ import annotations

import sqlite3


class RowUpserts:
    """The rows sync_rows inserts, buffered; `write()` before the transaction commits."""

    _EVERY = 2000

    def __init__(self, db: sqlite3.Connection, *, look_up_applied: bool) -> None:
        self._db = db
        self._look_up_applied = look_up_applied
        self._unsent: list[tuple[int, str, str]] = []
        self._pending: list[tuple[int, str, str, int | None, str]] = []

    def applied(self, fingerprint: str) -> tuple[int, str | None, str | None, str] | None:
        """What an earlier run of this batch applied with this request (in another row), if anything."""
        if not self._look_up_applied:
            return None
        found: tuple[int, str | None, str | None, str] | None = self._db.execute(
            "SELECT row, share_code, finished_at, state FROM applied WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        return found

    def add_unsent(self, values: tuple[int, str, str]) -> None:
        self._unsent.append(values)
        if len(self._unsent) >= self._EVERY:
            self.write()

    def add_pending(self, values: tuple[int, str, str, int | None, str]) -> None:
        self._pending.append(values)
        if len(self._pending) >= self._EVERY:
            self.write()

    def write(self) -> None:
        if self._unsent:
            self._db.executemany(
                "INSERT OR REPLACE INTO rows (row, fingerprint, state, message) VALUES (?, NULL, ?, ?)", self._unsent)
            self._unsent.clear()
        if self._pending:
            self._db.executemany("INSERT OR REPLACE INTO rows (row, fingerprint, state, payload, doubt_ms, note) "
                                 "VALUES (?, ?, 'pending', ?, ?, ?)", self._pending)
            self._pending.clear()
