"""The dispatch gate of a run whose account budget is shared with other processes (and hosts).

Same interface as pacing.DispatchGate (acquire, pause, throttled), but the decision is taken by a
`BudgetStore` every process of the account consults (`rules.py`). One waiter per process asks the
store at a time, in arrival order; it sleeps as long as the store says and asks again, so a pause
or a lower rate set by another process meanwhile holds it too. A Retry-After or a 429 seen here is
written to the store, for everyone, and holds this process at once without waiting for the write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from runner.errors import RunnerError

log = logging.getLogger(__name__)


class BudgetStore(Protocol):
    """Where the processes sharing an account's budget meet (a file on this host, or Redis)."""

    async def try_release(self, rate: float) -> float:
        """0.0 when a request may leave now (and it is counted), else the seconds to wait before asking again."""

    async def pause(self, seconds: float) -> None: ...

    async def throttle(self) -> None: ...

    async def leave(self) -> None:
        """This process is done: its rate stops counting (a process that dies counts until it goes stale)."""


class SharedGate:
    """Paces this process's requests within the account's shared budget; see the module docstring."""

    def __init__(self, store: BudgetStore, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.configured_rate = rate
        self._store = store
        self._clock = clock  # runs with the event loop's clock, as in DispatchGate
        self._turn = asyncio.Lock()
        self._paused_until = float("-inf")
        self._writes: set[asyncio.Task[None]] = set()

    async def acquire(self) -> None:
        """Wait until the shared budget lets a request of this process leave."""
        async with self._turn:
            while True:
                held = self._paused_until - self._clock()
                if held > 0:
                    await asyncio.sleep(held)
                    continue
                wait_s = await self._store.try_release(self.configured_rate)
                if wait_s <= 0:
                    return
                await asyncio.sleep(wait_s)

    def pause(self, seconds: float) -> None:
        """A Retry-After: hold this process now and every process of the account through the store."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._write(self._store.pause(seconds))

    def throttled(self) -> None:
        """A 429: the account's shared rate goes down for every process."""
        self._write(self._store.throttle())

    def _write(self, change: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(change)
        self._writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not tell the other processes of this account to slow down: %s", task.exception())

    async def close(self) -> None:
        """Let pending writes to the store finish, then leave the budget (before the store closes)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        try:
            await self._store.leave()
        except (OSError, RunnerError) as exc:  # leaving is a courtesy: the entry goes stale by itself
            log.debug("could not leave the shared budget: %s", exc)
