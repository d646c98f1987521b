"""Progress while a batch runs: a live bar on a terminal, plain periodic lines otherwise.

Cron mails whatever a job prints, so off a terminal the display is a line every `log_every_s`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from runner.models import RowOutcome, RowStatus

log = logging.getLogger("runner.progress")


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
        self._interactive = interactive
        self._clock = clock
        self._started = clock()
        self._log_every_s = log_every_s
        self._next_log = self._started + log_every_s
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if interactive:
            self._progress = Progress(
                TextColumn("sharing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f} rows/s"),
                TextColumn("failed {task.fields[failed]}"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console or Console(stderr=True),
            )

    def __enter__(self) -> ProgressDisplay:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("sharing", total=self.total, rate=0.0, failed=0)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def row_finished(self, outcome: RowOutcome) -> None:
        self.done += 1
        if outcome.status is RowStatus.FAILED:
            self.failed += 1
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.done, rate=self.rate(), failed=self.failed)
        elif self._clock() >= self._next_log:
            self._next_log = self._clock() + self._log_every_s
            log.info(self.line())

    def rate(self) -> float:
        elapsed = self._clock() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        remaining = self.total - self.done
        eta = f"{remaining / rate:.0f}s" if rate > 0 else "?"
        return f"progress: {self.done}/{self.total} rows, {rate:.1f} rows/s, {self.failed} failed, ETA {eta}"
