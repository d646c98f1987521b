"""The dispatch gate of a run whose account budget is shared with other processes (and hosts).

Same interface as pacing.DispatchGate (acquire, pause, throttled), but the decision is taken by a
`BudgetStore` every process of the account consults (`rules.py`). The waiting requests of a process
share one ask of the store at a time; it sleeps as long as the store says and asks again, so a
pause or a lower rate set by another process meanwhile holds them too. A Retry-After or a 429 seen here is
written to the store, for everyone, and holds this process at once without waiting for the write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from runner.errors import RunnerError
from runner.platform.pacing import MAX_CATCH_UP_S

log = logging.getLogger(__name__)


class BudgetStore(Protocol):
    """Where the processes sharing an account's budget meet (a file on this host, or Redis)."""

    async def try_release(self, rate: float, want: int = 1) -> tuple[float, int]:
        """(0.0, n): n requests, at most `want`, may leave now (counted); else (seconds to wait before asking, 0)."""

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
        self._asking: asyncio.Task[None] | None = None  # the one ask of the store at a time
        self._woken: list[asyncio.Future[None]] = []  # the requests waiting for that ask's answer
        self._arrived = 0  # requests that came to the gate since the last ask: the demand it asks for
        self._granted = 0  # releases the last ask got that no request has taken yet
        self._granted_at = float("-inf")
        self._paused_until = float("-inf")
        self._writes: set[asyncio.Task[None]] = set()

    async def acquire(self) -> None:
        """Wait until the shared budget lets a request of this process leave.

        One ask of the store at a time serves every request of the process: at high rates it takes
        the slots due within MAX_CATCH_UP_S (rules.try_release), as many as requests came since the
        last ask, so that a file lock or a Redis round trip is not paid per request and most
        requests pass without waiting. A release not taken within MAX_CATCH_UP_S is dropped, so
        none is kept for later; below 200/s every ask releases one request.
        """
        self._arrived += 1
        while True:
            held = self._paused_until - self._clock()
            if held > 0:
                await asyncio.sleep(held)
            elif self._granted > 0 and self._clock() - self._granted_at <= MAX_CATCH_UP_S:
                self._granted -= 1
                return
            else:
                woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._woken.append(woken)
                if self._asking is None or self._asking.done():
                    self._asking = asyncio.ensure_future(self._ask())
                await woken  # its own future: a waiter cancelled here does not cancel the ask

    async def _ask(self) -> None:
        """Ask until the store releases some, then wake the waiters; one loop turn first, so that the
        requests arriving together are counted."""
        try:
            await asyncio.sleep(0)
            while True:
                held = self._paused_until - self._clock()
                if held > 0:
                    await asyncio.sleep(held)
                    continue
                want, self._arrived = max(self._arrived, len(self._woken), 1), 0
                wait_s, granted = await self._store.try_release(self.configured_rate, want)
                if wait_s <= 0:
                    self._granted, self._granted_at = granted, self._clock()
                    break
                await asyncio.sleep(wait_s)
        except asyncio.CancelledError:
            self._wake(None)  # the gate is closing: each waiter asks again, or is being cancelled too
            raise
        except Exception as exc:  # e.g. Redis unreachable: every waiter raises it, as its own ask would have
            self._wake(exc)
            return
        self._wake(None)

    def _wake(self, failure: Exception | None) -> None:
        woken, self._woken = self._woken, []
        for future in woken:
            if future.done():  # its request was cancelled meanwhile
                continue
            if failure is None:
                future.set_result(None)
            else:
                future.set_exception(failure)

    def pause(self, seconds: float) -> None:
        """A Retry-After: hold this process now and every process of the account through the store."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._granted = 0  # what was granted before it is not used
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
        if self._asking is not None and not self._asking.done():
            self._asking.cancel()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        try:
            await self._store.leave()
        except (OSError, RunnerError) as exc:  # leaving is a courtesy: the entry goes stale by itself
            log.debug("could not leave the shared budget: %s", exc)
