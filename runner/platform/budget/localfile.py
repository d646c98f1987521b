"""The budget shared by the processes of this host: a small JSON file per account, under an OS file lock.

`$XDG_STATE_HOME/sharebatch/budgets/<digest>.json` (0600): no daemon, nothing to start. Every
request of every process using the account takes the lock (`fcntl.flock`, released by the kernel
when a process dies), applies `rules.py` to the file's state and writes it back; the lock is held
for a read and a write of a few hundred bytes. Time is the wall clock, which every process of a
host shares; `rules.py` forgets a state that a clock stepped back would make absurd.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from runner.platform.budget import rules

T = TypeVar("T")
_MAX_STATE_BYTES = 1 << 16


def budget_file(state_dir: Path, key: str) -> Path:
    """Where the budget of `key` (account and region) lives; the digest keeps the uid out of the name."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    return state_dir / "budgets" / f"{digest}.json"


class FileBudget:
    """One account's budget in a file shared by this host's processes; OSError when it cannot be opened."""

    def __init__(self, path: Path, member: str, *, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._member = member
        self._clock = clock
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    async def try_release(self, rate: float, want: int = 1) -> tuple[float, int]:
        return self._locked(lambda state, now: rules.try_release(state, now, self._member, rate, want))

    async def pause(self, seconds: float) -> None:
        self._locked(lambda state, now: rules.pause(state, now, seconds))

    async def throttle(self) -> None:
        self._locked(rules.throttle)

    async def leave(self) -> None:
        self._locked(lambda state, now: rules.leave(state, self._member))

    def _locked(self, change: Callable[[rules.BudgetState, float], T]) -> T:
        """Read, change and write the state under the lock (blocking: it is held for microseconds)."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            os.lseek(self._fd, 0, os.SEEK_SET)
            raw = os.read(self._fd, _MAX_STATE_BYTES)
            try:
                state = rules.BudgetState.from_json(json.loads(raw)) if raw else rules.BudgetState()
            except ValueError:  # a write cut short by a crash: start afresh
                state = rules.BudgetState()
            result = change(state, self._clock())
            data = json.dumps(state.to_json(), separators=(",", ":")).encode("utf-8")
            os.lseek(self._fd, 0, os.SEEK_SET)
            os.ftruncate(self._fd, 0)
            os.write(self._fd, data)
            return result
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
