"""Plain data shared by the loader, the engine and the report writers.

Nothing here knows CSV, HTTP or SQLite: these are the values that travel between them.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from array import array
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any


class RowStatus(StrEnum):
    """The state of one input row; the value is stored verbatim in reports."""

    SUCCESS = "success"  #: the platform created the share
    FAILED = "failed"  #: the platform refused it, or retries ran out
    INVALID = "invalid"  #: the row failed validation and was never sent
    DUPLICATE = "duplicate"  #: repeats an earlier row's (pk, dk, recipient); never sent
    NOT_ATTEMPTED = "not_attempted"  #: the run stopped before the row was sent
    #: an attempt may have been applied and no look-up could settle it; never re-sent blindly
    UNKNOWN = "unknown"
    HIDDEN = "hidden"  #: hidden or filtered out in the sheet: not sent unless --include-hidden
    VALID = "valid"  #: `sharebatch validate` only: the row would be sent
    REVOKED = "revoked"  #: `sharebatch revoke`: the share was revoked
    ALREADY_ENDED = "already_ended"  #: `sharebatch revoke` / `extend`: the share had already ended (code 5142)
    EXTENDED = "extended"  #: `sharebatch extend`: the share's expiry was changed

    @classmethod
    def _missing_(cls, value: object) -> RowStatus | None:
        """Read the values older versions wrote (journals, reports) as today's status."""
        renamed = RENAMED_STATUS_VALUES.get(value) if isinstance(value, str) else None
        return None if renamed is None else cls(renamed)


#: status values older versions wrote -> today's value (`already_invalid` was renamed: it read like `invalid`)
RENAMED_STATUS_VALUES = {"already_invalid": "already_ended"}


@dataclass(frozen=True, slots=True)
class StatusRule:
    """Where one RowStatus stands; every status has exactly one row in STATUS_RULES."""

    done: bool  #: the request took effect: the journal never sends the row again
    needs_doing: bool  #: the row goes to the failed-rows file, to be fixed or run again
    fails_the_run: bool  #: a row ending so makes `run` exit 1 (Summary counts it in the field named as the value)


#: the one table the journal's DONE_STATES, the failed-rows file's NEEDS_DOING and the exit code derive from
STATUS_RULES: dict[RowStatus, StatusRule] = {
    RowStatus.SUCCESS: StatusRule(done=True, needs_doing=False, fails_the_run=False),
    RowStatus.FAILED: StatusRule(done=False, needs_doing=True, fails_the_run=True),
    RowStatus.INVALID: StatusRule(done=False, needs_doing=True, fails_the_run=True),
    RowStatus.DUPLICATE: StatusRule(done=False, needs_doing=False, fails_the_run=False),
    RowStatus.NOT_ATTEMPTED: StatusRule(done=False, needs_doing=True, fails_the_run=True),
    RowStatus.UNKNOWN: StatusRule(done=False, needs_doing=True, fails_the_run=True),
    RowStatus.HIDDEN: StatusRule(done=False, needs_doing=False, fails_the_run=False),
    RowStatus.VALID: StatusRule(done=False, needs_doing=False, fails_the_run=False),
    RowStatus.REVOKED: StatusRule(done=True, needs_doing=False, fails_the_run=False),
    RowStatus.ALREADY_ENDED: StatusRule(done=True, needs_doing=False, fails_the_run=False),
    RowStatus.EXTENDED: StatusRule(done=True, needs_doing=False, fails_the_run=False),
}
if set(STATUS_RULES) != set(RowStatus):  # a new status without its row would be re-sent or lost silently
    raise TypeError(f"STATUS_RULES must place every RowStatus; missing: {set(RowStatus) - set(STATUS_RULES)}")


def statuses_where(**wanted: bool) -> tuple[RowStatus, ...]:
    """The statuses whose rule has every given field as given, in RowStatus order."""
    return tuple(status for status in RowStatus
                 if all(getattr(STATUS_RULES[status], name) is value for name, value in wanted.items()))


class RecipientKind(StrEnum):
    """Which of the platform's three recipient parameters a row uses."""

    UID = "uid"
    EMAIL = "email"
    PHONE = "phone"


_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def normalise_phone(text: str) -> str:
    """Drop spaces, dashes, dots and parentheses; keep a leading `+`: `+86 138-0013` -> `+861380013`.

    Full-width digits (typed with an East Asian input method) become ASCII ones.
    """
    return unicodedata.normalize("NFKC", _PHONE_SEPARATORS.sub("", text))


#: the platform's coverMark values: 1 replaces the device's shares, 2 adds one alongside, 3 replaces
#: them only if the new share is used for longer (docs/platform-api.md §4.1)
COVER_MARKS = (1, 2, 3)


def iso_utc(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC to the second (`2027-03-31T12:00:00Z`), as messages and reports show them."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expiry_text(expire_at_ms: int | None) -> str:
    """A share's expiry as reports show it: ISO 8601 UTC, or `permanent` for none."""
    return "permanent" if expire_at_ms is None else iso_utc(expire_at_ms)


@dataclass(frozen=True, slots=True)
class Wire:
    """How one ShareRequest field is sent and remembered: the single declaration every form derives from."""

    param: str | None  #: its shareByUid query parameter; None: not sent as itself (recipient_kind)
    #: the job setting that gives the field its default: it shapes the requests, so it names the batch
    setting: str | None = None
    #: named by its recipient kind (uid / email / phone), not by a fixed parameter
    by_kind: bool = False
    #: a field added after journals existed: at its default it adds nothing to the journal form or the
    #: fingerprint, so a batch journaled before resumes as the same requests (never re-sent)
    added_later: bool = False


def _wire(param: str | None, **more: Any) -> dict[str, Wire]:
    return {"wire": Wire(param, **more)}


def _text(value: object) -> str:
    """A field's value in the fingerprint and the query string."""
    if value is None:
        return ""
    return value.value if isinstance(value, Enum) else str(value)


@dataclass(frozen=True, slots=True)
class ShareRequest:
    """One `shareByUid` call, fully resolved: what is sent is exactly this.

    Its identity (journal form, fingerprint, query parameters, the job settings that name the
    batch) derives from the fields and their `Wire` metadata; a new field declares it there once.
    """

    pk: str = field(metadata=_wire("pk"))
    dk: str = field(metadata=_wire("dk"))
    recipient_kind: RecipientKind = field(metadata=_wire(None))
    #: normalised: phone separators removed, email as written
    recipient: str = field(metadata=_wire(None, by_kind=True))
    #: None: a permanent share (parameter omitted)
    expire_at_ms: int | None = field(metadata=_wire("sharingExpireAt", setting="expiry"))
    cover_mark: int = field(default=1, metadata=_wire("coverMark", setting="cover_mark"))
    auth_key: str | None = field(default=None, metadata=_wire("authKey"))
    #: the job's name of the owner account that sends it (the input's account column); None: the default
    #: credentials. It picks the token, so it is never a query parameter.
    account: str | None = field(default=None, metadata=_wire(None, added_later=True))

    @property
    def device(self) -> tuple[str, str]:
        return (self.pk, self.dk)

    def _identity(self) -> list[tuple[_Slot, Any]]:
        """(field, value) of every field in declared order, less trailing later-added fields at their default."""
        pairs = [(slot, getattr(self, slot.name)) for slot in _layout(type(self))]
        while pairs and pairs[-1][0].wire.added_later and pairs[-1][1] == pairs[-1][0].default:
            pairs.pop()
        return pairs

    def to_json(self) -> str:
        """The journal form: the identity's values in declared order (positional, as journals always were)."""
        return json.dumps([value.value if isinstance(value, Enum) else value for _, value in self._identity()])

    @classmethod
    def from_json(cls, text: str) -> ShareRequest:
        """Read `to_json`'s form back, including journals written before a later field was added."""
        values = json.loads(text)
        kwargs: dict[str, Any] = {slot.name: value if value is None or slot.enum is None else slot.enum(value)
                  for slot, value in zip(_layout(cls), values, strict=False)}
        return cls(**kwargs)

    def fingerprint(self) -> str:
        """A stable digest of everything that makes the request what it is (used by the journal)."""
        return hashlib.sha256("\x1f".join(_text(value) for _, value in self._identity()).encode()).hexdigest()[:32]

    def query_params(self, recipient_params: Mapping[RecipientKind, str]) -> dict[str, str]:
        """The shareByUid query string in the platform's names; empty values are omitted."""
        params: dict[str, str] = {}
        for slot in _layout(type(self)):
            value = getattr(self, slot.name)
            name = recipient_params[self.recipient_kind] if slot.wire.by_kind else slot.wire.param
            if name is not None and value is not None and value != "":
                params[name] = _text(value)
        return params


@dataclass(frozen=True, slots=True)
class _Slot:
    """A ShareRequest field as its identity uses it: read from `fields()` once per class, not per row."""

    name: str
    wire: Wire
    default: Any
    enum: type[Enum] | None  # the enum a journaled value is read back into


_LAYOUTS: dict[type[ShareRequest], tuple[_Slot, ...]] = {}


def _layout(request_type: type[ShareRequest]) -> tuple[_Slot, ...]:
    layout = _LAYOUTS.get(request_type)
    if layout is None:
        layout = _LAYOUTS[request_type] = tuple(
            _Slot(f.name, _wire_of(f), f.default, RecipientKind if f.type in (RecipientKind, "RecipientKind") else None)
            for f in fields(request_type))
    return layout


def _wire_of(declared: Field[Any]) -> Wire:
    wire = declared.metadata.get("wire")
    if not isinstance(wire, Wire):
        raise TypeError(f"ShareRequest.{declared.name} declares no Wire metadata")
    return wire


def request_settings(request_type: type[ShareRequest] = ShareRequest) -> list[str]:
    """The job settings that give request fields their defaults: part of the batch's name."""
    return [wire.setting for f in fields(request_type) if (wire := _wire_of(f)).setting is not None]


@dataclass(frozen=True, slots=True)
class DeviceShare:
    """One entry of a device's share list, reduced to what reconciliation, plan and track compare."""

    share_code: str
    share_uid: str
    email: str
    phone: str
    valid: bool  # shareStatus 1 and not past its expiry
    created_ms: int
    expire_at_ms: int | None
    accepted_ms: int | None = None  # acceptTimeTs: when the recipient accepted, None while pending
    ended_ms: int | None = None  # deleteTimeTs: when it was revoked or replaced
    expired: bool = False  # past its sharingExpireAtTs when it was listed

    @property
    def state(self) -> str:
        """accepted | pending | ended, from the times rather than `shareStatus` alone.

        The docs do not say which `shareStatus` a fresh, not yet accepted invite is listed with
        (docs/platform-api.md §6.13), so a share that is neither expired, deleted nor accepted counts as
        a pending invite whatever its status; an accepted one counts while its status is 1.
        """
        if self.expired or self.ended_ms is not None:
            return "ended"
        if self.accepted_ms is not None:
            return "accepted" if self.valid else "ended"
        return "pending"

    @property
    def open(self) -> bool:
        """Still giving (or offering) the recipient the device: what a cover mark 1 share would end."""
        return self.state != "ended"

    @property
    def recipient_name(self) -> str:
        """How a person recognises the recipient: the email or phone when listed, else the user id."""
        return self.email or self.phone or self.share_uid


def same_recipient(share: DeviceShare, payload: ShareRequest) -> bool:
    """Whether a listed share went to the recipient `payload` names (emails by case, phones as normalised)."""
    if payload.recipient_kind is RecipientKind.UID:
        return share.share_uid == payload.recipient
    if payload.recipient_kind is RecipientKind.EMAIL:
        return share.email.casefold() == payload.recipient.casefold()
    return normalise_phone(share.phone) == normalise_phone(payload.recipient)


@dataclass(frozen=True, slots=True)
class FileDialect:
    """How the input file was written, so the failed-rows file can be written the same way and the
    same job reads it back unchanged (a German Excel's `;` and cp1252, a sheet named `Shares`)."""

    format: str  # "csv", "xlsx", "xls" or "ods"
    delimiter: str = ","
    encoding: str = "utf-8"  # a Python codec name
    bom: bool = False  # a UTF-8 byte order mark at the start
    line_ending: str = "\r\n"
    sheet: str | None = None  # the sheet read, for a spreadsheet


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row is invalid; `column` is the canonical column name, or None for the whole row."""

    message: str
    column: str | None = None


@dataclass(slots=True)
class LoadedRow:
    """One data row of the input, validated.

    Exactly one of these holds: `request` is set (the row can be sent), `problem` is set
    (invalid), `duplicate_of` is set (the row number of the earlier identical row), or `hidden`
    says why the person does not see the row in the sheet (not sent).
    """

    row: int  # the row number a spreadsheet shows: header is 1, first data row is 2
    cells: list[str]  # original cells, in header order, as read (formula guard removed)
    request: ShareRequest | None = None
    problem: RowProblem | None = None
    duplicate_of: int | None = None
    #: from the failed-rows file of an earlier batch: an attempt then may have been applied
    in_doubt_since_ms: int | None = None
    hidden: str | None = None  # "hidden" or "filtered out"
    note: str = ""  # a remark on a valid row, e.g. a phone read from a number cell

    @property
    def status(self) -> RowStatus:
        if self.hidden is not None:
            return RowStatus.HIDDEN
        if self.problem is not None:
            return RowStatus.INVALID
        if self.duplicate_of is not None:
            return RowStatus.DUPLICATE
        return RowStatus.VALID


@dataclass(slots=True)
class RowOutcome:
    """What happened to one row; one line of report.csv beside the original cells."""

    row: int
    status: RowStatus
    code: int | None = None  # the platform's body code (200 on success)
    message: str = ""
    share_code: str | None = None
    attempts: int = 0  # shareByUid requests sent for this row
    http_status: int | None = None
    latency_ms: int | None = None  # of the last attempt
    finished_at: str | None = None  # UTC ISO 8601
    #: an attempt that started at this time may have been applied: whatever the status, the row is
    #: looked up in the device's share list (from this time on) before it is ever sent again
    in_doubt_since_ms: int | None = None
    #: what a share row asked for (the report's expiry_sent and recipient_kind): ISO 8601 UTC or
    #: "permanent", and uid / email / phone; empty for rows that are not share requests
    expiry_sent: str = ""
    recipient_kind: str = ""


@dataclass(slots=True)
class RunStats:
    """Counters the engine keeps while it runs; the summary is built from them."""

    requests: int = 0  # every HTTP request sent, share-list look-ups included
    retries: int = 0
    by_code: dict[str, int] = field(default_factory=dict)  # failed rows per final platform code
    #: every send time (monotonic, 8 bytes each): rate_achieved and the request-rate chart
    send_times: array[float] = field(default_factory=lambda: array("d"))

    def count_request(self, now: float) -> None:
        self.requests += 1
        self.send_times.append(now)
