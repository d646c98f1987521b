"""Spreadsheets as every tool writes them (issue 20), through the CLI: what the person sees in the
sheet, what the simulator receives, and the one line a file that cannot be read gets.

The fixtures come from tools/make_writer_fixtures.py: xlsxwriter, LibreOffice (.xlsx, .ods, .xls),
Strict Open XML, Open XML SDK prefixes, WPS- and Google-Sheets-style exports, Excel's CSVs from
several locales, and files that are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import ThreadedSimulator
from .test_spreadsheet_input import FIXTURES, report, run_cli, share, shares_sent

pytestmark = pytest.mark.integration


def validate(source: Path, out: Path, *extra: str) -> Result:
    return CliRunner().invoke(main, ["validate", "--input", str(source), "--out", str(out), *extra],
                              catch_exceptions=False)


def refusal(source: Path, out: Path, *extra: str) -> str:
    """The one line a file that cannot be read gets, and exit 2."""
    result = validate(source, out, *extra)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def warnings(out: Path) -> list[str]:
    return list(json.loads((out / "summary.json").read_text())["warnings"])


def test_an_xlsxwriter_workbook_is_shared_as_excel_shows_it(sim_thread: ThreadedSimulator, tmp_path: Path):
    result = run_cli(sim_thread, FIXTURES / "xlsxwriter.xlsx", tmp_path)
    assert result.exit_code == 1, result.output  # some rows are invalid on purpose
    assert shares_sent(sim_thread) == [
        share("00D000006", "email", "bob@example.com"),  # mailto: removed, with a note
        share("00D000007", "email", "carol@example.com"),  # <...> removed
        share("00D000009", "email", "dave@example.com"),  # _x000D_ decoded (a carriage return), then trimmed
        share("00D000010", "shareUid", "U0000010"),  # expiry in built-in format 31: a date, the end of its day
        share("00D000011", "shareUid", "U0000011"),  # full-width ００Ｄ００００１１
        share("860000000086001", "shareUid", "U0000003"),  # shown 860,000,000,086,001
        share("860000000086002", "shareUid", "U0000004"),  # shown ¥860,000,000,086,002.00
    ]  # never the hidden "Old batch" sheet's 00D000099, never dk=0
    rows = report(tmp_path)
    assert {number: rows[number]["status"] for number in ("2", "5", "8")} == dict.fromkeys(("2", "5", "8"), "invalid")
    assert "asks to be recalculated when opened" in rows["2"]["message"]
    assert "open and save the file in Excel or LibreOffice" in rows["2"]["message"]
    assert 'dk "8600.00%" is a number shown through its number format' in rows["5"]["message"]
    assert 'recipient "13800138000 | 13900139000" holds 2 lines' in rows["8"]["message"]
    assert rows["3"]["message"] == 'dk sent as 860000000086001: the sheet shows "860,000,000,086,001" through the ' \
                                   "cell's number format"
    assert rows["6"]["message"] == 'recipient sent as bob@example.com: the "mailto:" in front was removed'


def test_a_chart_sheet_named_is_refused_as_a_chart(tmp_path: Path):
    line = refusal(FIXTURES / "xlsxwriter.xlsx", tmp_path, "--sheet", "Overview")
    assert 'sheet "Overview" is a chart, not rows of cells' in line
    assert "(sheets: Old batch (hidden), Shares, Overview (chart))" in line


def test_a_hidden_sheet_is_read_only_when_named_and_the_summary_says_so(tmp_path: Path):
    result = validate(FIXTURES / "xlsxwriter.xlsx", tmp_path, "--sheet", "Old batch")
    assert result.exit_code == 0, result.output
    assert report(tmp_path / "validate")["2"]["dk"] == "00D000099"
    assert warnings(tmp_path / "validate") == [
        'sheet "Old batch" is hidden in the workbook; it was read because --sheet names it']


@pytest.mark.parametrize("name", ["lo_hidden_first.xlsx", "lo_hidden_first.ods", "lo_hidden_first.xls"])
def test_libreoffice_files_with_a_hidden_first_sheet_and_a_note(sim_thread: ThreadedSimulator, tmp_path: Path,
                                                                name: str):
    result = run_cli(sim_thread, FIXTURES / name, tmp_path)
    assert result.exit_code == 0, result.output
    # the visible sheet, and the dk without its note ("swap: replacement unit")
    assert shares_sent(sim_thread) == [share("00D000002", "shareUid", "U0000002"),
                                       share("860000000000001", "shareUid", "U0000001")]


def test_a_note_on_an_ods_cell_is_not_part_of_its_value(sim_thread: ThreadedSimulator, tmp_path: Path):
    """The sheet named, so only the note is at stake: the dk is 860000000000001, never the note's text."""
    result = run_cli(sim_thread, FIXTURES / "lo_hidden_first.ods", tmp_path, "--sheet", "Shares")
    assert result.exit_code == 0, result.output
    assert [params["dk"] for params in shares_sent(sim_thread)] == ["00D000002", "860000000000001"]
    assert report(tmp_path)["2"]["dk"] == "860000000000001"


def test_recipient_wrappers_and_full_width_forms_in_a_csv(sim_thread: ThreadedSimulator, tmp_path: Path):
    """The same rules as in a workbook: wrappers removed with a note, full-width forms plain, two lines invalid."""
    source = tmp_path / "wrapped.csv"
    source.write_text("pk,dk,recipient,expiry\n"
                      "p1test,00D000001,'13800138001,2027-12-31\n"
                      "p1test,00D000002,mailto:hal@example.com,2027-12-31\n"
                      "p1test,００Ｄ０００００３,ｉｖｙ＠example.com,２０２７-１２-３１\n"
                      'p1test,00D000004,"jo@example.com\nkim@example.com",2027-12-31\n', encoding="utf-8")
    result = run_cli(sim_thread, source, tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert shares_sent(sim_thread) == [share("00D000001", "phone", "13800138001"),
                                       share("00D000002", "email", "hal@example.com"),
                                       share("00D000003", "email", "ivy@example.com")]
    rows = report(tmp_path / "out")
    assert rows["2"]["message"] == ("recipient sent as 13800138001: the ' in front (a spreadsheet's text mark) "
                                    "was removed")
    assert 'recipient "jo@example.com | kim@example.com" holds 2 lines' in rows["5"]["message"]


@pytest.mark.parametrize("name", ["strict.xlsx", "sdk_prefixed.xlsx"])
def test_strict_and_prefixed_workbooks_are_read(sim_thread: ThreadedSimulator, tmp_path: Path, name: str):
    result = run_cli(sim_thread, FIXTURES / name, tmp_path)
    assert result.exit_code == 0, result.output
    assert shares_sent(sim_thread) == [share("00D000001", "shareUid", "U0000001"),
                                       share("00D000002", "email", "erin@example.com")]


def test_a_wps_style_export_with_chinese_headers_and_locale_dates(sim_thread: ThreadedSimulator, tmp_path: Path):
    """设备PK, 设备DK (with a zero-width space), 手机号, 到期时间; dates in built-in formats 31 and 57, and `t="d"`."""
    result = run_cli(sim_thread, FIXTURES / "wps_style.xlsx", tmp_path)
    assert result.exit_code == 0, result.output
    # every date-only cell is the end of its day, `2027-12-31T00:00:00.000Z` too
    assert shares_sent(sim_thread) == [share(f"00D00000{n}", "phone", f"1380013800{n}") for n in (2, 3, 4, 5)]


def test_a_two_row_header_suggests_the_header_row(sim_thread: ThreadedSimulator, tmp_path: Path):
    line = refusal(FIXTURES / "google_style.xlsx", tmp_path)
    assert "row 2 (pk, dk, email, expiry) looks like the header: pass --header-row 2" in line
    result = run_cli(sim_thread, FIXTURES / "google_style.xlsx", tmp_path / "run", "--header-row", "2")
    assert result.exit_code == 0, result.output
    assert shares_sent(sim_thread) == [share("00D000003", "email", "fay@example.com")]


@pytest.mark.parametrize(("name", "extra", "sent"), [
    ("excel_unicode_text.txt", (), [share("00D000001", "shareUid", "U0000001"),
                                    share("00D000002", "email", "gina@example.com")]),
    ("excel_de_semicolon.csv", ("--encoding", "cp1252"), [share("0860000000091301", "shareUid", "U0000001")]),
    ("excel_zh_gbk.csv", ("--encoding", "gbk"), [share("00D000001", "phone", "13800138001"),
                                                 share("00D000002", "phone", "13800138002")]),
    ("excel_mac_roman.csv", ("--encoding", "mac-roman"), [share("00D000001", "shareUid", "U0000001")]),
])
def test_excel_csvs_from_several_locales(sim_thread: ThreadedSimulator, tmp_path: Path, name: str,
                                         extra: tuple[str, ...], sent: list[dict[str, str]]):
    """UTF-16 tab (read by its BOM), `;` with `="..."` ids and a decimal comma, GBK with full-width digits,
    Mac Roman with CR line ends."""
    result = run_cli(sim_thread, FIXTURES / name, tmp_path, *extra)
    assert result.exit_code in (0, 1), result.output
    assert shares_sent(sim_thread) == sent
    if name == "excel_de_semicolon.csv":
        assert "scientific notation" in report(tmp_path)["3"]["message"]  # 8,6E+14
    if name == "excel_mac_roman.csv":
        assert report(tmp_path)["2"]["note"] == "Café Zürich"


@pytest.mark.parametrize(("name", "expected"), [
    ("encrypted.xlsx", "password-protected: save a copy without a password"),
    ("html_export.xls", "a web page (HTML table) saved with an .xls name"),
    ("spreadsheetml_2003.xls", "an Excel 2003 XML spreadsheet (SpreadsheetML), not a real .xls file"),
    ("empty_sheet.xlsx", 'sheet "Shares" is empty (no cells)'),
])
def test_files_that_cannot_be_read_get_one_clear_line(tmp_path: Path, name: str, expected: str):
    line = refusal(FIXTURES / name, tmp_path)
    assert expected in line
    assert "save it as .xlsx" in line or "password" in line or "--sheet" in line


def test_a_chinese_excel_csv_without_its_encoding_names_gbk(tmp_path: Path):
    line = refusal(FIXTURES / "excel_zh_gbk.csv", tmp_path)
    assert line.endswith("it reads as Chinese text in GBK (a Chinese Excel's CSV): pass --encoding gbk")


def test_an_old_xls_saved_with_an_xlsx_name_is_read_as_what_it_is(sim_thread: ThreadedSimulator, tmp_path: Path):
    renamed = tmp_path / "renamed.xlsx"
    renamed.write_bytes((FIXTURES / "lo_hidden_first.xls").read_bytes())
    result = run_cli(sim_thread, renamed, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert [params["dk"] for params in shares_sent(sim_thread)] == ["00D000002", "860000000000001"]


def test_a_password_protected_ods_is_refused_as_such(tmp_path: Path):
    """LibreOffice's encrypted .ods: a zip whose manifest carries encryption data and whose content is ciphertext."""
    import zipfile

    target = tmp_path / "locked.ods"
    with zipfile.ZipFile(FIXTURES / "lo_hidden_first.ods") as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            if name == "content.xml":
                data = bytes(range(256)) * 8
            elif name == "META-INF/manifest.xml":
                data = data.replace(b'manifest:full-path="content.xml" manifest:media-type="text/xml"/>',
                                    b'manifest:full-path="content.xml" manifest:media-type="text/xml">'
                                    b'<manifest:encryption-data manifest:checksum-type="SHA1/1K" '
                                    b'manifest:checksum="x"/></manifest:file-entry>')
                assert b"encryption-data" in data
            new.writestr(name, data)
    assert refusal(target, tmp_path / "out").endswith(": password-protected: save a copy without a password "
                                                       "(File > Info > Protect Workbook > Encrypt) and use that")


def test_an_encrypted_workbook_named_xls_is_password_protected_too(tmp_path: Path):
    renamed = tmp_path / "encrypted.xls"
    renamed.write_bytes((FIXTURES / "encrypted.xlsx").read_bytes())
    assert refusal(renamed, tmp_path / "out").endswith(": password-protected: save a copy without a password "
                                                        "(File > Info > Protect Workbook > Encrypt) and use that")


def test_headers_as_typed_full_width_and_invisible(tmp_path: Path):
    source = tmp_path / "headers.csv"
    source.write_text("ＰＫ,\u00a0dk\u200b,Ｒｅｃｉｐｉｅｎｔ\np1test,００Ｄ１,Ｕ１\n", encoding="utf-8")
    result = validate(source, tmp_path / "ok")
    assert result.exit_code == 0, result.output
    blocked = tmp_path / "blocked.csv"
    blocked.write_text("pk,dk\u3164,recipient\np1test,00D1,U1\n", encoding="utf-8")
    line = refusal(blocked, tmp_path / "no")
    assert 'header "dk\u3164" contains an invisible character (U+3164 HANGUL FILLER) at position 3' in line
