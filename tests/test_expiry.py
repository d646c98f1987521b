"""Expiry cells -> epoch ms, checked to the exact millisecond against calendar arithmetic."""

from __future__ import annotations

import calendar
from zoneinfo import ZoneInfo

import pytest

from runner.errors import ExpiryError
from runner.input.expiry import ExpiryParser, load_timezone

ANCHOR_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, the run's start in these tests
DAY_MS = 86_400_000


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Epoch ms of a UTC wall-clock time, computed independently of the code under test."""
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) * 1000


@pytest.fixture
def utc() -> ExpiryParser:
    return ExpiryParser(ZoneInfo("UTC"), ANCHOR_MS)


@pytest.fixture
def shanghai() -> ExpiryParser:
    return ExpiryParser(ZoneInfo("Asia/Shanghai"), ANCHOR_MS)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1803916799999", 1_803_916_799_999),
        ("1803916799", 1_803_916_799_000),
        ("2027-03-01", utc_ms(2027, 3, 1, 23, 59, 59) + 999),
        ("2027-01-31T12:00:00Z", utc_ms(2027, 1, 31, 12)),
        ("2027-01-31t12:00:00z", utc_ms(2027, 1, 31, 12)),
        ("2027-01-31T12:00:00+08:00", utc_ms(2027, 1, 31, 4)),
        ("2027-01-31T12:00:00-0530", utc_ms(2027, 1, 31, 17, 30)),
        ("2027-01-31 12:00:00", utc_ms(2027, 1, 31, 12)),
        ("2027-01-31T12:00", utc_ms(2027, 1, 31, 12)),
        ("2027-01-31T12:00:00.250Z", utc_ms(2027, 1, 31, 12) + 250),
        ("2027-01-31 12:00:00.123456", utc_ms(2027, 1, 31, 12) + 123),
        ("30d", ANCHOR_MS + 30 * DAY_MS),
        ("12h", ANCHOR_MS + 12 * 3_600_000),
        ("2w", ANCHOR_MS + 14 * DAY_MS),
        ("90m", ANCHOR_MS + 90 * 60_000),
        ("30D", ANCHOR_MS + 30 * DAY_MS),
        (" 2W ", ANCHOR_MS + 14 * DAY_MS),
    ],
)
def test_each_expiry_form_resolves_to_the_exact_millisecond(utc: ExpiryParser, cell: str, expected: int) -> None:
    assert utc.parse(cell) == expected


def test_a_date_means_the_end_of_that_day_in_the_job_timezone(shanghai: ExpiryParser) -> None:
    # 2027-03-01 23:59:59.999 at UTC+8 is 15:59:59.999 UTC
    assert shanghai.parse("2027-03-01") == 1_803_916_799_999 == utc_ms(2027, 3, 1, 15, 59, 59) + 999


def test_a_naive_date_time_is_read_in_the_job_timezone(shanghai: ExpiryParser) -> None:
    assert shanghai.parse("2027-01-31 12:00") == utc_ms(2027, 1, 31, 4)


def test_an_explicit_offset_wins_over_the_job_timezone(shanghai: ExpiryParser) -> None:
    assert shanghai.parse("2027-01-31T12:00:00Z") == utc_ms(2027, 1, 31, 12)


def test_the_end_of_a_summer_day_follows_daylight_saving_time() -> None:
    new_york = ExpiryParser(ZoneInfo("America/New_York"), ANCHOR_MS)
    assert new_york.parse("2027-07-01") == utc_ms(2027, 7, 2, 3, 59, 59) + 999  # EDT is UTC-4
    assert new_york.parse("2027-01-01") == utc_ms(2027, 1, 2, 4, 59, 59) + 999  # EST is UTC-5


@pytest.mark.parametrize("cell", ["", "   "])
def test_an_empty_cell_means_no_expiry(utc: ExpiryParser, cell: str) -> None:
    assert utc.parse(cell) is None


def test_an_impossible_date_is_reported_with_the_accepted_forms(utc: ExpiryParser) -> None:
    with pytest.raises(ExpiryError) as caught:
        utc.parse("2023-02-30")
    assert str(caught.value) == (
        'expiry "2023-02-30" is not a date (use YYYY-MM-DD, ISO 8601, epoch ms/s, or 30d/12h/2w/90m)'
    )


@pytest.mark.parametrize(
    "cell",
    [
        "tomorrow",
        "12345",  # neither 10 nor 13 digits
        "180391679999",
        "1803916799999.0",
        "2027/03/01",
        "2027-3-1",
        "01-03-2027",
        "1.5d",
        "-30d",
        "30x",
        "30 days",
        "2027-01-31T25:00:00",
        "2027-01-31T12:00:00+99:00",
        "２０２７-03-01",
    ],
)
def test_anything_else_is_not_a_date(utc: ExpiryParser, cell: str) -> None:
    with pytest.raises(ExpiryError, match="is not a date"):
        utc.parse(cell)


@pytest.mark.parametrize("cell", ["2020-01-01", str(ANCHOR_MS), "0d", "2025-12-31T23:59:59.999Z"])
def test_an_expiry_at_or_before_the_run_start_is_in_the_past(utc: ExpiryParser, cell: str) -> None:
    with pytest.raises(ExpiryError, match=r"is in the past"):
        utc.parse(cell)


def test_the_first_millisecond_after_the_run_start_is_accepted(utc: ExpiryParser) -> None:
    assert utc.parse(str(ANCHOR_MS + 1)) == ANCHOR_MS + 1


def test_a_past_expiry_is_refused_every_time_it_repeats(utc: ExpiryParser) -> None:
    for _ in range(3):
        with pytest.raises(ExpiryError):
            utc.parse("2020-01-01")


def test_an_expiry_after_the_year_9999_is_refused(utc: ExpiryParser) -> None:
    with pytest.raises(ExpiryError, match="too far in the future"):
        utc.parse("999999999w")


def test_relative_expiries_count_from_the_anchor_of_each_parser() -> None:
    later = ExpiryParser(ZoneInfo("UTC"), ANCHOR_MS + DAY_MS)
    assert later.parse("1d") == ANCHOR_MS + 2 * DAY_MS


def test_an_unknown_timezone_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match=r'unknown timezone "Mars/Olympus" .*IANA'):
        load_timezone("Mars/Olympus")
