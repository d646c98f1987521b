"""The dispatch gate: every request of a run passes here before it leaves.

It enforces the run's request rate over any sliding one-second window, including retries.
aiolimiter's bucket is sized to one request so that it paces evenly instead of letting a full
bucket burst at the start (a bucket of R would allow close to 2R in the first second). A small
margin keeps server-side clock jitter from making R+1 requests appear inside one second.

It also owns the run-wide reactions to throttling: a `Retry-After` pauses all dispatch, and
repeated 429s lower the rate, which then recovers step by step while no 429 comes back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiolimiter import AsyncLimiter

PACING_MARGIN = 0.01  # requests leave 1 % slower than the nominal rate
THROTTLE_FACTOR = 0.7  # each 429 multiplies the rate by this
MIN_RATE_FRACTION = 0.1  # never below a tenth of the configured rate
RECOVERY_INTERVAL_S = 5.0  # after this long without a 429, raise the rate one step
RECOVERY_FACTOR = 1.25


class DispatchGate:
    """Paces requests at `rate` per second and applies run-wide pauses."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.configured_rate = rate
        self.current_rate = rate
        self._clock = clock
        self._limiter = self._new_limiter(rate)
        self._paused_until = 0.0
        self._last_throttle = float("-inf")

    @staticmethod
    def _new_limiter(rate: float) -> AsyncLimiter:
        return AsyncLimiter(1, (1.0 + PACING_MARGIN) / rate)

    async def acquire(self) -> None:
        """Wait until a request may leave."""
        while True:
            wait_s = self._paused_until - self._clock()
            if wait_s <= 0:
                break
            await asyncio.sleep(wait_s)
        self._maybe_recover()
        await self._limiter.acquire()

    def pause(self, seconds: float) -> None:
        """Hold all dispatch for `seconds` (a Retry-After from the platform)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def throttled(self) -> None:
        """The platform answered 429: slow the whole run down."""
        self._last_throttle = self._clock()
        lowered = max(self.configured_rate * MIN_RATE_FRACTION, self.current_rate * THROTTLE_FACTOR)
        self._set_rate(lowered)

    def _maybe_recover(self) -> None:
        if self.current_rate >= self.configured_rate:
            return
        if self._clock() - self._last_throttle >= RECOVERY_INTERVAL_S:
            self._last_throttle = self._clock()
            self._set_rate(min(self.configured_rate, self.current_rate * RECOVERY_FACTOR))

    def _set_rate(self, rate: float) -> None:
        if rate != self.current_rate:
            self.current_rate = rate
            self._limiter = self._new_limiter(rate)
