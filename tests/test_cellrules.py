"""The one rule for each thing a key or recipient cell may hold beyond its value."""

from __future__ import annotations

import pytest

from runner.errors import NoSuchSheetError, XlsxError
from runner.input.cellrules import forced_text, line_break_problem, number_cell, plain, unwrap_recipient
from runner.input.workbook import HIDDEN, VERY_HIDDEN, SheetInfo, choose_sheet


@pytest.mark.parametrize(("cell", "text"), [
    ('="0860000000091301"', "0860000000091301"),
    ('="say ""hi"""', 'say "hi"'),
    ('="a"&"b"', '="a"&"b"'),  # a real formula stays as written
    ("=1+2", "=1+2"),
    ("plain", "plain"),
])
def test_a_csv_cell_forced_to_text_reads_as_its_text(cell: str, text: str) -> None:
    assert forced_text(cell) == text


def test_a_line_break_inside_an_id_is_named_never_joined() -> None:
    assert line_break_problem("dk", "00D1\n00D2") == 'dk "00D1 | 00D2" holds 2 lines (a line break inside the cell); ' \
                                                     "put one value per row"
    assert line_break_problem("dk", "00D1\r\n") is None  # a trailing break is trimmed like a space
    assert line_break_problem("dk", "00D1") is None


@pytest.mark.parametrize(("shown", "digits", "expected"), [
    ("000000000012345", "12345", ("000000000012345", None, None)),  # digits alone: as shown
    ("860,000,000,086,001", "860000000086001", ("860000000086001", "note", None)),
    ("¥860,000,000,086,002.00", "860000000086002", ("860000000086002", "note", None)),
    ("8600.00%", None, ("8600.00%", None, "problem")),
    ("8.60E+14", None, ("8.60E+14", None, None)),  # scientific: the older message says it
])
def test_a_number_format_never_decorates_an_id(shown: str, digits: str | None,
                                                expected: tuple[str, str | None, str | None]) -> None:
    value, note, problem = number_cell("dk", shown, digits)
    assert (value, note and "note", problem and "problem") == expected


@pytest.mark.parametrize(("cell", "value"), [
    ("mailto:bob@example.com", "bob@example.com"),
    ("MAILTO:bob@example.com?subject=x", "bob@example.com"),
    ("<carol@example.com>", "carol@example.com"),
    ("'13800138000", "13800138000"),
    ("'+86 138 0013 8000", "+86 138 0013 8000"),
])
def test_recipient_wrappers_are_removed_with_a_note(cell: str, value: str) -> None:
    unwrapped, note = unwrap_recipient(cell)
    assert unwrapped == value
    assert note is not None
    assert value in note


def test_a_plain_recipient_is_left_alone() -> None:
    assert unwrap_recipient("Carol <carol@example.com>") == ("Carol <carol@example.com>", None)


def test_full_width_forms_become_plain() -> None:
    assert plain("ＰＫ１２３") == "PK123"
    assert plain("00D1") == "00D1"


SHEETS = [SheetInfo("Old batch", HIDDEN), SheetInfo("Shares"), SheetInfo("Chart", chart=True),
          SheetInfo("Secret", VERY_HIDDEN), SheetInfo("Later")]


@pytest.mark.parametrize(("active", "chosen"), [(1, "Shares"), (4, "Later"), (0, "Shares"), (2, "Shares")])
def test_the_active_visible_worksheet_else_the_first_visible_one(active: int, chosen: str) -> None:
    choice = choose_sheet(SHEETS, active, None)
    assert (choice.name, choice.note) == (chosen, None)


def test_a_hidden_sheet_only_by_name_and_with_a_note_a_chart_never() -> None:
    assert "very hidden" in (choose_sheet(SHEETS, 1, "Secret").note or "")
    assert "is hidden in the workbook" in (choose_sheet(SHEETS, 1, "Old batch").note or "")
    with pytest.raises(XlsxError, match='sheet "Chart" is a chart'):
        choose_sheet(SHEETS, 1, "Chart")
    with pytest.raises(NoSuchSheetError):
        choose_sheet(SHEETS, 1, "Missing")
    with pytest.raises(XlsxError, match="no visible sheet of rows"):
        choose_sheet([SheetInfo("a", HIDDEN)], 0, None)
