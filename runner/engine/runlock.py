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
