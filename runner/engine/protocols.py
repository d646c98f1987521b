"""What the engine works on and talks to: work items, the Action plug-in and the OutcomeSink.

They live here, beside the engine, so that the engine, the journal and the concrete actions
(runner.actions) all depend on this module rather than on each other.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from runner.models import RowOutcome, RowStatus

PayloadT = TypeVar("PayloadT")
ActionPayloadT = TypeVar("ActionPayloadT", contravariant=True)


@dataclass(slots=True)
class WorkItem(Generic[PayloadT]):
    row: int
    payload: PayloadT
    #: set when an earlier run died with this row's request out: reconcile before sending
    in_flight_since_ms: int | None = None


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


class Action(Protocol[ActionPayloadT]):
    async def perform(self, payload: ActionPayloadT) -> ActionResult:
        """Send the request once; raises an ApiError subclass when it did not succeed."""

    async def reconcile(self, payload: ActionPayloadT, since_ms: int) -> ActionResult | None:
        """After an ambiguous attempt started at `since_ms`: the result if it took effect, else None."""

    def device(self, payload: ActionPayloadT) -> Hashable:
        """Rows with the same device never run concurrently and keep their input order."""
