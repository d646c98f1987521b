"""One row's cells into a LoadedRow: a request to send, a problem to report, or a duplicate.

The checks `open_input` runs on every row (identifiers, recipient, expiry, cover mark, cells a
spreadsheet formula broke), and the file-wide warnings they gather on the way.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from runner.errors import ExpiryError, RecipientError, UsageError
from runner.input.accounts import account_of
from runner.input.cellrules import ID_COLUMNS, line_break_problem, number_cell, plain, unwrap_recipient
from runner.input.columns import normalise_header
from runner.input.compactmap import CompactMap
from runner.input.expiry import ExpiryParser, load_timezone
from runner.input.recipients import (
    Recipient,
    invisible_message,
    kind_from_header,
    looks_mangled_number,
    mangled_number_message,
    parse_kind,
    parse_recipient,
    strip_invisible,
)
from runner.input.workbook import SheetRow
from runner.models import COVER_MARKS, LoadedRow, RecipientKind, RowProblem, ShareRequest
from runner.shares.model import CoverEffect, cover_effect

if TYPE_CHECKING:
    from runner.input.rows import InputOptions

#: what a cell shows when its formula failed: Excel's error values and LibreOffice's `Err:502` form
EXCEL_ERRORS = frozenset({"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
                          "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#CONNECT!", "#BUSY!"})
_PHONES_FROM_NUMBERS_SHOWN = 10
_COVER_MARKS = {str(mark): mark for mark in COVER_MARKS}


def _compact_key(*parts: str) -> int:
    """A 64-bit stand-in for a tuple of strings, so remembered rows do not keep their strings alive.

    Python's own hash is salted per process, which is fine: keys are only compared within one pass,
    and a collision (odds about n^2 / 2^65) is far below any other source of error.
    """
    return hash(parts)


def _optional_cell(cells: list[str], index: int | None) -> str:
    return "" if index is None else cells[index].strip()


class _DeviceTracker:
    """Spots devices where a later row ends an earlier row's share, as `sharebatch plan` says it will.

    The rule is `runner.shares.model.cover_effect`, the one plan, --skip-existing and the report
    notes use. It is fed only unique valid rows, so every row of a device is another recipient and
    the state per device is just its open expiries. A device seen once costs a few flat-array slots
    (the first row's expiry, split in two 32-bit halves); only devices seen again get a list.
    """

    def __init__(self) -> None:
        # the first row's expiry + 1 (0: permanent), in two 32-bit halves (a CompactMap value is 32 bits)
        self._expiry_high = CompactMap()
        self._expiry_low = CompactMap()
        self._open: dict[int, list[int | None]] = {}  # devices seen more than once: open expiries
        self.flagged: list[tuple[str, str]] = []  # every one of them, named in the warning
        self.flagged_count = 0
        self._flagged_keys: set[int] = set()

    def add(self, request: ShareRequest) -> None:
        key = _compact_key(request.pk, request.dk)
        expiry = request.expire_at_ms
        encoded = 0 if expiry is None else expiry + 1
        known = len(self._expiry_high)
        high = self._expiry_high.setdefault(key, encoded >> 32)
        if len(self._expiry_high) != known:
            self._expiry_low.setdefault(key, encoded & 0xFFFFFFFF)
            return  # the device's first share: nothing to compare with yet
        held = self._open.get(key)
        if held is None:
            encoded = (high << 32) | self._expiry_low.get(key)
            held = self._open[key] = [None if encoded == 0 else encoded - 1]
        effect = cover_effect(request.cover_mark, expiry, held)
        if effect is CoverEffect.ADDS:
            held.append(expiry)
        elif effect is CoverEffect.ENDS_ALL:
            if held and key not in self._flagged_keys:
                self._flagged_keys.add(key)
                self.flagged_count += 1
                self.flagged.append((request.pk, request.dk))
            held[:] = [expiry]

    def warning(self) -> str | None:
        if not self.flagged_count:
            return None
        names = ", ".join(f"{pk}/{dk}" for pk, dk in self.flagged)
        devices = "device is" if self.flagged_count == 1 else "devices are"
        return (
            f"{self.flagged_count} {devices} shared with several recipients where a later row's cover mark "
            f"(1, or 3 with a later expiry) ends the earlier recipients' shares, as `sharebatch plan` shows "
            f"(use cover_mark 2 to keep them all): {names}"
        )


class RowValidator:
    """Turns one row's cells into a LoadedRow: a request, a problem, or a duplicate's back-reference.

    This runs once per row of files with a million rows, so column positions are resolved up front.
    """

    def __init__(self, options: InputOptions, headers: list[str], columns: dict[str, int]) -> None:
        self._width = len(headers)
        self._pk_at, self._dk_at = columns["pk"], columns["dk"]
        self._recipient_at = columns["recipient"]
        self._type_at = columns.get("recipient_type")
        self._expiry_at = columns.get("expiry")
        self._cover_mark_at = columns.get("cover_mark")
        self._auth_key_at = columns.get("auth_key")
        self._doubt_at = columns.get("in_doubt_since")
        self._account_at = columns.get("account")
        self._accounts = options.accounts
        recipient_header = headers[self._recipient_at].strip()
        self._recipient_hint = kind_from_header(normalise_header(recipient_header))
        self._hint_reason = f'the column is "{recipient_header}"' if self._recipient_hint else ""
        self._default_cover_mark = options.default_cover_mark
        try:
            self._expiry = ExpiryParser(load_timezone(options.timezone), options.anchor_ms)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        self._default_expiry_ms = self._parse_default_expiry(options.default_expiry)
        self._first_row = CompactMap()  # key of (pk, dk, recipient) -> the row it first appeared on
        self._devices = _DeviceTracker()
        self._include_hidden = options.include_hidden
        self._mapped = list(columns.items())
        self._phones_from_numbers: list[int] = []
        self._phones_from_numbers_count = 0

    def warnings(self) -> list[str]:
        found = [self._devices.warning(), self._phone_warning()]
        return [warning for warning in found if warning]

    def validate(
        self, row: int, cells: list[str], problem: str | None = None, facts: SheetRow | None = None,
        *, suspect: bool = True,
    ) -> LoadedRow:
        """`suspect`: the row may hold an error value or a cell problem (False skips that look)."""
        if problem is not None:
            return LoadedRow(row, cells, problem=RowProblem(problem))
        if facts is not None and facts.hidden is not None and not self._include_hidden:
            return LoadedRow(row, cells, hidden=facts.hidden)
        if len(cells) != self._width:
            message = f"row has {len(cells)} cells, header has {self._width}"
            return LoadedRow(row, cells, problem=RowProblem(message))
        problems = self._cell_problems(cells, facts) if suspect else []
        if problems:  # the cell does not hold what it shows: nothing read from it can be trusted
            return LoadedRow(row, cells, problem=RowProblem("; ".join(text for _, text in problems), problems[0][0]))
        notes: list[str] = []
        values = self._id_values(cells, facts, problems, notes)
        pk = _identifier(values[0], "pk", problems)
        dk = _identifier(values[1], "dk", problems)
        recipient = self._recipient(cells, values[2], problems, notes)
        expire_at_ms = self._expiry_ms(plain(_optional_cell(cells, self._expiry_at)), problems)
        cover_mark = self._cover_mark(plain(_optional_cell(cells, self._cover_mark_at)), problems)
        account, account_problem = account_of(plain(_optional_cell(cells, self._account_at)), self._accounts)
        if account_problem is not None:
            problems.append(("account", account_problem))
        if problems or recipient is None:
            message = "; ".join(text for _, text in problems)
            return LoadedRow(row, cells, problem=RowProblem(message, problems[0][0]))
        in_doubt_since_ms = _doubt_since(_optional_cell(cells, self._doubt_at), problems)
        if problems:
            return LoadedRow(row, cells, problem=RowProblem(problems[0][1], problems[0][0]))
        auth_key = _optional_cell(cells, self._auth_key_at) or None
        request = ShareRequest(pk, dk, recipient.kind, recipient.value, expire_at_ms, cover_mark, auth_key, account)
        first = self._first_row.setdefault(_compact_key(pk, dk, recipient.key), row)
        if first != row:
            return LoadedRow(row, cells, duplicate_of=first)
        self._devices.add(request)
        if facts is not None and recipient.kind is RecipientKind.PHONE and self._recipient_at in facts.numbers:
            notes.append(self._phone_from_number(row))
        return LoadedRow(row, cells, request=request, in_doubt_since_ms=in_doubt_since_ms, note="; ".join(notes))

    def _id_values(self, cells: list[str], facts: SheetRow | None, problems: list[tuple[str, str]],
                   notes: list[str]) -> list[str]:
        """pk, dk and recipient as they are sent: no line break, no number format's decoration."""
        values = [cells[self._pk_at], cells[self._dk_at], cells[self._recipient_at]]
        numbers = facts.numbers if facts is not None else None
        joined = "".join(values)
        if not numbers and "\n" not in joined and "\r" not in joined:
            return values  # the usual row: nothing to look at (a million rows pass here)
        for slot, (name, index) in enumerate(zip(ID_COLUMNS, (self._pk_at, self._dk_at, self._recipient_at),
                                                 strict=True)):
            text = values[slot]
            if "\n" in text or "\r" in text:
                broken = line_break_problem(name, text)
                if broken is not None:
                    problems.append((name, broken))
            elif numbers and index in numbers:
                values[slot], note, problem = number_cell(name, text, numbers[index])
                if note is not None:
                    notes.append(note)
                if problem is not None:
                    problems.append((name, problem))
        return values

    def _cell_problems(self, cells: list[str], facts: SheetRow | None) -> list[tuple[str, str]]:
        """Error values (`#N/A`), unsaved formulas and lost digits in the columns that are used."""
        problems: list[tuple[str, str]] = []
        for name, index in self._mapped:
            text = cells[index]
            if (text[:1] == "#" and text.strip() in EXCEL_ERRORS) or (text.startswith("Err:") and text[4:].isdigit()):
                problems.append((name, f"{name} is the spreadsheet error {text.strip()}: fix the formula or lookup "
                                       "that produced it, or type the value"))
            elif facts is not None and facts.problems and index in facts.problems:
                problems.append((name, f"{name}: {facts.problems[index]}"))
        return problems

    def _phone_from_number(self, row: int) -> str:
        self._phones_from_numbers_count += 1
        if len(self._phones_from_numbers) < _PHONES_FROM_NUMBERS_SHOWN:
            self._phones_from_numbers.append(row)
        return ("the phone number was read from a number cell, where a leading 0 or + cannot survive: check it, "
                "and store the column as text")

    def _phone_warning(self) -> str | None:
        count = self._phones_from_numbers_count
        if not count:
            return None
        rows = ", ".join(map(str, self._phones_from_numbers)) + (" and more" if count > len(self._phones_from_numbers)
                                                                else "")
        return (f"{count} phone number{'s were' if count > 1 else ' was'} read from number cells (rows {rows}), where "
                "a leading 0 or + cannot survive: check them, and store the column as text")

    def _recipient(self, cells: list[str], value: str, problems: list[tuple[str, str]],
                   notes: list[str]) -> Recipient | None:
        if problems and problems[-1][0] == "recipient":
            return None  # a line break or a decorated number: said already
        kind, because = self._recipient_hint, self._hint_reason
        declared = _optional_cell(cells, self._type_at)
        if declared:
            try:
                kind = parse_kind(declared)
            except RecipientError as exc:
                problems.append(("recipient_type", str(exc)))
                return None
            because = f"recipient_type is {declared.lower()}"
        value, unwrapped = unwrap_recipient(value) if value[:1] in "m<'M" else (value, None)
        try:
            recipient = parse_recipient(value, kind, because)
        except RecipientError as exc:
            problems.append(("recipient", str(exc)))
            return None
        if unwrapped is not None:
            notes.append(unwrapped)
        return recipient

    def _expiry_ms(self, text: str, problems: list[tuple[str, str]]) -> int | None:
        if not text:
            return self._default_expiry_ms
        try:
            return self._expiry.parse(text)
        except ExpiryError as exc:
            problems.append(("expiry", str(exc)))
            return None

    def _cover_mark(self, text: str, problems: list[tuple[str, str]]) -> int:
        if not text:
            return self._default_cover_mark
        cover_mark = _COVER_MARKS.get(text)
        if cover_mark is None:
            problems.append(("cover_mark", f'cover_mark "{text}" must be 1, 2 or 3'))
            return self._default_cover_mark
        return cover_mark

    def _parse_default_expiry(self, text: str | None) -> int | None:
        if not text:
            return None
        try:
            return self._expiry.parse(text)
        except ExpiryError as exc:
            raise UsageError(f"default expiry: {exc}") from None


def _identifier(cell: str, column: str, problems: list[tuple[str, str]]) -> str:
    """pk or dk: required, not a number a spreadsheet has mangled, no invisible character inside."""
    value = strip_invisible(cell) if not cell.isascii() else cell.strip()
    if not value:
        problems.append((column, f"{column} is empty"))
    elif looks_mangled_number(value):
        problems.append((column, mangled_number_message(column, value)))
    elif not value.isascii() and (hidden := invisible_message(column, value)) is not None:
        problems.append((column, hidden))
    return plain(value)


def _doubt_since(text: str, problems: list[tuple[str, str]]) -> int | None:
    """The `in_doubt_since` cell of a fed-back failed-rows file: ISO 8601 UTC as sharebatch wrote it."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        problems.append(("in_doubt_since", f"{text!r} is not a time as sharebatch writes it "
                         "(2026-01-31T23:59:59.000Z); leave the cell as the failed-rows file had it, or empty it "
                         "only if you know the share was not made"))
        return None
    return int(moment.timestamp() * 1000)
