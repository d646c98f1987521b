"""Sheets saved by LibreOffice (and openpyxl for what it cannot write), through the CLI: exactly
what the simulator receives, and what the report says about every row it does not."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import ThreadedSimulator

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spreadsheets"
EXPIRY = "1830297599999"  # 2027-12-31, the end of the day, UTC


def run_cli(sim: ThreadedSimulator, source: Path, out: Path, *extra: str) -> Result:
    args = ["run", "--input", str(source), "--base-url", sim.base_url, "--out", str(out), "--rate", "500", *extra]
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": sim.token}, catch_exceptions=False)


def shares_sent(sim: ThreadedSimulator) -> list[dict[str, str]]:
    sent = [record["params"] for record in sim.get("/_sim/requests") if record["path"].endswith("/shareByUid")]
    return sorted(sent, key=lambda params: params["dk"])


def report(out: Path) -> dict[str, dict[str, str]]:
    with (out / "report.csv").open(encoding="utf-8", newline="") as handle:
        return {row["row"]: row for row in csv.DictReader(handle)}


def share(dk: str, kind: str, recipient: str) -> dict[str, str]:
    return {"pk": "p1test", "dk": dk, kind: recipient, "sharingExpireAt": EXPIRY, "coverMark": "1"}


AS_SEEN_SENT = [
    share("000000000012345", "phone", "07700900123"),  # zero-padded number formats, as the sheet shows them
    share("00D000003", "phone", "8613800138000"),
    share("00D000008", "shareUid", "U0000008"),
    share("00D000009", "shareUid", "U0000009"),  # pk from the merged cell above
    share("00D000012", "shareUid", "U0000012"),  # the no-break space at the end is not sent
]


@pytest.mark.parametrize("name", ["as_seen.xlsx", "as_seen.ods", "as_seen.xls"])
def test_a_libreoffice_sheet_is_shared_as_it_shows(sim_thread: ThreadedSimulator, tmp_path: Path, name: str):
    result = run_cli(sim_thread, FIXTURES / name, tmp_path)
    assert result.exit_code == 1, result.output  # some rows are invalid
    assert shares_sent(sim_thread) == AS_SEEN_SENT
    rows = report(tmp_path)
    assert {number: rows[number]["status"] for number in rows} == {
        "2": "success", "3": "success", "4": "invalid", "5": "invalid", "6": "hidden", "8": "success",
        "9": "success", "10": "invalid", "11": "invalid", "12": "success",
    }  # row 7 is blank: skipped, and the other rows keep the sheet's numbers
    assert "the spreadsheet lost digits" in rows["4"]["message"]
    assert rows["5"]["message"].startswith('column "expiry": expiry is the spreadsheet error #N/A')
    assert rows["6"]["message"] == "row is hidden in the sheet, not sent (--include-hidden sends it)"
    assert "scientific notation" in rows["10"]["message"]
    assert "U+200B ZERO WIDTH SPACE" in rows["11"]["message"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["success"], summary["invalid"], summary["hidden"], summary["total"]) == (5, 4, 1, 10)
    assert any("phone numbers were read from number cells (rows 2, 3)" in warning for warning in summary["warnings"])


def test_include_hidden_sends_the_hidden_row_too(sim_thread: ThreadedSimulator, tmp_path: Path):
    result = run_cli(sim_thread, FIXTURES / "as_seen.xlsx", tmp_path, "--include-hidden")
    assert result.exit_code == 1, result.output
    assert shares_sent(sim_thread) == sorted([*AS_SEEN_SENT, share("00D000006", "shareUid", "U0000006")],
                                             key=lambda params: params["dk"])


def test_rows_outside_an_auto_filter_are_not_sent(sim_thread: ThreadedSimulator, tmp_path: Path):
    result = run_cli(sim_thread, FIXTURES / "filtered.xlsx", tmp_path)
    assert result.exit_code == 0, result.output  # a row the person filtered out is not a failure
    assert [params["dk"] for params in shares_sent(sim_thread)] == ["00D000001", "00D000003"]
    assert report(tmp_path)["3"]["message"] == "row is filtered out in the sheet, not sent (--include-hidden sends it)"


def test_unsaved_formulas_and_error_values_are_invalid_and_not_sent(sim_thread: ThreadedSimulator, tmp_path: Path):
    result = run_cli(sim_thread, FIXTURES / "unsaved_formulas.xlsx", tmp_path)
    assert result.exit_code == 1
    assert shares_sent(sim_thread) == [{"pk": "p1test", "dk": "00D000003", "shareUid": "U0000003",
                                        "sharingExpireAt": EXPIRY, "coverMark": "1"}]
    rows = report(tmp_path)
    assert rows["2"]["message"] == (
        'column "expiry": expiry: the cell holds a formula (=TODAY()+30) saved without its result; open the file '
        "in Excel or LibreOffice and save it again, or paste the column as values")
    assert rows["3"]["message"].startswith('column "expiry": expiry is the spreadsheet error #REF!')


def test_a_german_excel_csv_is_read_with_its_encoding(sim_thread: ThreadedSimulator, tmp_path: Path):
    result = run_cli(sim_thread, FIXTURES / "semicolon_cp1252.csv", tmp_path, "--encoding", "cp1252")
    assert result.exit_code == 1
    sent = {params["dk"]: params for params in shares_sent(sim_thread)}
    assert sent["000000000012345"] == share("000000000012345", "phone", "07700900123")
    assert "00D000009" not in sent  # a CSV does not know the merge: the empty pk makes the row invalid
    rows = report(tmp_path)
    assert "scientific notation" in rows["4"]["message"]  # 8.98600123456789E+019 in the CSV export
    assert rows["5"]["message"].startswith('column "expiry": expiry is the spreadsheet error #N/A')


def test_cells_whose_type_is_not_their_columns_are_sent_as_seen_or_invalid_with_the_reason(
    sim_thread: ThreadedSimulator, tmp_path: Path
):
    import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["pk", "dk", "recipient", "expiry"])
    sheet.append(["p1test", 860000000000001, "U0000001", "2027-12-31"])  # a number under "@": its digits, as typed
    sheet.append(["p1test", "00D000002", datetime.datetime(2027, 1, 5), "2027-12-31"])  # a date as recipient
    sheet.append(["p1test", datetime.date(2027, 1, 6), "U0000003", "2027-12-31"])  # a date as dk
    sheet.append(["p1test", 1.5, "U0000004", "2027-12-31"])  # shows 1.5: not a typed id
    sheet.append(["p1test", "00D000005", "U0000005", datetime.date(2027, 2, 1)])  # a date under "@" shows 46419
    sheet["B2"].number_format = sheet["B5"].number_format = sheet["D6"].number_format = "@"
    sheet["C3"].number_format = sheet["B4"].number_format = "yyyy-mm-dd"
    book.save(tmp_path / "typed.xlsx")
    result = run_cli(sim_thread, tmp_path / "typed.xlsx", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert shares_sent(sim_thread) == [share("860000000000001", "shareUid", "U0000001")]
    rows = report(tmp_path / "out")
    assert rows["3"]["message"].startswith('column "recipient": recipient is a date cell (2027-01-05'), rows["3"]
    assert rows["4"]["message"].startswith('column "dk": dk is a date cell (2027-01-06')
    assert rows["5"]["message"] == ('column "dk": dk "1.5" is a number that is not whole (an id never has a decimal '
                                    "point or a minus sign); store the column as text and type the value")
    assert rows["6"]["message"].startswith('column "expiry": expiry "46419" is not a date')  # what the person sees
    assert {rows[number]["status"] for number in "3456"} == {"invalid"}


def test_a_value_its_number_format_hides_is_invalid_never_sent_or_read_as_empty(tmp_path: Path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["pk", "dk", "recipient", "expiry"])
    sheet.append(["p1test", 12345, "U0000001", "2027-12-31"])  # the person sees an empty dk
    sheet.append(["p1test", "00D000002", "U0000002", 46419])  # an empty expiry would mean a permanent share
    sheet.append(["p1test", 0, "U0000003", "2027-12-31"])  # 0;-0;;@ hides zeros only
    sheet.append(["p1test", 7, "U0000004", "2027-12-31"])
    sheet["B2"].number_format = sheet["D3"].number_format = ";;;"
    sheet["B4"].number_format = sheet["B5"].number_format = "0;-0;;@"
    book.save(tmp_path / "hidden.xlsx")
    result = CliRunner().invoke(main, ["validate", "--input", str(tmp_path / "hidden.xlsx"), "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    rows = report(tmp_path / "validate")
    assert rows["2"]["message"] == ('column "dk": dk: the cell holds 12345 but its number format (;;;) shows nothing '
                                    "there; format the column as General or text to see the value, or empty the cell")
    assert rows["3"]["message"].startswith('column "expiry": expiry: the cell holds 46419 but its number format')
    assert rows["4"]["message"].startswith('column "dk": dk: the cell holds 0 but its number format (0;-0;;@)')
    assert [rows[number]["status"] for number in "2345"] == ["invalid", "invalid", "invalid", "valid"]


def test_a_date_cell_as_recipient_in_an_ods_sheet_is_invalid_too(tmp_path: Path):
    import zipfile

    def cell(text: str, date: str | None = None) -> str:
        kind = f'office:value-type="date" office:date-value="{date}"' if date else 'office:value-type="string"'
        return f"<table:table-cell {kind}><text:p>{text}</text:p></table:table-cell>"

    rows = [[cell("pk"), cell("dk"), cell("recipient")], [cell("p1test"), cell("00D1"), cell("05.01.27", "2027-01-05")],
            [cell("p1test"), cell("00D2"), cell("U0000002")]]
    body = "".join(f"<table:table-row>{''.join(row)}</table:table-row>" for row in rows)
    with zipfile.ZipFile(tmp_path / "dates.ods", "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
            f'<table:table table:name="Shares">{body}</table:table></office:spreadsheet></office:body>'
            "</office:document-content>"))
    result = CliRunner().invoke(main, ["validate", "--input", str(tmp_path / "dates.ods"), "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    checked = report(tmp_path / "validate")
    assert checked["2"]["status"] == "invalid"
    assert checked["2"]["message"].startswith('column "recipient": recipient is a date cell (2027-01-05')
    assert checked["3"]["status"] == "valid"


def test_a_workbook_that_opens_on_a_chart_says_which_sheet_the_rows_came_from(tmp_path: Path):
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    book = Workbook()
    rows = book.active
    rows.title = "Shares"
    rows.append(["pk", "dk", "recipient"])
    rows.append(["p1test", "00D000001", "U0000001"])
    chart = BarChart()
    chart.add_data(Reference(rows, min_col=1, min_row=1, max_row=2))
    book.create_chartsheet("Overview", 0).add_chart(chart)
    book.active = 0
    book.save(tmp_path / "charted.xlsx")
    result = CliRunner().invoke(main, ["validate", "--input", str(tmp_path / "charted.xlsx"), "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert ('the workbook opens on the chart "Overview"; the rows were read from sheet "Shares", its first visible '
            "sheet of rows (name another with --sheet)") in result.output
    assert report(tmp_path / "out" / "validate")["2"]["dk"] == "00D000001"
