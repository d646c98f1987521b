"""The dispatch gate: every request of a run passes here before it leaves.

It enforces the run's request rate over any sliding one-second window, including retries.
Requests leave one at a time, in arrival order, at least 1/rate apart, so nothing bursts at the
start (a token bucket of R would allow close to 2R in the first second). A small margin keeps
server-side clock jitter from making R+1 requests appear inside one second.

It also owns the run-wide reactions to throttling: a `Retry-After` pauses all dispatch, and
repeated 429s lower the rate, which then recovers step by step while no 429 comes back. The
spacing is measured from the last request that left, so a rate change or a pause also holds
the requests already waiting, and never restarts the pacing with a burst (a fresh token bucket
per rate would let a request through at once while the old bucket's waiters kept leaving).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

PACING_MARGIN = 0.02  # requests leave 2 % slower than the nominal rate: 20 ms of slack per second
WINDOW_S = 1.015  # checked at release: one second plus room for jitter downstream, under the pacing margin
MAX_CATCH_UP_S = 0.005  # well under the margin's slack (20 ms per second), so no window overfills
THROTTLE_FACTOR = 0.7  # each 429 multiplies the rate by this
MIN_RATE_FRACTION = 0.1  # never below a tenth of the configured rate
RECOVERY_INTERVAL_S = 5.0  # after this long without a 429, raise the rate one step
RECOVERY_FACTOR = 1.25


class Gate(Protocol):
    """What the client needs of a gate: this one, or budget.gate.SharedGate when processes share an account."""

    async def acquire(self) -> None: ...

    def pause(self, seconds: float) -> None: ...

    def throttled(self) -> None: ...


class DispatchGate:
    """Paces requests at `rate` per second and applies run-wide pauses."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.configured_rate = rate
        self.current_rate = rate
        # `clock` must run with the event loop's clock (both are time.monotonic by default):
        # waits are computed with one and slept with the other.
        self._clock = clock
        self._turn = asyncio.Lock()  # one waiter at a time, first come first served
        self._last_sent = float("-inf")
        self._recent: deque[float] = deque()  # release times within the last WINDOW_S
        self._paused_until = float("-inf")
        self._last_throttle = float("-inf")

    def _interval_s(self) -> float:
        return (1.0 + PACING_MARGIN) / self.current_rate

    async def acquire(self) -> None:
        """Wait until a request may leave."""
        async with self._turn:
            while True:
                self._maybe_recover()
                # Re-read on every pass: a pause or a 429 may arrive while this request waits.
                ready_at = max(self._paused_until, self._last_sent + self._interval_s(), self._window_opens_at())
                now = self._clock()
                wait_s = ready_at - now
                if wait_s <= 0:
                    break
                await asyncio.sleep(wait_s)
            # Slots are planned, not measured: a wake-up a little late does not push every later
            # request back (that cost 15-20 % of the rate at 300/s). A request later than
            # MAX_CATCH_UP_S restarts the plan from now, so lateness is never saved up into a burst.
            now = self._clock()
            self._last_sent = ready_at if now - ready_at <= MAX_CATCH_UP_S else now
            self._recent.append(now)

    def _window_opens_at(self) -> float:
        """A second line of defence: never more than `rate` releases in any WINDOW_S, whatever the plan."""
        allowed = int(self.current_rate)
        recent = self._recent
        horizon = self._clock() - WINDOW_S
        while recent and recent[0] <= horizon:
            recent.popleft()
        if allowed < 1 or len(recent) < allowed:
            return float("-inf")
        return recent[len(recent) - allowed] + WINDOW_S

    def pause(self, seconds: float) -> None:
        """Hold all dispatch for `seconds` (a Retry-After from the platform)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def throttled(self) -> None:
        """The platform answered 429: slow the whole run down."""
        self._last_throttle = self._clock()
        self.current_rate = max(self.configured_rate * MIN_RATE_FRACTION, self.current_rate * THROTTLE_FACTOR)

    def _maybe_recover(self) -> None:
        if self.current_rate >= self.configured_rate:
            return
        if self._clock() - self._last_throttle >= RECOVERY_INTERVAL_S:
            self._last_throttle = self._clock()
            self.current_rate = min(self.configured_rate, self.current_rate * RECOVERY_FACTOR)
