"""Progress while a batch runs: a live bar on a terminal, plain periodic lines otherwise.

Cron mails whatever a job prints, so off a terminal the display is a line every `log_every_s`.
The line's figures travel in the record's fields too, for `--log-format json`; a failed row is a
machine-only `row_failed` event (see runner.outputs.logsetup), so people still read failures in the report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from runner.events import log_event
from runner.models import RowOutcome, RowStatus

if TYPE_CHECKING:  # rich is imported only for a live bar: a cron run never draws one
    from rich.console import Console
    from rich.progress import Progress, TaskID

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
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def row_finished(self, outcome: RowOutcome) -> None:
        self.done += 1
        if outcome.status is RowStatus.FAILED:
            self.failed += 1
            log_event("row_failed", f"row {outcome.row} failed: {outcome.message}", row=outcome.row,
                      code=outcome.code, http_status=outcome.http_status, attempts=outcome.attempts,
                      error=outcome.message)
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.done, rate=self.rate(), failed=self.failed)
        elif self._clock() >= self._next_log:
            self._next_log = self._clock() + self._log_every_s
            log.info(self.line(), extra={"event": "progress", **self.figures()})

    def rate(self) -> float:
        elapsed = self._clock() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta_s(self) -> float | None:
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 else None

    def line(self) -> str:
        rate = self.rate()
        eta = f"{(self.total - self.done) / rate:.0f}s" if rate > 0 else "?"
        return f"progress: {self.done}/{self.total} rows, {rate:.1f} rows/s, {self.failed} failed, ETA {eta}"

    def figures(self) -> dict[str, float | int | None]:
        """The progress line's figures, as the fields of a `progress` event."""
        eta = self.eta_s()
        return {"done": self.done, "total": self.total, "rate": round(self.rate(), 2), "failed": self.failed,
                "eta_s": round(eta) if eta is not None else None}
