"""Everything printed is inert (issue 13, case 2): outside text cannot drive the terminal or forge a line.

Input cells, file names and platform messages reach the summary table, the CLI's lines and the
logs; control characters there are shown escaped, and rich markup is printed as text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner, Result
from openpyxl import Workbook, load_workbook

from runner.cli import main

from ..conftest import CsvWriter
from ..hostile import envelope, serve

pytestmark = pytest.mark.integration

TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
LINK = "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b")


async def echoing_platform(request: web.Request) -> web.Response:
    """Shares every row except DK-BAD, which is refused with a message full of escapes."""
    if request.query.get("dk") == "DK-BAD":
        return envelope(5041, f"{CLEAR}no permission\x01 for {request.query.get('pk')}\x9b31m")
    return envelope(200, data="SC-1")


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, ["run", *args], env={"SHAREBATCH_TOKEN": "t0ken-for-tests"},
                              catch_exceptions=False)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_markup_and_escapes_from_the_input_and_platform_are_printed_inert(
    write_csv: CsvWriter, tmp_path: Path, log_format: str
):
    pk = f"[/oops]{TITLE}[bold]"
    source = write_csv("rows.csv", [["pk", "dk", "recipient"], [pk, "D1", "U1"], [pk, "D1", "U2"],
                                    [f"p{LINK}", "DK-BAD", "U3"]])
    with serve(echoing_platform) as base_url:
        result = run(["--input", str(source), "--base-url", base_url, "--out", str(tmp_path / "o"),
                      "--log-format", log_format, "--debug"])
    assert result.exit_code == 1, result.output  # one row refused; no MarkupError, no crash
    for char in RAW_CONTROLS:
        assert char not in result.output
    if log_format == "text":
        assert "[/oops]\\x1b]0;pwned\\x07[bold]/D1" in result.output  # the warning, as text
        assert "\\x1b[2Jno permission\\x01" in result.output  # the row_failed line (--debug)
    else:
        events = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
        failed = next(e for e in events if e["event"] == "row_failed")
        assert failed["error"].startswith("code 5041")
        assert "\\x1b[2J" in failed["error"]


def test_a_header_with_escapes_is_named_inert_in_the_error_line(write_csv: CsvWriter, tmp_path: Path):
    source = write_csv("rows.csv", [[f"pk{TITLE}", "dk", "recipient"], ["p1", "D1", "U1"]])
    result = run(["--input", str(source), "--base-url", "http://127.0.0.1:9", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    for char in RAW_CONTROLS:
        assert char not in result.output
    assert "\\x1b]0;pwned\\x07" in result.output


def test_a_file_name_with_a_newline_cannot_forge_a_line(tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    forged = inbox / "a\n2026-01-01T00:00:00 ERROR forged.csv"
    forged.write_text("pk,dk,recipient\np1,D1,U1\n", encoding="utf-8")
    with serve(echoing_platform) as base_url:
        result = run(["--input", str(inbox / "*.csv"), "--base-url", base_url, "--out", str(tmp_path / "o"),
                      "--debug"])
    assert not any(line.startswith("2026-01-01T00:00:00 ERROR forged") for line in result.output.splitlines())
    assert "a\\n2026-01-01T00:00:00 ERROR forged.csv" in result.output


def test_a_control_character_in_a_platform_message_does_not_break_failed_xlsx(tmp_path: Path):
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["pk", "dk", "recipient"])
    sheet.append(["p1", "DK-BAD", "U1"])
    sheet.append(["p1", "D2", "U2"])
    source = tmp_path / "rows.xlsx"
    book.save(source)
    with serve(echoing_platform) as base_url:
        args = ["--input", str(source), "--base-url", base_url, "--out", str(tmp_path / "o")]
        first = run(args)
        again = run(args)  # a resume writes the same failed.xlsx again
    assert first.exit_code == 1, first.output
    assert again.exit_code == 1, again.output
    failed = load_workbook(tmp_path / "o" / "failed.xlsx").active
    assert failed is not None
    rows = list(failed.iter_rows(values_only=True))
    assert rows[1][:2] == ("p1", "DK-BAD")
    assert "no permission\\x01" in str(rows[1][-1])
