"""What the engine works on and talks to: work items, the Action plug-in and the OutcomeSink.

They live here, beside the engine, so that the engine, the journal and the concrete actions
(runner.batches.actions) all depend on this module rather than on each other.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from runner.models import RowOutcome, RowStatus

PayloadT = TypeVar("PayloadT")
ActionPayloadT = TypeVar("ActionPayloadT", contravariant=True)


@dataclass(slots=True)
class WorkItem(Generic[PayloadT]):
    row: int
    payload: PayloadT
    #: set when an earlier attempt (a crash, a lost answer, a fed-back failed file) may have been
    #: applied: the engine looks the row up before it sends anything
    in_doubt_since_ms: int | None = None
    #: the start of the latest attempt that may still land (a journal's in-flight row); the look-up waits
    #: until it has settled (engine/settle.py). None: `in_doubt_since_ms` is the latest
    settle_from_ms: int | None = None


class OutcomeSink(Protocol):
    async def attempt_started(self, row: int, started_ms: int) -> None:
        """Awaited just before a request for `row` leaves (the journal commits in_flight)."""

    def row_finished(self, outcome: RowOutcome) -> None:
        """Called once per row with its final outcome."""


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A row's request took effect."""

    share_code: str | None
    http_status: int | None
    latency_ms: int | None
    message: str = ""
    status: RowStatus = RowStatus.SUCCESS  # an action may report a finer kind of success
    code: int = 200
    #: False when the answer said "done" but lacked what proves it (a share code): the engine then
    #: looks the row up, and a row it cannot find ends `unknown`, never `success` without a code
    confirmed: bool = True


class Found(StrEnum):
    """What a look-up after an ambiguous attempt says; each answer has its own path in the engine."""

    APPLIED = "applied"  #: the attempt took effect: the row is done with `Reconciled.result`
    NOT_APPLIED = "not_applied"  #: it did not: the row may be sent again
    RESEND_HARMLESS = "resend_harmless"  #: no look-up exists, and sending again cannot do harm (idempotent)
    UNKNOWN = "unknown"  #: the look-up could not settle it: the row ends `unknown`, never re-sent blindly


@dataclass(frozen=True, slots=True)
class Reconciled:
    """`Action.reconcile`'s answer: never None, so "not applied" and "harmless" cannot be confused."""

    found: Found
    result: ActionResult | None = None  # set exactly when found is APPLIED
    why: str = ""  # for UNKNOWN: what kept the look-up from settling it

    def __post_init__(self) -> None:
        if (self.result is not None) != (self.found is Found.APPLIED):
            raise ValueError("Reconciled: a result comes with APPLIED and only with it")


class Action(Protocol[ActionPayloadT]):
    async def perform(self, payload: ActionPayloadT) -> ActionResult:
        """Send the request once; raises an ApiError subclass when it did not succeed."""

    async def reconcile(self, payload: ActionPayloadT, since_ms: int) -> Reconciled:
        """After an ambiguous attempt started at `since_ms`: whether it took effect (`Found`); may
        raise ApiError when the look-up itself fails (the engine treats it as UNKNOWN)."""

    def why_not_send(self, payload: ActionPayloadT, now_ms: int) -> str | None:
        """Why the row must not be sent at `now_ms` (e.g. its expiry has passed), or None."""

    def device(self, payload: ActionPayloadT) -> Hashable:
        """Rows with the same device never run concurrently and keep their input order."""
