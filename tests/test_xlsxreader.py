"""The streaming XLSX reader: cell text, merges, hidden rows, errors and unsaved formulas."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from runner.errors import NoSuchSheetError, XlsxError
from runner.input.workbook import SheetRow
from runner.input.xlsxreader import XlsxSheet


def rows_of(path: Path, sheet: str | None = None) -> list[SheetRow]:
    return list(XlsxSheet(str(path), sheet).rows())


def test_text_numbers_booleans_and_errors_read_as_shown(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["text", 13800138000, 1.5, True, "#N/A", None, "end"])
    sheet["B1"].number_format = "000000000000"
    path = tmp_path / "b.xlsx"
    book.save(path)
    [row] = rows_of(path)
    assert row.cells == ["text", "013800138000", "1.5", "TRUE", "#N/A", "", "end"]
    assert row.numbers == {1: "13800138000", 2: None}  # stored digits; 1.5 has none
    assert row.problems == {}


def test_shared_and_rich_strings_are_read_as_plain_text(tmp_path: Path) -> None:
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    book = openpyxl.Workbook()
    book.active["A1"] = CellRichText(["plain ", TextBlock(InlineFont(b=True), "bold")])
    path = tmp_path / "rich.xlsx"
    book.save(path)
    assert rows_of(path)[0].cells == ["plain bold"]


def test_merges_fill_every_covered_cell_across_rows_and_columns(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["a", "b", "c"])
    sheet.append(["m", None, "x"])
    sheet.append([None, None, "y"])
    sheet.merge_cells("A2:B3")
    path = tmp_path / "m.xlsx"
    book.save(path)
    assert [row.cells for row in rows_of(path)] == [["a", "b", "c"], ["m", "m", "x"], ["m", "m", "y"]]


def test_hidden_rows_are_marked_and_filtered_ones_say_so(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for value in ("h", "a", "b"):
        sheet.append([value])
    sheet.row_dimensions[2].hidden = True
    path = tmp_path / "h.xlsx"
    book.save(path)
    assert [row.hidden for row in rows_of(path)] == [None, "hidden", None]
    sheet.auto_filter.ref = "A1:A3"
    book.save(path)
    assert [row.hidden for row in rows_of(path)] == [None, "filtered out", None]


def test_a_formula_without_a_saved_result_is_a_cell_problem(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["x", "=VLOOKUP(A1,B:C,2,FALSE)"])
    path = tmp_path / "f.xlsx"
    book.save(path)
    [row] = rows_of(path)
    assert row.cells == ["x"]
    assert "formula (=VLOOKUP(A1,B:C,2,FALSE)) saved without its result" in row.problems[1]


def test_the_sheet_is_chosen_by_name_and_rows_keep_their_numbers(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "first"
    other = book.create_sheet("Shares")
    other["A3"] = "third row"
    path = tmp_path / "s.xlsx"
    book.save(path)
    [row] = rows_of(path, "Shares")
    assert (row.row, row.cells) == (3, ["third row"])
    with pytest.raises(NoSuchSheetError):
        XlsxSheet(str(path), "missing")


def test_a_file_that_is_not_a_zip_is_an_xlsx_error(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(XlsxError, match="not a readable XLSX file"):
        XlsxSheet(str(path), None)


@pytest.mark.parametrize("block", [7, 13, 64])
def test_rows_and_merges_cut_by_any_block_boundary_read_the_same(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    fixture = str(Path(__file__).parent / "fixtures" / "spreadsheets" / "as_seen.xlsx")
    whole = [(row.row, row.cells, row.hidden, row.problems) for row in XlsxSheet(fixture, None).rows()]
    monkeypatch.setattr("runner.input.xlsxreader._SCAN_BLOCK", block)
    assert [(row.row, row.cells, row.hidden, row.problems) for row in XlsxSheet(fixture, None).rows()] == whole
    assert {number: cells for number, cells, _, _ in whole}[9][0] == "p1test"  # the merged pk, across blocks


def test_an_xlsxwriter_formula_result_is_not_trusted_and_escapes_are_decoded(tmp_path: Path) -> None:
    """xlsxwriter saves a formula's result as given (0 by default) and asks Excel to recalculate on load."""
    import xlsxwriter

    path = tmp_path / "xw.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_formula("A1", "=1+1", None, 2)
    sheet.write_string("B1", "ops@example.com\r")
    sheet.write_string("C1", "_x000D_ as typed")
    book.close()
    [row] = rows_of(path)
    assert row.cells == ["2", "ops@example.com\r", "_x000D_ as typed"]
    assert "asks to be recalculated when opened" in row.problems[0]
    assert set(row.problems) == {0}


def test_a_hidden_first_sheet_and_a_chart_sheet_are_passed_over(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Old"
    book.active.append(["old"])
    book.active.sheet_state = "hidden"
    book.create_sheet("Shares").append(["new"])
    book.active = 1
    path = tmp_path / "h.xlsx"
    book.save(path)
    opened = XlsxSheet(str(path), None)
    assert (opened.name, opened.note, [row.cells for row in opened.rows()]) == ("Shares", None, [["new"]])


def test_escapes_are_decoded_and_a_phonetic_guide_is_not_text() -> None:
    from runner.input.xlsxbook import unescape

    assert unescape("a_x000D_b") == "a\rb"
    assert unescape("_x005F_x000D_") == "_x000D_"  # an escaped escape is the literal text
    assert unescape("plain_x") == "plain_x"


def test_a_phonetic_guide_is_not_part_of_the_text(tmp_path: Path) -> None:
    """East Asian text may carry its reading (`<rPh>`): what the cell shows is the text alone."""
    import zipfile

    source = tmp_path / "p.xlsx"
    book = openpyxl.Workbook()
    book.active["A1"] = "placeholder"  # openpyxl writes it as an inline string
    book.save(source)
    target = tmp_path / "phonetic.xlsx"
    guided = "<is><r><t>東</t></r><r><t>京</t></r><rPh sb=\"0\" eb=\"2\"><t>トウキョウ</t></rPh></is>".encode()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            new.writestr(name, data.replace(b"<is><t>placeholder</t></is>", guided))
    assert rows_of(target)[0].cells == ["東京"]
