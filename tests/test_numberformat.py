"""Numbers rendered under their cell's number format, as the sheet shows them."""

from __future__ import annotations

import pytest

from runner.input.numberformat import number_format_code, render_number


@pytest.mark.parametrize(
    ("raw", "code", "shown"),
    [
        ("12345", "000000000000000", "000000000012345"),
        ("7700900123", "00000000000", "07700900123"),
        ("12345", "General", "12345"),
        ("12345.0", "General", "12345"),
        ("0.30000000000000004", "General", "0.3"),
        ("1.5", "0.00", "1.50"),
        ("1234567.891", "#,##0.00", "1,234,567.89"),
        ("860000000000000", "0.00E+00", "8.60E+14"),
        ("12345", '"SN-"000000', "SN-012345"),
        ("12345", "\\S\\N000000", "SN012345"),
        ("0.25", "0%", "25%"),
        ("-3", "0.0", "-3.0"),
        ("12", "0;[Red]-0", "12"),
        ("123", "[$-409]0", "123"),
        ("5", "@", "5"),
        ("46387", "dd.mm.yyyy", "2026-12-31"),
        ("46387.5", "yyyy-mm-dd hh:mm", "2026-12-31 12:00:00"),
        ("42", "0 0", "42"),  # two placeholder runs: not understood, General
    ],
)
def test_a_number_shows_as_its_format_says(raw: str, code: str, shown: str) -> None:
    rendered = render_number(raw, code)
    assert (rendered.text, rendered.problem) == (shown, None)


def test_dates_are_flagged_as_dates_and_honour_the_1904_system() -> None:
    assert render_number("1", "yyyy-mm-dd", date1904=True) == ("1904-01-02", None, True, None)
    assert not render_number("12", "0").date


@pytest.mark.parametrize("raw", ["89860012345678905344", "8.986001234567891E+19", "1234567890123456"])
def test_a_whole_number_past_15_digits_says_the_spreadsheet_lost_digits(raw: str) -> None:
    rendered = render_number(raw, "General")
    assert rendered.problem is not None
    assert "the spreadsheet lost digits" in rendered.problem
    assert "store the column as text" in rendered.problem


def test_fifteen_digits_are_kept_exactly() -> None:
    assert render_number("860012345678901", "0") == ("860012345678901", None, False, "860012345678901")


@pytest.mark.parametrize(("raw", "code", "digits"), [
    ("860000000086001", "#,##0", "860000000086001"),
    ("860000000086002", '"¥"#,##0.00', "860000000086002"),
    ("86", "0.00%", None),  # shown 8600.00%: the digits typed cannot be told
    ("860000000000000", "0.00E+00", None),
    ("1.5", "0.0", None),
    ("-12", "0", None),
])
def test_the_stored_digits_of_a_whole_number_are_kept_beside_the_text(raw: str, code: str, digits: str | None) -> None:
    assert render_number(raw, code).digits == digits


@pytest.mark.parametrize("number_format_id", [27, 31, 36, 50, 57, 58, 71, 81])
def test_the_locale_date_formats_stored_by_id_only_are_dates(number_format_id: int) -> None:
    from runner.input.numberformat import number_format_code

    assert render_number("46752", number_format_code(number_format_id, {})) == ("2027-12-31", None, True, None)


def test_format_codes_come_from_the_workbook_then_the_built_in_table() -> None:
    assert number_format_code(164, {164: "000000"}) == "000000"
    assert number_format_code(1, {}) == "0"
    assert number_format_code(999, {}) == "General"
