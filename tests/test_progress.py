"""The progress display: lines on a timer off a terminal, an ETA honest about stalls, a bar not red for nothing."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from rich.console import Console

from runner.models import RowOutcome, RowStatus
from runner.outputs.logsetup import configure_logging
from runner.outputs.progress import ProgressDisplay

from .conftest import FakeClock


def finish(display: ProgressDisplay, clock: FakeClock, rows: int, status: RowStatus = RowStatus.SUCCESS) -> None:
    for row in range(rows):
        clock.now += 1.0
        display.row_finished(RowOutcome(row=row + 2, status=status))


class _Caught(logging.Handler):
    def __init__(self, seen: asyncio.Event) -> None:
        super().__init__()
        self.seen = seen
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.seen.set()


async def test_off_a_terminal_a_line_comes_on_time_even_when_no_row_finishes() -> None:
    configure_logging()
    seen = asyncio.Event()
    caught = _Caught(seen)
    logger = logging.getLogger("runner.progress")
    logger.addHandler(caught)
    try:
        with ProgressDisplay(5, interactive=False, log_every_s=0.05):
            await asyncio.wait_for(seen.wait(), timeout=10)  # no row finishes: only the timer can log
    finally:
        logger.removeHandler(caught)
    assert caught.lines[0].startswith("progress: 0/5 rows, 0.0 rows/s, 0 failed, ETA ?")


def test_the_eta_says_the_run_is_stalled_instead_of_counting_down() -> None:
    clock = FakeClock(0.0)
    display = ProgressDisplay(20, interactive=False, clock=clock)
    finish(display, clock, 10)
    assert display.eta_s() == pytest.approx(10.0)
    clock.now += 2.0  # a little slower than the pace: not yet a stall
    assert display.stalled_s() is None
    clock.now += 28.0  # a request hangs in a 30 s timeout
    assert display.eta_s() is None
    assert display.figures()["stalled_s"] == 30
    assert display.line().endswith("ETA ? (no row finished for 30s)")
    finish(display, clock, 1)
    assert display.stalled_s() is None
    assert display.eta_s() is not None


def _render(statuses: list[RowStatus]) -> str:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, color_system="truecolor", width=100)
    clock = FakeClock(0.0)
    with ProgressDisplay(len(statuses) + 5, interactive=True, console=console, clock=clock) as display:
        for row, status in enumerate(statuses, start=2):
            clock.now += 1.0
            display.row_finished(RowOutcome(row=row, status=status))
    return screen.getvalue()


def test_the_bar_is_green_without_failures_and_red_with_one() -> None:
    red = "\x1b[31m"
    clean = _render([RowStatus.SUCCESS] * 3)
    assert "\x1b[32m" in clean
    assert red not in clean
    assert "\x1b[38;2;249;38;114m" not in clean  # rich's default bar colour, a red-pink
    assert red in _render([RowStatus.SUCCESS, RowStatus.FAILED])
