"""escape_controls and xlsx_safe: outside text shown for what it holds, never acted on."""

from __future__ import annotations

import pytest

from runner.outputs.inert import escape_controls, xlsx_safe


@pytest.mark.parametrize(("given", "shown"), [
    ("\x1b[2J", "\\x1b[2J"),
    ("a\nb\r\tc", "a\\nb\\r\\tc"),
    ("\x9b31m", "\\x9b31m"),
    ("\x7f", "\\x7f"),
    ("abc\u202etxt.exe", "abc\\u202etxt.exe"),
    ("Zoë 東京 [b]", "Zoë 東京 [b]"),
])
def test_escape_controls_writes_controls_as_escapes_and_keeps_the_rest(given: str, shown: str) -> None:
    assert escape_controls(given) == shown


def test_xlsx_safe_escapes_only_what_the_format_forbids() -> None:
    assert xlsx_safe("a\x01b\tc\nd\x1f") == "a\\x01b\tc\nd\\x1f"
