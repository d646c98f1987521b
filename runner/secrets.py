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


def bearer_header(token: str) -> str:
    """The Authorization value for a token given with or without its `Bearer ` prefix."""
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return f"Bearer {token}"
