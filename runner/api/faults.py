"""The machine's faults as the project's own error: one line naming the path, the problem and what to do.

A read-only or full disk, a name too long, a damaged journal: the input is not to blame, so the
message says what to change on the machine. The library calls raise them as UsageError (with the
original as `__cause__`); the command line prints the line and exits 2.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runner.errors import UsageError

_HINTS = {
    errno.EROFS: "the file system is read-only: choose another --out",
    errno.EACCES: "permission denied: choose a folder you can write, or fix its permissions",
    errno.EPERM: "not permitted (an immutable or foreign file?): choose another folder",
    errno.ENOSPC: "the disk is full: free some space, then run the same command again",
    errno.EDQUOT: "the disk quota is used up: free some space, then run the same command again",
    errno.ENAMETOOLONG: "the name is too long: use a shorter job name, input name or --out",
    errno.ELOOP: "a symbolic link is in the way: sharebatch does not follow it here",
}


def environment_fault(exc: OSError | sqlite3.Error) -> str:
    """One line naming the path and the problem, with what to do about it."""
    if isinstance(exc, sqlite3.Error):
        reason = str(exc)
        hint = ("free some space, then run the same command again" if "full" in reason
                else "check the out dir's permissions and free space")
        return f"the journal cannot be written ({reason}); {hint}"
    where = " -> ".join(str(name) for name in (exc.filename, exc.filename2) if name is not None) or "a file"
    reason = exc.strerror or type(exc).__name__
    hint = _HINTS.get(exc.errno or 0, "fix it, then run the same command again")
    return f"{where}: {reason}; {hint}"


@contextmanager
def environment_faults(out_dir: Path) -> Iterator[None]:
    """An OSError or a journal that fails mid-run (a full disk) becomes a UsageError; the journal's names OUT."""
    try:
        yield
    except sqlite3.Error as exc:
        raise UsageError(f"{out_dir}: {environment_fault(exc)}") from exc
    except OSError as exc:
        raise UsageError(environment_fault(exc)) from exc
