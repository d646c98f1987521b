"""Progress while a batch runs: a live bar on a terminal, plain periodic lines otherwise.

Cron mails whatever a job prints, so off a terminal the display is a line every `log_every_s`,
driven by a timer: a line comes on time even while no row finishes (a stalled platform is news).
The ETA is honest about a stall: once no row has finished for a while it says so instead of
counting down from the last rate. The line's figures travel in the record's fields too, for
`--log-format json`; a failed row is a machine-only `row_failed` event (see
runner.outputs.logsetup), so people still read failures in the report.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from runner.events import log_event
from runner.models import RowOutcome, RowStatus

if TYPE_CHECKING:  # rich is imported only for a live bar: a cron run never draws one
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID

log = logging.getLogger("runner.progress")

#: no row finished for this long (and for three of the run's average intervals): the run is stalled
STALL_AFTER_S = 5.0
#: how often the live bar's figures (rate, ETA) are refreshed while nothing finishes
BAR_TICK_S = 1.0


class ProgressDisplay:
    """Counts finished rows and shows them; use as a context manager around the run."""

    def __init__(
        self,
        total: int,
        *,
        interactive: bool,
        console: Console | None = None,
        log_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self._clock = clock
        self._started = clock()
        self._last_finished = self._started
        self._log_every_s = log_every_s
        self._next_log = self._started + log_every_s
        self._timer: asyncio.TimerHandle | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._bar: BarColumn | None = None
        if interactive:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            # not red while nothing has failed: rich's default "complete" colour reads as an alarm
            self._bar = BarColumn(complete_style="green", finished_style="green")
            self._progress = Progress(
                TextColumn("sharing"),
                self._bar,
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f} rows/s"),
                TextColumn("failed {task.fields[failed]}"),
                TextColumn("ETA {task.fields[eta]}"),
                console=console or Console(stderr=True),
            )

    def __enter__(self) -> ProgressDisplay:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("sharing", total=self.total, rate=0.0, failed=0, eta="?")
        self._schedule()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._progress is not None:
            self._progress.stop()

    def _schedule(self) -> None:
        """Tick on the running event loop, if any (a caller without one drives `tick()` itself)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        delay = BAR_TICK_S if self._progress is not None else max(0.05, self._next_log - self._clock())
        self._timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self.tick()
        self._schedule()

    def tick(self) -> None:
        """Refresh the bar, or log the line when it is due, whether or not a row finished."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.done, rate=self.rate(), failed=self.failed,
                                  eta=self._eta_text())
        elif self._clock() >= self._next_log:
            self._next_log = self._clock() + self._log_every_s
            log.info(self.line(), extra={"event": "progress", **self.figures()})

    def row_finished(self, outcome: RowOutcome) -> None:
        self.done += 1
        self._last_finished = self._clock()
        if outcome.status is RowStatus.FAILED:
            self.failed += 1
            if self._bar is not None:
                self._bar.complete_style = "red"
            log_event("row_failed", f"row {outcome.row} failed: {outcome.message}", row=outcome.row,
                      code=outcome.code, http_status=outcome.http_status, attempts=outcome.attempts,
                      error=outcome.message)
        self.tick()

    def rate(self) -> float:
        elapsed = self._clock() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def stalled_s(self) -> float | None:
        """Seconds since the last row finished, once that is far longer than the run's pace; else None."""
        if self.done >= self.total:
            return None
        since = self._clock() - self._last_finished
        rate = self.rate()
        pace = 3.0 / rate if rate > 0 else 0.0
        return since if since >= max(STALL_AFTER_S, pace) else None

    def eta_s(self) -> float | None:
        """Seconds left at the run's pace; None while it has no pace yet or is stalled."""
        if self.done >= self.total:
            return 0.0
        rate = self.rate()
        if rate <= 0 or self.stalled_s() is not None:
            return None
        return (self.total - self.done) / rate

    def _eta_text(self) -> str:
        eta = self.eta_s()
        stalled = self.stalled_s()
        if stalled is not None:
            return f"? (no row finished for {stalled:.0f}s)"
        return "?" if eta is None else f"{eta:.0f}s"

    def line(self) -> str:
        return (f"progress: {self.done}/{self.total} rows, {self.rate():.1f} rows/s, {self.failed} failed, "
                f"ETA {self._eta_text()}")

    def figures(self) -> dict[str, float | int | None]:
        """The progress line's figures, as the fields of a `progress` event."""
        eta = self.eta_s()
        stalled = self.stalled_s()
        return {"done": self.done, "total": self.total, "rate": round(self.rate(), 2), "failed": self.failed,
                "eta_s": round(eta) if eta is not None else None,
                "stalled_s": round(stalled) if stalled is not None else None}
