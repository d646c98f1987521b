"""Text from files, file names and the platform, made inert before a terminal or a log sees it.

A pk holding `\\x1b]0;title\\x07`, an OSC 8 hyperlink or `\\x1b[2J` would act on the operator's
terminal, and a file name with a newline would forge a log line. Control characters (C0, DEL,
C1) and the bidirectional overrides that reorder what a reader sees are shown escaped instead,
the way Python writes them (`\\x1b`, `\\n`, `\\u202e`), so the text still says what it held.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` with every control or reordering character written as an escape; the rest unchanged."""
    return _UNSAFE.sub(_escape, text)


# Characters an XLSX cell cannot hold (XML 1.0 forbids them); openpyxl raises IllegalCharacterError.
_XLSX_FORBIDDEN = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]")


def xlsx_safe(text: str) -> str:
    """`text` with the characters XLSX forbids shown escaped, so a cell never breaks the file."""
    return _XLSX_FORBIDDEN.sub(_escape, text)
