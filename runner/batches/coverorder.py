"""Input order across runs: under cover mark 1 a resume never sends a row behind a later row of its device.

Under cover mark 1 each share of a device ends the one before, so input order decides who keeps
the device: the last row. Within a run the engine keeps that order. Across runs it could not: a
row that failed (or was not sent) in an earlier run, sent by a resume after a later row of the
same device had succeeded, would end that later row's share and leave the report naming a dead
share code (found by the chaos test). Such a row is not sent: it ends `not_attempted`, saying why
and what to do. A row in doubt is left to the engine, which looks it up before anything else.
"""

from __future__ import annotations

from runner.batches.skipexisting import Prepared
from runner.clock import utc_now_iso
from runner.engine.journal import Journal
from runner.engine.protocols import OutcomeSink
from runner.models import RowOutcome, RowStatus, ShareRequest

REPLACES = 1  # the cover mark whose order matters here


def behind_done_rows(journal: Journal, sink: OutcomeSink, finished: set[int]) -> set[int]:
    """Finish (through `sink`) the rows a resume must not send; returns their row numbers."""
    last_done: dict[tuple[str, str], int] = {}
    for row, payload in journal.iter_done():
        request = ShareRequest.from_json(payload)
        if request.cover_mark == REPLACES:
            last_done[request.device] = row
    held: set[int] = set()
    if not last_done:
        return held
    for item in journal.iter_work(ShareRequest.from_json):
        later = last_done.get(item.payload.device)
        if later is None or later < item.row or item.row in finished or item.in_doubt_since_ms is not None:
            continue
        sink.row_finished(RowOutcome(
            row=item.row, status=RowStatus.NOT_ATTEMPTED, finished_at=utc_now_iso(),
            message=f"not sent: row {later}, later in the file, already shared this device (cover mark 1) in an "
                    "earlier run, and sending this row now would end that share; to give this recipient the device "
                    "after all, share it in a batch of its own"))
        held.add(item.row)
    journal.flush()
    return held


def keep_device_order(prepared: Prepared, journal: Journal, sink: OutcomeSink) -> Prepared:
    """Add the rows held back by `behind_done_rows` to what a step before sending finished."""
    prepared.finished_rows |= behind_done_rows(journal, sink, prepared.finished_rows)
    return prepared
