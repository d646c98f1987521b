"""One run per out dir at a time.

The lock is an advisory `flock` on `run.lock` in the out dir. The kernel drops it when the holder
exits in any way (SIGKILL and power loss included), so a lock left by a dead process is simply
taken over; the file's content only names the holder for the error message.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from runner.errors import LockedError, UsageError

LOCK_NAME = "run.lock"


class RunLock:
    """Context manager holding the out dir's lock for the length of a run."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / LOCK_NAME
        self._handle: IO[str] | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Never through a symlink: a planted run.lock -> ~/.bashrc must not be truncated and rewritten.
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UsageError(f"{self.path}: is a symbolic link; sharebatch does not follow it: remove it "
                                 "(it is only a lock) and run again") from None
            raise
        handle = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _describe_holder(handle.read())
            handle.close()
            raise LockedError(f"{self.path.parent}: another run is active ({holder}); wait for it or stop it") from None
        handle.seek(0)
        handle.truncate()
        holder_info = {"pid": os.getpid(), "host": socket.gethostname(),
                       "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
        handle.write(json.dumps(holder_info))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file releases the flock
            self._handle = None


def _describe_holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']}, started {info['started_at']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"


@dataclass(frozen=True)
class LockHolder:
    """Who holds an out dir's lock right now, as its lock file names it (None: not named yet)."""

    pid: int | None
    host: str | None
    started_at: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "holder not named yet"
        return f"pid {self.pid} on {self.host}, started {self.started_at}"


def active_holder(out_dir: Path) -> LockHolder | None:
    """The run holding `out_dir`'s lock now, or None; never takes the lock, not even for a moment.

    Trying the lock (even a shared one) could make a run that starts at that instant exit 4, so
    the kernel's table of held locks (/proc/locks) is read instead; where it cannot be read, a
    holder named by the file whose process is alive on this host counts as active.
    """
    path = out_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None  # no lock file (never run here), or not one we can read
    with os.fdopen(fd, encoding="utf-8", errors="replace") as handle:
        identity = os.fstat(handle.fileno())
        holder = _parse_holder(handle.read(4096))
    held = _held_in_proc_locks(identity)
    if held is None:
        held = holder.pid is not None and holder.host == socket.gethostname() and _alive(holder.pid)
    return holder if held else None


def _parse_holder(text: str) -> LockHolder:
    try:
        info = json.loads(text)
        return LockHolder(int(info["pid"]), str(info["host"]), str(info["started_at"]))
    except (ValueError, KeyError, TypeError):
        return LockHolder(None, None, None)


def _held_in_proc_locks(identity: os.stat_result, table: Path = Path("/proc/locks")) -> bool | None:
    """True when the kernel lists a lock on this file, False when not, None when the table cannot be read."""
    wanted = f"{os.major(identity.st_dev):02x}:{os.minor(identity.st_dev):02x}:{identity.st_ino}"
    try:
        lines = table.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return None
    # "1: FLOCK  ADVISORY  WRITE 4242 fd:01:131090 0 EOF"; a waiter's line starts with "->" and is no holder
    return any(len(fields) > 5 and fields[1] != "->" and fields[1] == "FLOCK" and fields[5] == wanted
               for fields in (line.split() for line in lines))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True
