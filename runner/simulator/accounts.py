"""Several owner accounts on one simulator: each its own tokens, devices, rate limit and block.

The platform keeps an account's devices and limits to that account (docs/platform-api.md §1.1):
the simulator's extra owners (`SimulatorConfig.accounts`) get a token pair each at start, own
the devices they are first to use (or those a devices file gives them), and each has its own
sliding-second window (`account_rate_limit`, 429 with Retry-After above it, like the global
one). An account listed in `blocked_accounts` is answered 5325, the 24-hour block for abnormal
behaviour (§5.1), on every call, so a test can block one account while the others go on.
Both lists can change on a running simulator through `POST /_sim/config`.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from runner.simulator.codes import PlatformCodeError
from runner.simulator.traffic import WINDOW_S, RequestRecord

if TYPE_CHECKING:
    from runner.simulator.app import Simulator

#: the 24-hour block for abnormal behaviour (docs/platform-api.md §5.1)
BLOCKED_CODE = 5325


class AccountWindows:
    """One sliding-second window of admitted requests per account (pure, on the request log's clock)."""

    def __init__(self) -> None:
        self._admitted: dict[str, deque[float]] = {}

    def reset(self) -> None:
        self._admitted.clear()

    def admit(self, uid: str, now: float, limit: float | None) -> float | None:
        """None if admitted; else seconds until this account's window has room (the request gets a 429)."""
        window = self._admitted.setdefault(uid, deque())
        while window and now - window[0] >= WINDOW_S:
            window.popleft()
        if limit is not None and len(window) + 1 > limit:
            return WINDOW_S - (now - window[0]) if window else WINDOW_S
        window.append(now)
        return None


def account_check(sim: Simulator, authorization: str | None, record: RequestRecord) -> tuple[str, float] | None:
    """("blocked", 0) for a blocked account, ("limited", seconds) above its own rate, None to go on.

    Only requests with a live access token are the account's; anything else is left to the
    normal checks (5106, 5032), which answer it as before.
    """
    try:
        uid = sim.state.tokens.verify_access(authorization)
    except PlatformCodeError:
        return None
    record.uid = uid
    if uid in sim.config.blocked_accounts:
        return "blocked", 0.0
    wait_s = sim.account_windows.admit(uid, record.t, sim.config.account_rate_limit)
    return ("limited", wait_s) if wait_s is not None else None
