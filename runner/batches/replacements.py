"""Run's report notes: a row whose share ended an earlier row's share of the same device says so.

Under cover mark 1 (and 3 with a later expiry) each share of a device ends the one before, so
only the last recipient keeps access. The report pass replays the model of `runner.shares.model`
over the rows that succeeded and adds "replaces the share of row 41" to a row's message. Memory
stays flat: the first pass counts each device in a CompactMap (a few bytes a row), and only
devices seen more than once are modelled.
"""

from __future__ import annotations

from dataclasses import replace

from runner.input.compactmap import CompactMap
from runner.models import RowOutcome, RowStatus, ShareRequest
from runner.shares.model import IN_PLACE_MESSAGE, DeviceModel, replaced_note

_SEEN, _REPEATED = 1, 2


class RepeatedDevices:
    """Which devices more than one valid row shares: fed every valid request of the first pass."""

    def __init__(self) -> None:
        self._bits = CompactMap()

    def add(self, device: tuple[str, str]) -> None:
        if self._bits.add_bits(hash(device), _SEEN) & _SEEN:
            self._bits.add_bits(hash(device), _REPEATED)

    def __contains__(self, device: tuple[str, str]) -> bool:
        return bool(self._bits.get(hash(device)) & _REPEATED)


class ReplacementNotes:
    """Replays the batch's successful shares per repeated device, in row order."""

    def __init__(self, repeated: RepeatedDevices) -> None:
        self._repeated = repeated
        self._model = DeviceModel()

    def noted(self, request: ShareRequest | None, outcome: RowOutcome) -> RowOutcome:
        if request is None or outcome.status is not RowStatus.SUCCESS or request.device not in self._repeated:
            return outcome
        if outcome.message.startswith(IN_PLACE_MESSAGE):
            return outcome  # not sent (--skip-existing): it ended nothing
        planned = self._model.plan(outcome.row, request)
        if not planned.replaced_rows:
            return outcome
        note = replaced_note(planned.replaced_rows)
        return replace(outcome, message=f"{outcome.message}; {note}" if outcome.message else note)
