"""Load shaping and the request log: rate limit, latency, fault draws, statistics.

Pure logic on monotonic time, so the limiter and the window arithmetic are testable without a
server. The log keeps one small slotted record per API request (the simulator must sustain
thousands of requests per second); /_sim/ requests are never logged or rate limited.
"""

from __future__ import annotations

import random
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runner.simulator.config import FaultKind

WINDOW_S = 1.0
_LOGIN_ENDPOINTS = frozenset({"emailPwdLogin", "phonePwdLogin"})


@dataclass(slots=True)
class RequestRecord:
    """One API request; the answer fields are filled in when it is answered (or dropped)."""

    t: float  # arrival, seconds since the simulator started (monotonic)
    method: str
    path: str
    params: dict[str, str]
    http_status: int | None = None  # None: the connection was closed with no answer
    code: int | None = None  # envelope code answered (or that would have been, for a dropped answer)
    fault: FaultKind | None = None
    share_code: str | None = None  # the share this request really created, if any
    uid: str | None = None  # the account whose valid token the request carried (None: no valid token)

    @property
    def endpoint(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def max_in_window(times: Sequence[float], window_s: float = WINDOW_S) -> int:
    """The most arrivals inside any half-open window [t, t + window_s); `times` ascending."""
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def draw_latency_s(rng: random.Random, latency_ms: float, jitter_ms: float) -> float:
    """latency ± uniform jitter, never negative."""
    if jitter_ms:
        latency_ms += rng.uniform(-jitter_ms, jitter_ms)
    return max(latency_ms, 0.0) / 1000


def draw_fault(rng: random.Random, fault_rate: float, kinds: Sequence[FaultKind]) -> FaultKind | None:
    """Whether a fault fires for this request, and which one (uniform over `kinds`)."""
    if fault_rate <= 0 or not kinds or rng.random() >= fault_rate:
        return None
    return FaultKind(rng.choice(kinds))  # tolerate plain strings set on the live config


class Traffic:
    """The request log plus a sliding-window limiter over admitted requests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.records: list[RequestRecord] = []
        self._admitted: deque[float] = deque()  # arrival times of admitted requests, last WINDOW_S
        self._admitted_times: list[float] = []  # all admitted arrivals, for the stats

    def reset(self) -> None:
        self.started = self.clock()
        self.records.clear()
        self._admitted.clear()
        self._admitted_times.clear()

    def arrive(self, method: str, path: str, params: dict[str, str]) -> RequestRecord:
        record = RequestRecord(self.clock() - self.started, method, path, params)
        self.records.append(record)
        return record

    def admit(self, record: RequestRecord, rate_limit: float | None) -> float | None:
        """None if admitted; else seconds until a slot frees up (the request gets a 429).

        A request is refused when admitting it would put more than `rate_limit` admitted requests
        into the last 1.0 s. Refused requests do not count, so a client that waits as told by
        Retry-After gets through.
        """
        now = record.t
        window = self._admitted
        while window and now - window[0] >= WINDOW_S:
            window.popleft()
        if rate_limit is not None and len(window) + 1 > rate_limit:
            return WINDOW_S - (now - window[0]) if window else WINDOW_S
        window.append(now)
        self._admitted_times.append(now)
        return None

    def stats(self) -> dict[str, object]:
        """Counts for /_sim/stats; max_in_any_second is exact over the arrival log."""
        by_endpoint: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        by_code: Counter[str] = Counter()
        faults: Counter[str] = Counter({kind.value: 0 for kind in FaultKind})
        refreshes = logins = 0
        for record in self.records:
            by_endpoint[record.endpoint] += 1
            by_status[str(record.http_status)] += 1
            if record.code is not None:
                by_code[str(record.code)] += 1
            if record.fault is not None:
                faults[record.fault.value] += 1
            if record.code == 200 and record.http_status == 200:
                if record.endpoint == "refreshToken":
                    refreshes += 1
                elif record.endpoint in _LOGIN_ENDPOINTS:
                    logins += 1
        times = [record.t for record in self.records]
        return {
            "total_requests": len(self.records),
            "by_endpoint": dict(by_endpoint),
            "by_http_status": dict(by_status),
            "by_code": dict(by_code),
            "refreshes": refreshes,
            "logins": logins,
            "rate_limited": by_status.get("429", 0),
            "faults": dict(faults),
            "shares_applied": sum(1 for record in self.records if record.share_code is not None),
            "max_in_any_second": max_in_window(times),
            "max_admitted_in_any_second": max_in_window(self._admitted_times),
        }

    def records_since(self, index: int) -> list[RequestRecord]:
        return self.records[max(index, 0) :]
