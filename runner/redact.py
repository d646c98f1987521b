"""Credentials kept out of logs, reports, reprs and tracebacks: by wrapper, by value, by shape.

Every `Secret` registers its value when it is made, so `redact()` masks every token, refresh
token, password and domain secret the process has ever held, whatever its shape, and in the
forms it takes inside a URL, JSON or HTML. Token-shaped text and credentials in URLs are masked
too, for secrets the process never held (another run's, a log line's).
"""

from __future__ import annotations

import html
import json
import re
import threading
from typing import Final
from urllib.parse import quote

_MASK: Final = "***"
# Anything that looks like a bearer token or a JWT: three base64url parts separated by dots.
_TOKEN_SHAPED = re.compile(r"(Bearer\s+)?[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
# user:password@ (or a lone user@ holding a token) after a URL scheme
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@")
#: shorter values are not masked by value: "1" or "abc" would be masked everywhere
MIN_SECRET_LENGTH: Final = 6


class _Known:
    """Every secret value this process has held, as one pattern (rebuilt when one is added)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        forms = {value, value.strip()}
        stripped = value.strip()
        if stripped[:7].lower() == "bearer ":
            forms.add(stripped[7:].strip())
        for form in list(forms):
            forms |= {quote(form, safe=""), json.dumps(form)[1:-1], html.escape(form)}
        new = {form for form in forms if len(form) >= MIN_SECRET_LENGTH} - self._values
        if new:
            with self._lock:
                self._values |= new
                longest_first = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, longest_first)))

    def mask(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(_MASK, text) if pattern is not None else text


_KNOWN = _Known()


def register_secret(value: str) -> None:
    """Mask `value` wherever `redact()` is applied from now on (a `Secret` does this itself)."""
    _KNOWN.add(value)


class Secret:
    """Holds a credential; `str()` and `repr()` show a mask, `reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

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
    """Mask every known secret, anything token-shaped and URL credentials in `text`.

    Applied wherever text is written: logs, stderr, reports, summary, HTML, journal messages.
    """
    if len(text) < MIN_SECRET_LENGTH:  # shorter than anything masked (e.g. a success row's empty message)
        return text
    return _URL_CREDENTIALS.sub(rf"\1{_MASK}@", _TOKEN_SHAPED.sub(_MASK, _KNOWN.mask(text)))


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
