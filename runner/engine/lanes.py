"""Lanes: the rows of one owner account, so that one account's stop or slowness never holds the others.

A batch with several accounts runs each account's rows in a lane: at most its own number in
flight (its `concurrency`), and a stop that concerns only that account (a 24-hour block 5325, a
token that cannot be renewed) ends its lane: its rows not yet sent are reported `not_attempted`
while the other lanes go on. Rows of a lane that is full wait in it, in input order, and the
next worker to find room takes them, so a slow account's rows never occupy every worker.
"""

from __future__ import annotations

import sys
from collections import Counter, deque
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

from runner.engine.protocols import OutcomeSink, WorkItem
from runner.models import RowOutcome, RowStatus

PayloadT = TypeVar("PayloadT")


class Lanes(Generic[PayloadT]):
    """Which lane a row is in, how many of each lane are in flight, and which lanes have stopped."""

    def __init__(self, lane_of: Callable[[PayloadT], Hashable] | None = None,
                 capacity: Mapping[Hashable, int] | None = None, name_of: Callable[[Hashable], str] = str) -> None:
        """Without `lane_of`: one lane without a limit of its own, whose stop is the whole run's."""
        self._scoped = lane_of is not None
        self._lane_of: Callable[[PayloadT], Hashable] = lane_of if lane_of is not None else _one_lane
        self._capacity: dict[Hashable, int] = dict(capacity) if capacity is not None else {None: sys.maxsize}
        self._name_of = name_of
        self._in_flight: Counter[Hashable] = Counter()
        self._waiting: dict[Hashable, deque[WorkItem[PayloadT]]] = {}
        self._stopped: dict[Hashable, str] = {}

    def stopped(self, item: WorkItem[PayloadT], sink: OutcomeSink) -> bool:
        """True for a row whose lane has stopped: its outcome goes to `sink` now, and it is never sent."""
        reason = self._stopped.get(self._lane_of(item.payload)) if self._stopped else None
        if reason is None:
            return False
        if item.in_doubt_since_ms is None:
            sink.row_finished(RowOutcome(row=item.row, status=RowStatus.NOT_ATTEMPTED, message=reason))
        else:
            sink.row_finished(RowOutcome(
                row=item.row, status=RowStatus.UNKNOWN, in_doubt_since_ms=item.in_doubt_since_ms,
                message=f"{reason}; an earlier attempt may have been applied. It is looked up in the device's "
                        "share list before it is ever sent again."))
        return True

    def stop(self, payload: PayloadT, reason: str, *, or_else: Callable[..., None]) -> None:
        """End the lane of `payload` (its rows not yet sent will not be); with one lane, `or_else` stops the run."""
        if not self._scoped:
            or_else(reason, interrupted=False)
            return
        lane = self._lane_of(payload)
        self._stopped.setdefault(lane, f"not sent: {self._name_of(lane)} was stopped ({reason}); the other "
                                       "accounts' rows went on. Run the same command again once it is fixed")

    def take(self, item: WorkItem[PayloadT]) -> bool:
        """Count `item` in flight in its lane if it has room, else keep it waiting there (False)."""
        lane = self._lane_of(item.payload)
        if self._in_flight[lane] < self._capacity.get(lane, 1):
            self._in_flight[lane] += 1
            return True
        self._waiting.setdefault(lane, deque()).append(item)
        return False

    def enter(self, payload: PayloadT) -> None:
        self._in_flight[self._lane_of(payload)] += 1

    def leave(self, payload: PayloadT) -> None:
        self._in_flight[self._lane_of(payload)] -= 1

    def next_waiting(self) -> WorkItem[PayloadT] | None:
        """A waiting row whose lane has room now, or has stopped (to be reported), in input order per lane."""
        if not self._waiting:
            return None
        for lane, queue in self._waiting.items():
            if lane in self._stopped or self._in_flight[lane] < self._capacity.get(lane, 1):
                item = queue.popleft()
                if not queue:
                    del self._waiting[lane]
                return item
        return None

    def drain(self) -> list[WorkItem[PayloadT]]:
        """Every waiting row, when the run ends."""
        items = [item for queue in self._waiting.values() for item in queue]
        self._waiting.clear()
        return items


def _one_lane(payload: object) -> None:
    return None
