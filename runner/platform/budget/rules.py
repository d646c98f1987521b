"""One account's shared request budget as plain arithmetic: GCRA with no burst, over a small state.

Every process that uses the account reads and writes this state under a lock (a file lock on this
host, one Lua script in Redis for several hosts), so the pacing is the account's, not the process's.
The rule is GCRA's virtual scheduling with a burst tolerance of zero: a request may leave once
`interval` has passed since the last one left, and the release is recorded when it happens (nobody
books a slot ahead), so a process that stalls cannot come back with a burst. A release leaves at
most MAX_CATCH_UP_S late (a wake-up) and lateness is never caught up over several; above 200/s one
call may take the slots due in the next 5 ms, which leave at most 5 ms early and, used by the
requests already waiting within 5 ms or dropped (gate.py), at most 10 ms late. So the releases in
any sliding second come from slots spread over at most 1.015 s, at 1.02 s per `rate` slots: never
more than the rate.

The interval comes from the lowest rate any live process asked for (a process counts while it asked
within `MEMBER_STALE_S`), times the throttle factor that 429s lower and quiet time restores. A
Retry-After sets `paused_until` for everyone. `runner/platform/budget/redisstore.py` runs the same
rules in Lua; tests compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.platform.pacing import (
    MAX_CATCH_UP_S,
    MIN_RATE_FRACTION,
    PACING_MARGIN,
    RECOVERY_FACTOR,
    RECOVERY_INTERVAL_S,
    THROTTLE_FACTOR,
)

MEMBER_STALE_S = 10.0  # a process's rate counts while it asked for a release within this long
CLOCK_JUMP_S = 1.0  # a last release this far in the future means the clock went back: forget it
MAX_PAUSE_S = 3600.0  # a pause longer than this is a clock that went back, not a Retry-After


@dataclass
class BudgetState:
    """What the processes sharing one account's budget agree on (times in seconds of a shared clock)."""

    last_sent: float | None = None
    paused_until: float = 0.0
    factor: float = 1.0  # the throttle: 1.0, or lower after 429s
    last_throttle: float = 0.0
    rates: dict[str, tuple[float, float]] = field(default_factory=dict)  # member -> (rate, last asked)

    def to_json(self) -> dict[str, Any]:
        return {"last_sent": self.last_sent, "paused_until": self.paused_until, "factor": self.factor,
                "last_throttle": self.last_throttle, "rates": {k: list(v) for k, v in self.rates.items()}}

    @classmethod
    def from_json(cls, raw: Any) -> BudgetState:
        """The state a file held; anything unreadable is a fresh state (the worst case is one early release)."""
        try:
            last = raw.get("last_sent")
            rates = {str(k): (float(v[0]), float(v[1])) for k, v in dict(raw.get("rates") or {}).items()}
            return cls(last_sent=None if last is None else float(last), paused_until=float(raw["paused_until"]),
                       factor=float(raw["factor"]), last_throttle=float(raw["last_throttle"]), rates=rates)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            return cls()


def effective_rate(state: BudgetState, now: float, member: str, rate: float) -> float:
    """The lowest rate a live member asked for, throttled; records this member's own ask."""
    state.rates[member] = (rate, now)
    for name, (_, seen) in list(state.rates.items()):
        if now - seen > MEMBER_STALE_S:
            del state.rates[name]
    lowest = min(asked for asked, _ in state.rates.values())
    if state.factor < 1.0 and now - state.last_throttle >= RECOVERY_INTERVAL_S:
        state.last_throttle = now
        state.factor = min(1.0, state.factor * RECOVERY_FACTOR)
    return lowest * state.factor


def try_release(state: BudgetState, now: float, member: str, rate: float, want: int = 1) -> tuple[float, int]:
    """(0.0, n) when n requests (1 <= n <= want) may leave now, recorded as sent; else (seconds to wait, 0).

    More than one only for slots that fall due within MAX_CATCH_UP_S from now, i.e. only at rates
    above 200/s: those leave together, a few ms early, which the margin's 20 ms per second absorbs,
    and one lock or round trip then serves them all instead of one each.
    """
    current = effective_rate(state, now, member, rate)
    if state.last_sent is not None and state.last_sent > now + CLOCK_JUMP_S:
        state.last_sent = None
    if state.paused_until > now + MAX_PAUSE_S:
        state.paused_until = 0.0
    interval = (1.0 + PACING_MARGIN) / current
    ready = state.paused_until if state.last_sent is None else max(state.paused_until, state.last_sent + interval)
    if ready > now:
        return ready - now, 0
    # Planned, not measured, when a wake-up is only a little late (see pacing.py); never saved up.
    last = ready if now - ready <= MAX_CATCH_UP_S else now
    granted = 1
    while granted < want and last + interval <= now + MAX_CATCH_UP_S:
        last += interval
        granted += 1
    state.last_sent = last
    return 0.0, granted


def leave(state: BudgetState, member: str) -> None:
    """A process that is done: its rate no longer holds the others back."""
    state.rates.pop(member, None)


def pause(state: BudgetState, now: float, seconds: float) -> None:
    """A Retry-After: nobody sharing the budget sends before it has passed."""
    state.paused_until = max(state.paused_until, now + seconds)


def throttle(state: BudgetState, now: float) -> None:
    """A 429: every process sharing the budget slows down, down to a tenth of the rate."""
    state.last_throttle = now
    state.factor = max(MIN_RATE_FRACTION, state.factor * THROTTLE_FACTOR)
