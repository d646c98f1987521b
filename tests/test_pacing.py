"""DispatchGate timing on a hand-moved event-loop clock (aiolimiter's MockLoopTime idea): no real sleeps.

The fixture replaces `loop.time` with a virtual clock and hands the same clock to the gate, so both
the gate's own reading and the loop's timers (what `asyncio.sleep` waits on) use virtual time. A
test starts acquirers as tasks and then moves the clock forward in small steps, yielding to the
loop after each step so that every timer that came due runs.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

import pytest

from runner.platform.pacing import (
    MIN_RATE_FRACTION,
    RECOVERY_FACTOR,
    RECOVERY_INTERVAL_S,
    THROTTLE_FACTOR,
    DispatchGate,
)

STEP_S = 0.002  # how far the clock moves between two looks at the loop


class LoopClock:
    """The running loop's clock, moved only by `advance`."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.now = start

    def __call__(self) -> float:
        return self.now

    @property
    def elapsed(self) -> float:
        return self.now - self.start

    async def settle(self) -> None:
        """Let every task that can run without the clock moving run."""
        for _ in range(5):
            await asyncio.sleep(0)

    def jump(self, seconds: float) -> None:
        """Move the clock at once; only while no acquirer is waiting on it."""
        self.now += seconds

    async def advance(self, seconds: float, *, until: Callable[[], bool] = lambda: False) -> None:
        """Move the clock `seconds` forward in small steps, stopping early once `until()` holds."""
        await self.settle()
        target = self.now + seconds
        while self.now < target - 1e-12 and not until():
            self.now = min(target, self.now + STEP_S)
            await self.settle()


@pytest.fixture
async def clock(monkeypatch: pytest.MonkeyPatch) -> LoopClock:
    loop = asyncio.get_running_loop()
    fake = LoopClock(loop.time())
    monkeypatch.setattr(loop, "time", fake)
    return fake


class Recorder:
    """Acquirers that note the virtual time at which the gate let each of them through."""

    def __init__(self, gate: DispatchGate, clock: LoopClock) -> None:
        self.gate = gate
        self.clock = clock
        self.admitted: list[float] = []  # seconds since the test started
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, count: int, *, then: Callable[[], Awaitable[None]] | None = None) -> None:
        for _ in range(count):
            self.tasks.append(asyncio.create_task(self._one(then)))

    async def _one(self, then: Callable[[], Awaitable[None]] | None) -> None:
        await self.gate.acquire()
        self.admitted.append(self.clock.elapsed)
        if then is not None:
            await then()

    def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()


def most_in_any_window(times: list[float], window_s: float = 1.0) -> int:
    """The largest number of `times` inside any half-open window [t, t + window_s)."""
    ordered = sorted(times)
    return max((sum(1 for u in ordered[i:] if u < t + window_s) for i, t in enumerate(ordered)), default=0)


async def test_requests_leave_evenly_paced_with_no_burst_at_the_start(clock: LoopClock) -> None:
    recorder = Recorder(DispatchGate(5.0, clock=clock), clock)
    recorder.start(12)
    await clock.advance(3.0, until=lambda: len(recorder.admitted) == 12)
    admitted = recorder.admitted
    assert len(admitted) == 12
    assert sum(1 for t in admitted if t < 1.0) <= 6
    assert most_in_any_window(admitted) <= 5
    gaps = [b - a for a, b in itertools.pairwise(admitted)]
    assert min(gaps) >= 1 / 5.0
    assert max(gaps) < 1 / 5.0 * 1.1  # paced, not slower than needed


async def test_pause_holds_every_request_until_it_ends(clock: LoopClock) -> None:
    gate = DispatchGate(5.0, clock=clock)
    gate.pause(2.0)
    recorder = Recorder(gate, clock)
    recorder.start(2)
    await clock.advance(1.9)
    assert recorder.admitted == []
    await clock.advance(0.5, until=lambda: len(recorder.admitted) == 2)
    assert recorder.admitted[0] >= 2.0
    assert recorder.admitted[1] - recorder.admitted[0] >= 1 / 5.0


async def test_a_shorter_pause_does_not_cut_a_longer_one_short(clock: LoopClock) -> None:
    gate = DispatchGate(5.0, clock=clock)
    gate.pause(3.0)
    gate.pause(1.0)
    recorder = Recorder(gate, clock)
    recorder.start(1)
    await clock.advance(3.5, until=lambda: bool(recorder.admitted))
    assert recorder.admitted[0] >= 3.0


async def test_pause_during_a_run_holds_requests_already_waiting(clock: LoopClock) -> None:
    gate = DispatchGate(5.0, clock=clock)
    recorder = Recorder(gate, clock)
    recorder.start(4)
    await clock.advance(0.1)
    assert len(recorder.admitted) == 1
    gate.pause(2.0)  # at 0.1 s: nothing more until 2.1 s
    await clock.advance(3.0, until=lambda: len(recorder.admitted) == 4)
    assert recorder.admitted[1] >= 2.1


def test_throttled_lowers_the_rate_by_the_throttle_factor_down_to_a_floor() -> None:
    gate = DispatchGate(10.0, clock=lambda: 0.0)
    gate.throttled()
    assert gate.current_rate == pytest.approx(10.0 * THROTTLE_FACTOR)
    gate.throttled()
    assert gate.current_rate == pytest.approx(10.0 * THROTTLE_FACTOR**2)
    for _ in range(30):
        gate.throttled()
    assert gate.current_rate == pytest.approx(10.0 * MIN_RATE_FRACTION)
    assert gate.configured_rate == 10.0


async def test_throttled_gate_spaces_requests_at_the_lower_rate(clock: LoopClock) -> None:
    gate = DispatchGate(5.0, clock=clock)
    gate.throttled()
    recorder = Recorder(gate, clock)
    recorder.start(4)
    await clock.advance(2.0, until=lambda: len(recorder.admitted) == 4)
    gaps = [b - a for a, b in itertools.pairwise(recorder.admitted)]
    assert min(gaps) >= 1 / (5.0 * THROTTLE_FACTOR)


async def test_throttling_right_after_a_request_does_not_let_the_next_one_through_at_once(clock: LoopClock) -> None:
    gate = DispatchGate(5.0, clock=clock)
    recorder = Recorder(gate, clock)
    recorder.start(1)
    await clock.advance(0.05)
    gate.throttled()  # a 429 arrives: the run must slow down, not restart its pacing
    recorder.start(1)
    await clock.advance(1.0, until=lambda: len(recorder.admitted) == 2)
    assert recorder.admitted[1] - recorder.admitted[0] >= 1 / (5.0 * THROTTLE_FACTOR)


async def test_rate_changes_while_requests_wait_never_exceed_the_rate_in_any_second(clock: LoopClock) -> None:
    """Four workers that send again as soon as they are let through; 429s and recoveries on the way."""
    gate = DispatchGate(5.0, clock=clock)
    recorder = Recorder(gate, clock)

    async def again() -> None:
        await gate.acquire()
        recorder.admitted.append(clock.elapsed)
        await again()

    recorder.start(4, then=again)
    await clock.advance(0.9)
    gate.throttled()
    await clock.advance(0.5)
    gate.throttled()
    await clock.advance(2 * RECOVERY_INTERVAL_S + 1.0)
    recorder.cancel()
    await clock.settle()
    assert len(recorder.admitted) > 20
    assert most_in_any_window(recorder.admitted) <= 5
    gaps = [b - a for a, b in itertools.pairwise(recorder.admitted)]
    assert min(gaps) >= 1 / 5.0


async def test_rate_recovers_one_step_per_interval_without_a_429_up_to_the_configured_rate(clock: LoopClock) -> None:
    gate = DispatchGate(10.0, clock=clock)
    gate.throttled()
    gate.throttled()
    throttled_rate = 10.0 * THROTTLE_FACTOR**2
    recorder = Recorder(gate, clock)
    clock.jump(RECOVERY_INTERVAL_S - 0.1)
    recorder.start(1)
    await clock.advance(0.05, until=lambda: len(recorder.admitted) == 1)
    assert gate.current_rate == pytest.approx(throttled_rate)
    await clock.advance(0.1)
    recorder.start(1)
    await clock.advance(0.5, until=lambda: len(recorder.admitted) == 2)
    assert gate.current_rate == pytest.approx(throttled_rate * RECOVERY_FACTOR)
    for _ in range(4):
        clock.jump(RECOVERY_INTERVAL_S)
        recorder.start(1)
        await clock.advance(0.5, until=lambda: len(recorder.admitted) == len(recorder.tasks))
    assert gate.current_rate == 10.0


async def test_a_new_429_postpones_recovery(clock: LoopClock) -> None:
    gate = DispatchGate(10.0, clock=clock)
    gate.throttled()
    clock.jump(RECOVERY_INTERVAL_S - 1.0)
    gate.throttled()  # the clock for recovery starts again here
    clock.jump(2.0)
    recorder = Recorder(gate, clock)
    recorder.start(1)
    await clock.advance(0.5, until=lambda: bool(recorder.admitted))
    assert gate.current_rate == pytest.approx(10.0 * THROTTLE_FACTOR**2)


async def test_a_waiter_that_gives_up_does_not_hold_up_the_next_one(clock: LoopClock) -> None:
    gate = DispatchGate(5.0, clock=clock)
    gate.pause(1.0)
    recorder = Recorder(gate, clock)
    recorder.start(2)
    await clock.advance(0.5)
    recorder.tasks[0].cancel()
    await clock.advance(1.0, until=lambda: bool(recorder.admitted))
    assert recorder.tasks[0].cancelled()
    assert len(recorder.admitted) == 1
    assert 1.0 <= recorder.admitted[0] < 1.1


async def test_late_wake_ups_do_not_slow_the_planned_pace(clock: LoopClock) -> None:
    # The virtual clock moves in 2 ms steps, so every wake-up at rate 300 (one slot per 3.4 ms) is
    # late by up to 2 ms; planned slots absorb that instead of adding it to every gap.
    gate = DispatchGate(300.0, clock=clock)
    recorder = Recorder(gate, clock)
    recorder.start(301)
    await clock.advance(3.0, until=lambda: len(recorder.admitted) == 301)
    span = recorder.admitted[-1] - recorder.admitted[0]
    assert span < 300 * 1.02 / 300 + 0.01  # the plan's 1.02 s, give or take one step
    assert span > 1.0  # and never 301 inside one second
    for first, last in zip(recorder.admitted, recorder.admitted[300:], strict=False):
        assert last - first > 1.0
