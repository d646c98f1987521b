"""The journal's SQLite file: its tables, the columns older journals lack, and how it is opened.

Kept apart from journal.py (which reads and writes the rows) so that the file format and the
durability settings the exactly-once promise rests on read in one place.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from runner.errors import JournalUnusableError

SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    row INTEGER PRIMARY KEY,
    fingerprint TEXT,
    state TEXT NOT NULL,
    payload TEXT,
    started_ms INTEGER,
    code INTEGER, message TEXT NOT NULL DEFAULT '', share_code TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER, latency_ms INTEGER, finished_at TEXT,
    doubt_ms INTEGER,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS applied (
    fingerprint TEXT PRIMARY KEY, row INTEGER NOT NULL, share_code TEXT, finished_at TEXT, state TEXT NOT NULL
);
"""


def connect_writable(path: Path) -> sqlite3.Connection:
    """Open (creating it if need be) the journal at `path` for a run; JournalUnusableError if SQLite refuses it."""
    # Created 0600 before SQLite opens it (its -wal and -shm files take the same mode): the
    # journal holds recipients' emails, phones, share codes and auth keys.
    os.close(os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
    try:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        # FULL: every commit is on disk (fsync) before it returns, so an in-flight mark survives an OS crash
        # or a power cut, not only a killed process; group commits (attempt_started) keep that affordable.
        connection.execute("PRAGMA synchronous=FULL")
        connection.executescript(_SCHEMA)
        _add_missing_columns(connection)
        connection.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", ("schema_version", SCHEMA_VERSION))
    except sqlite3.DatabaseError as exc:
        raise JournalUnusableError(path, str(exc)) from None
    return connection


def connect_read_only(path: Path) -> sqlite3.Connection:
    """For `status`: reads a journal that this user may not write (or another run is writing)."""
    try:
        connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None)
        connection.execute("SELECT count(*) FROM rows").fetchone()
    except sqlite3.OperationalError:
        # A read-only folder cannot hold WAL's -shm file: read the file as it is, without WAL.
        try:
            connection = sqlite3.connect(f"{path.absolute().as_uri()}?immutable=1", uri=True,
                                         isolation_level=None)
            connection.execute("SELECT count(*) FROM rows").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalUnusableError(path, str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise JournalUnusableError(path, str(exc)) from None
    return connection


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    """Journals written before a column existed gain it: `doubt_ms` (their in_flight rows' doubt carried
    over) and `note` (their rows' notes come back with the next run's read)."""
    columns = {name for _, name, *_ in connection.execute("PRAGMA table_info(rows)")}
    if "doubt_ms" not in columns:
        connection.execute("ALTER TABLE rows ADD COLUMN doubt_ms INTEGER")
        connection.execute("UPDATE rows SET doubt_ms = started_ms WHERE state = 'in_flight'")
    if "note" not in columns:
        connection.execute("ALTER TABLE rows ADD COLUMN note TEXT NOT NULL DEFAULT ''")
