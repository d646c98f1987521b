"""The end-of-run table off a terminal is written without rich, and is byte for byte what rich writes there."""

from __future__ import annotations

import io
import sys
from datetime import datetime, tzinfo
from pathlib import Path

import pytest
from rich.console import Console

from runner.batches.results import BatchResult
from runner.outputs.report import Summary
from runner.outputs.summary_table import plain_is_identical, print_summary, summary_rows


class _Stream(io.StringIO):
    """A pipe-like text stream: not a terminal, UTF-8 unless told otherwise."""

    def __init__(self, encoding: str = "utf-8", tty: bool = False) -> None:
        super().__init__()
        self._encoding, self._tty = encoding, tty

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding

    def isatty(self) -> bool:
        return self._tty


def _result(summary: Summary, *, failed: bool = True, html: bool = True, folder: str = "/srv/out/n") -> BatchResult:
    out = Path(folder)
    return BatchResult(summary, out, out / "report.csv", out / "failed.csv" if failed else None,
                       out / "summary.json", out / "report.html" if html else None)


CASES = {
    "validate": _result(Summary(total=5, valid=5), failed=False, html=False),
    "run with failures and warnings": _result(Summary(
        total=1000, success=370, failed=558, invalid=62, duplicate=6, not_attempted=4, requests=1012, retries=12,
        duration_s=202.46, rate_achieved=4.987, by_code={"5360": 372, "9999": 185, "transport": 1},
        warnings=["device p1/00042 is shared with 3 recipients under cover mark 1", "rows 118, 203: expiry soon"])),
    "stopped": _result(Summary(total=3, not_attempted=3, stopped="token rejected and the refresh failed")),
    "revoke": _result(Summary(total=2, revoked=1, already_ended=1), failed=False),
    "in doubt": _result(Summary(total=2, success=1, unknown=1)),
    "text that looks like markup": _result(
        Summary(total=1, failed=1, by_code={"transport": 1}, stopped="stopped [bold]now[/bold]\x1b[2J",
                warnings=["pk [red]p1[/red] :smile: shared twice", "file name with a\nnewline"]),
        folder="/srv/[nightly]/:thumbs_up:"),
}


def _by_rich(result: BatchResult, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    stdout, stderr = _Stream(), _Stream()
    monkeypatch.setattr(sys, "stderr", stderr)
    print_summary(result, Console(file=stdout, highlight=False, soft_wrap=True))
    return stdout.getvalue(), stderr.getvalue()


def _plain(result: BatchResult, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    stdout, stderr = _Stream(), _Stream()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    print_summary(result)
    return stdout.getvalue(), stderr.getvalue()


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _FrozenDatetime:
        return cls(2026, 12, 4, 2, 0, 0, tzinfo=tz)


@pytest.mark.parametrize("case", list(CASES))
def test_off_a_terminal_the_table_is_what_rich_writes(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    result = CASES[case]
    # both renderings stamp the summary line with the time: one frozen second, so a tick between them is no diff
    monkeypatch.setattr("runner.outputs.summary_table.datetime", _FrozenDatetime)
    assert plain_is_identical(summary_rows(result), [], _Stream(), {})
    expected = _by_rich(result, monkeypatch)
    assert _plain(result, monkeypatch) == expected
    assert "┌" in expected[0]


def test_markup_and_control_characters_are_printed_as_text() -> None:
    stdout, stderr = _Stream(), _Stream()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", stdout)
        patch.setattr(sys, "stderr", stderr)
        print_summary(CASES["text that looks like markup"])
    assert "warning: pk [red]p1[/red] :smile: shared twice" in stdout.getvalue()
    assert "file name with a\\nnewline" in stdout.getvalue()
    assert "report:  /srv/[nightly]/:thumbs_up:/report.csv" in stdout.getvalue()
    assert stderr.getvalue() == "stopped early: stopped [bold]now[/bold]\\x1b[2J\n"


def test_what_rich_would_lay_out_differently_or_a_terminal_goes_through_rich() -> None:
    rows = summary_rows(CASES["validate"])
    assert not plain_is_identical(rows, ["warning: dk 设备"], _Stream(), {})  # wide characters
    assert not plain_is_identical([("x" * 90, "1")], [], _Stream(), {})  # rich would wrap it
    assert not plain_is_identical(rows, [], _Stream(tty=True), {})
    assert not plain_is_identical(rows, [], _Stream(encoding="ascii"), {})  # rich draws an ASCII box
    assert not plain_is_identical(rows, [], _Stream(), {"FORCE_COLOR": "1"})
    assert not plain_is_identical(rows, [], _Stream(), {"COLUMNS": "40"})
