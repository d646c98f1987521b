"""Decide which recipient parameter a cell is for, and normalise it to what is sent.

The platform takes exactly one of `shareUid`, `email` or `phone`. A row may say which
(`recipient_type`), the column's own name may say (`email`, `phone`, `uid`), or the value decides:
an `@` means email, something that looks like a phone number is a phone, anything else a user id.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from runner.errors import RecipientError
from runner.models import RecipientKind, normalise_phone

_PHONE_SHAPE = re.compile(r"^\+?[\d\s\-().]{6,}$")
# What a spreadsheet shows after turning a long number into a float: 1.38001E+10, 1E+10. A bare
# `12e45` is left alone: ids in hex can look like that.
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+[eE][+-]?\d+|[eE][+-]\d+)$")  # `,`: a German Excel's CSV
_MIN_PHONE_DIGITS = 6
_PLAIN_PHONE = re.compile(r"^\+?[0-9]{6,}$")
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+$")
# Enum attribute look-ups are slow on a hot path run a million times.
_UID, _EMAIL, _PHONE = RecipientKind.UID, RecipientKind.EMAIL, RecipientKind.PHONE

#: header names (normalised) that say the column holds user ids
_UID_HEADERS = frozenset({"uid", "shareuid", "userid", "recipientuid", "recipientid", "用户id"})
_EMAIL_HEADER = re.compile(r"e?mail|邮箱|邮件")
_PHONE_HEADER = re.compile(r"phone|mobile|telephone|^tel$|手机|电话")


# Characters a person cannot see: zero-width ones and a BOM are never meant; the spaces that do not
# break are meant as spaces only inside a phone number.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
_HARD_SPACES = "\u00a0\u2007\u202f"
_INVISIBLE = re.compile(f"[{_ZERO_WIDTH}{_HARD_SPACES}]")
_ZERO_WIDTH_ONLY = re.compile(f"[{_ZERO_WIDTH}]")


def strip_invisible(text: str) -> str:
    """The cell without spaces and invisible characters at either end (pasted cells carry them)."""
    return text.strip().strip(_ZERO_WIDTH).strip()


def invisible_message(column: str, value: str, *, spaces_allowed: bool = False) -> str | None:
    """Why `value` cannot be sent when it hides an invisible character inside, else None."""
    found = (_ZERO_WIDTH_ONLY if spaces_allowed else _INVISIBLE).search(value)
    if found is None:
        return None
    char = found.group()
    name = unicodedata.name(char, "invisible character")
    shown = _INVISIBLE.sub(lambda hit: f"\\u{ord(hit.group()):04x}", value)
    return (f'{column} "{shown}" contains an invisible character (U+{ord(char):04X} {name}) at position '
            f"{found.start() + 1}; retype the value")


class Recipient(NamedTuple):
    """A recipient ready to send: the parameter it goes in and the normalised value."""

    kind: RecipientKind
    value: str

    @property
    def key(self) -> str:
        """The identity used to spot duplicates: emails compare case-insensitively."""
        if self.kind is _EMAIL:
            return "email:" + self.value.lower()
        return ("uid:" if self.kind is _UID else "phone:") + self.value


def looks_mangled_number(text: str) -> bool:
    """True for `1.38001E+10` and the like: a spreadsheet has turned an id into a float."""
    return ("E" in text or "e" in text) and _SCIENTIFIC.match(text) is not None


def mangled_number_message(column: str, text: str) -> str:
    return (
        f'{column} "{text}" is a number the spreadsheet turned into scientific notation; '
        f"format the column as text and enter the full value again"
    )


def kind_from_header(normalised_header: str) -> RecipientKind | None:
    """The kind a recipient column's name implies (`Customer E-mail` -> EMAIL), or None for `recipient`."""
    if normalised_header in _UID_HEADERS:
        return _UID
    if _EMAIL_HEADER.search(normalised_header):
        return _EMAIL
    if _PHONE_HEADER.search(normalised_header):
        return _PHONE
    return None


def parse_kind(text: str) -> RecipientKind:
    """A `recipient_type` cell: uid, email or phone, in any case."""
    try:
        return RecipientKind(text.strip().lower())
    except ValueError:
        raise RecipientError(f'recipient_type "{text}" is not one of uid, email, phone') from None


def detect_kind(text: str) -> RecipientKind:
    """Guess the kind from the value alone."""
    if "@" in text:
        return _EMAIL
    if _PHONE_SHAPE.match(text):
        return _PHONE
    return _UID


def parse_recipient(text: str, kind: RecipientKind | None = None, because: str = "") -> Recipient:
    """Validate and normalise one recipient cell.

    `kind` is the kind the row or the column's name asks for (None: guess from the value);
    `because` says where it came from, for messages (e.g. `recipient_type is email`).
    """
    plain = text.isascii()  # the usual cell: no invisible character can hide in it
    value = text.strip() if plain else strip_invisible(text)
    if not value:
        raise RecipientError("recipient is empty")
    if looks_mangled_number(value):
        raise RecipientError(mangled_number_message("recipient", value))
    why = f" ({because})" if because else ""
    if not plain and (hidden := invisible_message("recipient", value, spaces_allowed=True)) is not None:
        raise RecipientError(hidden)
    if not plain and _INVISIBLE.search(value) is None:  # (a hard space is judged below, as typed)
        value = unicodedata.normalize("NFKC", value)  # full-width ＠ and digits: their plain forms
    actual = kind or detect_kind(value)
    if not plain and actual is not _PHONE and (hidden := invisible_message("recipient", value)) is not None:
        raise RecipientError(hidden)
    if actual is _EMAIL:
        return Recipient(actual, _check_email(value, why))
    if actual is _PHONE:
        return Recipient(actual, _check_phone(value, why))
    if kind is _UID and "@" in value:
        # Sent as shareUid it would reach nobody (or the wrong account): the header and the value disagree.
        raise RecipientError(f'recipient "{value}" looks like an email address, not a user id{why}')
    return Recipient(actual, value)


def _check_email(value: str, why: str) -> str:
    """One `@` with something on both sides and no spaces: the platform checks the rest."""
    if "@" not in value:
        raise RecipientError(f'recipient "{value}" is not an email address{why}')
    if not _EMAIL_SHAPE.match(value):
        raise RecipientError(f'recipient "{value}" is not a valid email address{why}')
    return value


def _check_phone(value: str, why: str) -> str:
    if _PLAIN_PHONE.match(value):
        return value
    if not _PHONE_SHAPE.match(value):
        raise RecipientError(f'recipient "{value}" is not a phone number{why}')
    phone = normalise_phone(value)
    if sum(ch.isdigit() for ch in phone) < _MIN_PHONE_DIGITS:
        raise RecipientError(
            f'recipient "{value}" has too few digits for a phone number (at least {_MIN_PHONE_DIGITS})'
        )
    return phone
