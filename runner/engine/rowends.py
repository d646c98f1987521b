"""How a row ends: its one outcome to the sink, the failure counts the brake reads, and the in-doubt wording.

The engine (fanout.py) decides when and why a row ends; this module turns that into the
RowOutcome the journal and the report show, so every ending says the same things the same way:
a row that may have been applied ends `unknown` (or `failed` with its doubt kept) and promises a
look-up before anything is sent again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runner.clock import utc_now_iso
from runner.engine.protocols import ActionResult, OutcomeSink
from runner.engine.settings import FailureBrake
from runner.models import RowOutcome, RowStatus, RunStats

#: the promise every in-doubt message ends with
LOOKED_UP_FIRST = "It is looked up in the device's share list before it is ever sent again."


@dataclass(slots=True)
class RowState:
    """One row's attempts while the engine works on it."""

    row: int
    attempts: int = 0
    in_doubt_since_ms: int | None = None  # the first attempt whose outcome is unknown
    sending_since_ms: int | None = None  # set while a request of this row is out
    last_started_ms: int | None = None
    settle_from_ms: int | None = None  # the latest attempt that may still land (its start)


class RowEnds:
    """Ends rows: one RowOutcome each to `sink`; failed rows counted in `stats` and for the failure brake."""

    def __init__(self, sink: OutcomeSink, stats: RunStats, brake: FailureBrake | None,
                 stop: Callable[[str], None]) -> None:
        self._sink = sink
        self._stats = stats
        self._brake = brake
        self._stop = stop  # called with the brake's reason once it trips
        self._finished = 0
        self._failed = 0

    def finish(
        self,
        state: RowState,
        status: RowStatus,
        message: str,
        *,
        code: int | None = None,
        share_code: str | None = None,
        http_status: int | None = None,
        latency_ms: int | None = None,
        in_doubt_since_ms: int | None = None,
    ) -> None:
        if status is RowStatus.FAILED:
            key = str(code) if code is not None else "transport"
            self._stats.by_code[key] = self._stats.by_code.get(key, 0) + 1
            self._failed += 1
        self._finished += 1
        self._sink.row_finished(RowOutcome(
            row=state.row, status=status, code=code, message=message, share_code=share_code,
            attempts=state.attempts, http_status=http_status, latency_ms=latency_ms, finished_at=utc_now_iso(),
            in_doubt_since_ms=in_doubt_since_ms,
        ))
        self._check_brake()

    def success(self, state: RowState, result: ActionResult) -> None:
        self.finish(
            state, result.status, result.message, code=result.code, share_code=result.share_code,
            http_status=result.http_status, latency_ms=result.latency_ms,
        )

    def unsettled(self, state: RowState) -> None:
        """Stopped while the row waited for an earlier attempt to settle: it may have been applied."""
        since = state.in_doubt_since_ms
        self.finish(state, RowStatus.UNKNOWN, "the run stopped while an earlier attempt, whose answer was lost, could "
                    f"still be applied; it may have been. {LOOKED_UP_FIRST}", in_doubt_since_ms=since)

    def interrupted(self, state: RowState) -> None:
        """Cancelled after the grace: a request that was out may or may not have been applied."""
        since = state.in_doubt_since_ms or state.sending_since_ms
        if since is not None:
            self.finish(state, RowStatus.UNKNOWN, "interrupted while a request was out; it may have been applied. "
                        f"{LOOKED_UP_FIRST}", in_doubt_since_ms=since)
        elif state.attempts:
            self.finish(state, RowStatus.FAILED, "interrupted between retries (no earlier attempt was applied)")
        else:
            self.finish(state, RowStatus.NOT_ATTEMPTED, "interrupted before it was sent")

    def _check_brake(self) -> None:
        brake = self._brake
        if brake is not None and brake.tripped(self._failed, self._finished):
            self._stop(f"stopped: {self._failed} of the {self._finished} rows this run finished failed "
                       f"({brake.label}); fix the cause, then run the same command: it sends the rows not "
                       "sent yet and re-sends only failures that may pass (--retry-failed: every failed row)")
