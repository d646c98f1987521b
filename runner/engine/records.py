"""The values the journal takes in and gives back: a row's entry, the counts of loading the input,
and what `status` reads; with the two states a row has before its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.models import RowOutcome

IN_FLIGHT = "in_flight"
PENDING = "pending"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One input row as the journal records it before sending.

    `fingerprint` and `payload` (the request, encoded by its action) are set for a row to send;
    for a row that will not be sent (invalid, duplicate) they are None and `outcome` says why.
    """

    row: int
    fingerprint: str | None
    payload: str | None
    outcome: RowOutcome | None = None
    #: an earlier batch's attempt at this row may have been applied (from a fed-back failed file)
    in_doubt_since_ms: int | None = None
    #: how the row was read, for its report line (e.g. a phone read from a number cell)
    note: str = ""


@dataclass(frozen=True)
class JournalStatus:
    """What `sharebatch status` asks a journal: rows per state and code, and how its runs went.

    Times are UTC ISO 8601 strings as the runs wrote them; None when no run recorded one
    (a journal of an older version, or a run killed before it could).
    """

    states: dict[str, int]
    failed_by_code: dict[str, int]
    first_started_at: str | None
    last_started_at: str | None
    last_ended_at: str | None  # the last run that got to its end (not one killed)
    last_exit_code: int | None
    last_stopped: str | None
    last_row_finished_at: str | None
    #: the platform's clock minus this machine's (ms) as the last run measured it; None: not measured
    clock_offset_ms: int | None = None

    @property
    def last_run_ended(self) -> bool:
        """False when the last run started was never seen to end (killed, or still running)."""
        if self.last_started_at is None:
            return self.states.get(IN_FLIGHT, 0) == 0  # an older journal: rows in flight say it was cut off
        return self.last_ended_at is not None and self.last_ended_at >= self.last_started_at


@dataclass(frozen=True)
class SyncCounts:
    """What loading the input into the journal found."""

    total: int
    to_send: int
    already_done: int
