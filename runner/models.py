"""Plain data shared by the loader, the engine and the report writers.

Nothing here knows CSV, HTTP or SQLite: these are the values that travel between them.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


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
class ShareRequest:
    """One `shareByUid` call, fully resolved: what is sent is exactly this."""

    pk: str
    dk: str
    recipient_kind: RecipientKind
    recipient: str  # normalised: phone separators removed, email as written
    expire_at_ms: int | None  # None: a permanent share (parameter omitted)
    cover_mark: int = 1
    auth_key: str | None = None

    @property
    def device(self) -> tuple[str, str]:
        return (self.pk, self.dk)

    def to_json(self) -> str:
        return json.dumps([self.pk, self.dk, self.recipient_kind.value, self.recipient, self.expire_at_ms,
                           self.cover_mark, self.auth_key])

    @classmethod
    def from_json(cls, text: str) -> ShareRequest:
        pk, dk, kind, recipient, expire_at_ms, cover_mark, auth_key = json.loads(text)
        return cls(pk, dk, RecipientKind(kind), recipient, expire_at_ms, cover_mark, auth_key)

    def fingerprint(self) -> str:
        """A stable digest of everything that makes the request what it is (used by the journal)."""
        parts = [
            self.pk,
            self.dk,
            self.recipient_kind.value,
            self.recipient,
            "" if self.expire_at_ms is None else str(self.expire_at_ms),
            str(self.cover_mark),
            self.auth_key or "",
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


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
