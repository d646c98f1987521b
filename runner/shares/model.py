"""What a batch will do to the shares a device already has: one action per row, in input order.

Pure logic over rows and device share lists (no I/O), used by `sharebatch plan`, by
`run --skip-existing` and by run's report notes ("replaces the share of row 41"). The model of
each device is its open shares (the platform's, then this batch's earlier rows), changed the way
the cover marks change them (docs/platform-api.md §4.1, §6.5; the simulator's `state.py`):

- 1 ends every open share of the device and adds the new one;
- 2 adds the new one beside them;
- 3 does what 1 does when the new expiry is later than every open share's (no expiry counts as
  infinitely late); otherwise the platform refuses the row and nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from runner.models import DeviceShare, ShareRequest, expiry_text, same_recipient

Device = tuple[str, str]
#: how a row that --skip-existing did not send because its share is in place starts its message
IN_PLACE_MESSAGE = "already in place"


class PlanAction(StrEnum):
    """What a row will do; the value is written verbatim to plan.csv."""

    CREATE = "create"  #: nothing like it exists: it will be shared
    IN_PLACE = "in_place"  #: a share to this recipient with this expiry exists: --skip-existing will not send it
    CHANGE_EXPIRY = "change_expiry"  #: a share to this recipient exists with another expiry
    REPLACES = "replaces"  #: ends other recipients' open shares of the device (cover mark 1 or 3)
    NO_PERMISSION = "no_permission"  #: the platform will not show this device's shares (5141)
    LOOKUP_FAILED = "lookup_failed"  #: the share list could not be read (the platform kept failing)
    INVALID = "invalid"  #: as validate says: never sent
    DUPLICATE = "duplicate"  #: as validate says: never sent


#: actions that need a person's eye before the batch is run: plan exits 1 when a row has one
NEEDS_A_LOOK = frozenset({PlanAction.CHANGE_EXPIRY, PlanAction.REPLACES, PlanAction.NO_PERMISSION,
                          PlanAction.LOOKUP_FAILED, PlanAction.INVALID})


class CoverEffect(StrEnum):
    """What a share call with a cover mark does to the device's open shares, when it is sent."""

    ADDS = "adds"  #: the new share joins the open ones (cover mark 2)
    ENDS_ALL = "ends_all"  #: every open share ends, the new one stays (1, or 3 with a later expiry)
    REFUSED = "refused"  #: the platform refuses the call and nothing changes (3 without a later expiry)


def cover_effect(cover_mark: int, expire_at_ms: int | None, open_expiries: Iterable[int | None]) -> CoverEffect:
    """The one statement of the cover-mark rule (docs/platform-api.md §4.1, §6.5); None is permanent."""
    if cover_mark == 2:
        return CoverEffect.ADDS
    if cover_mark == 3 and not all(_later(expire_at_ms, old) for old in open_expiries):
        return CoverEffect.REFUSED
    return CoverEffect.ENDS_ALL


@dataclass(frozen=True, slots=True)
class Planned:
    action: PlanAction
    detail: str = ""
    share_code: str | None = None  # in_place: the share that is already there
    replaced_rows: tuple[int, ...] = ()  # earlier rows of this batch whose shares this row ends
    refused: bool = False  # cover mark 3 without a later expiry: the platform will refuse the row


@dataclass(frozen=True, slots=True)
class _Held:
    """One open share in the model: from the platform's list, or from an earlier row of the batch."""

    expire_at_ms: int | None
    share: DeviceShare | None = None
    row: int | None = None
    request: ShareRequest | None = None

    def is_for(self, request: ShareRequest) -> bool:
        if self.share is not None:
            return same_recipient(self.share, request)
        mine = self.request
        return (mine is not None and mine.recipient_kind is request.recipient_kind
                and mine.recipient.casefold() == request.recipient.casefold())

    def describe(self) -> str:
        if self.share is not None:
            return f"{self.share.recipient_name} (share {self.share.share_code})"
        who = self.request.recipient if self.request is not None else "a recipient"
        return f"{who} (row {self.row})"


def _later(new_ms: int | None, old_ms: int | None) -> bool:
    """Cover mark 3's test; no expiry counts as infinitely late."""
    if old_ms is None:
        return False
    return new_ms is None or new_ms > old_ms


class DeviceModel:
    """The open shares of each device as the batch goes; `plan()` one row at a time, in input order."""

    def __init__(self, platform: Mapping[Device, Iterable[DeviceShare]] | None = None) -> None:
        self._held: dict[Device, list[_Held]] = {}
        for device, shares in (platform or {}).items():
            self._held[device] = [_Held(s.expire_at_ms, share=s) for s in shares if s.open]

    def open_shares(self, device: Device) -> list[tuple[str, int | None]]:
        """The device's open shares in the model as (recipient, expiry), oldest first."""
        return [(h.share.recipient_name if h.share is not None else h.request.recipient if h.request else "",
                 h.expire_at_ms) for h in self._held.get(device, [])]

    def plan(self, row: int, request: ShareRequest) -> Planned:
        """This row's action, and the model moved on as if the row were sent (an in_place row is not)."""
        held = self._held.setdefault(request.device, [])
        same = [h for h in held if h.is_for(request)]
        others = [h for h in held if not h.is_for(request)]
        exact = next((h for h in same if h.expire_at_ms == request.expire_at_ms), None)
        mark = request.cover_mark
        new = _Held(request.expire_at_ms, row=row, request=request)
        if exact is not None:
            code = exact.share.share_code if exact.share is not None else None
            detail = f"share {code}" if code else f"shared by row {exact.row}"
            if mark == 1 and others:
                detail += (f"; sending it again (run without --skip-existing) would end the shares of "
                           f"{_names(others)}")
            return Planned(PlanAction.IN_PLACE, detail, share_code=code)
        effect = cover_effect(mark, request.expire_at_ms, (h.expire_at_ms for h in held))
        if effect is CoverEffect.REFUSED:
            blocking = [h for h in held if not _later(request.expire_at_ms, h.expire_at_ms)]
            action = PlanAction.CHANGE_EXPIRY if same else PlanAction.CREATE
            return Planned(action, f"cover mark 3 and an open share has a later or no expiry ({_names(blocking)}): "
                           "the platform will refuse this row and keep what is there", refused=True)
        if effect is CoverEffect.ADDS:
            held.append(new)
            if same:
                return Planned(PlanAction.CHANGE_EXPIRY, f"{_expiries(same, request)}; cover mark 2 adds a second "
                               "share beside the first, which keeps its expiry")
            return Planned(PlanAction.CREATE)
        self._held[request.device] = [new]  # CoverEffect.ENDS_ALL: every open share ends
        if others:
            detail = f"ends the shares of {_names(others)}"
            if same:
                detail += f"; and changes this recipient's expiry: {_expiries(same, request)}"
            return Planned(PlanAction.REPLACES, detail,
                           replaced_rows=tuple(h.row for h in others if h.row is not None))
        if same:
            return Planned(PlanAction.CHANGE_EXPIRY, _expiries(same, request))
        return Planned(PlanAction.CREATE)


def _names(held: Iterable[_Held]) -> str:
    return ", ".join(h.describe() for h in held)


def _expiries(same: list[_Held], request: ShareRequest) -> str:
    olds = ", ".join(f"{expiry_text(h.expire_at_ms)} ({'share ' + h.share.share_code if h.share else f'row {h.row}'})"
                     for h in same)
    return f"expiry {olds} -> {expiry_text(request.expire_at_ms)}"


def replaced_note(rows: tuple[int, ...]) -> str:
    """The report message of a row whose share ends earlier rows' shares of the same device."""
    if len(rows) == 1:
        return f"replaces the share of row {rows[0]}"
    return "replaces the shares of rows " + ", ".join(str(row) for row in rows)
