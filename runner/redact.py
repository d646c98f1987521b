"""A wrapper that keeps credentials out of logs, reports, reprs and tracebacks."""

from __future__ import annotations

import re
from typing import Final

_MASK: Final = "***"
# Anything that looks like a bearer token or a JWT: three base64url parts separated by dots.
_TOKEN_SHAPED = re.compile(r"(Bearer\s+)?[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


class Secret:
    """Holds a credential; `str()` and `repr()` show a mask, `reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK})"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact(text: str) -> str:
    """Mask anything token-shaped in a line of text (a last line of defence for log output)."""
    return _TOKEN_SHAPED.sub(_MASK, text)


_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
_PHONE = re.compile(r"(?<![\w.])\+?\d[\d\s\-]{5,}(\d{3})\b")


def mask_contacts(text: str) -> str:
    """Mask recipient emails and phone numbers in a log line: `a***@example.com`, `***456`."""
    return _PHONE.sub(r"***\1", _EMAIL.sub(r"\1***@\2", text))


def has_line_break(value: str) -> bool:
    """True when a credential holds CR, LF or another control character: it cannot go in a header."""
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in value)


def bearer_header(token: str) -> str:
    """The Authorization value for a token given with or without its `Bearer ` prefix."""
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return f"Bearer {token}"
