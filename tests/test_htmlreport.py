"""report.html: content, escaping of spreadsheet cells, self-containment, the row cap, empty runs."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from runner.models import RowOutcome, RowStatus
from runner.outputs.charts import outcome_chart_svg, rate_bins
from runner.outputs.htmlreport import (
    MAX_FAILED_ROWS,
    HtmlReportInput,
    render_html_report,
    write_html_report,
)
from runner.outputs.report import Summary
from runner.platform.codes import CODE_ADVICE, CODE_MEANINGS

SCRIPT_CELL = "<script>alert(1)</script>"
FAILED_ROWS = 620  # more than the page shows
TOKEN = "Bearer secret-token-value"


@dataclass
class Page:
    """What the tests look at in a rendered page, collected by html.parser."""

    text_by_section: dict[str, str] = field(default_factory=dict)
    svgs_by_chart: dict[str, int] = field(default_factory=dict)
    summary: dict[str, str] = field(default_factory=dict)
    tables: dict[str, list[list[str]]] = field(default_factory=dict)  # table class -> body rows of cell text
    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # outside inline SVG


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._section = ""
        self._chart = ""
        self._svg_depth = 0
        self._table = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._summary_key = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "svg":
            self._svg_depth += 1
            if self._svg_depth == 1:
                self.page.svgs_by_chart[self._chart] = self.page.svgs_by_chart.get(self._chart, 0) + 1
        if self._svg_depth:
            return
        self.page.tags.append((tag, attributes))
        if tag == "section":
            self._section = attributes.get("id", "")
        elif tag == "figure":
            self._chart = attributes.get("data-chart", "")
        elif tag == "table":
            self._table = attributes.get("class", "")
            self.page.tables.setdefault(self._table, [])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
            self._summary_key = attributes.get("data-key", self._summary_key)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg_depth -= 1
        if self._svg_depth:
            return
        if tag == "figure":
            self._chart = ""
        elif tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            if self._table == "summary":
                self.page.summary[self._summary_key] = self._row[-1]
            self._cell = None
        elif tag == "tr" and self._row:
            self.page.tables[self._table].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._svg_depth:
            return
        self.page.text_by_section[self._section] = self.page.text_by_section.get(self._section, "") + data
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Page:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


def _failed_rows(count: int) -> list[tuple[dict[str, str], RowOutcome]]:
    rows: list[tuple[dict[str, str], RowOutcome]] = []
    for index in range(count):
        row = index + 2
        cells = {"pk": "p1", "dk": f"{row:05d}", "recipient": f"user{row}@example.org", "note": ""}
        if index % 10 == 9:
            message = 'column "expiry": 2023-02-30 is not a date'
            rows.append((cells, RowOutcome(row, RowStatus.INVALID, message=message)))
        else:
            code = 5360 if index % 3 else 9999
            rows.append((cells, RowOutcome(row, RowStatus.FAILED, code=code, message=f"code {code}", attempts=1)))
    rows[0][0]["note"] = SCRIPT_CELL
    return rows


@pytest.fixture(scope="module")
def report_input() -> HtmlReportInput:
    """A finished run of 1,000 rows with two failure codes, an unknown one, transport failures and warnings."""
    summary = Summary(
        total=1000, success=370, failed=558, invalid=62, duplicate=6, not_attempted=4,
        by_code={"5360": 372, "9999": 185, "transport": 1}, requests=1012, retries=12,
        started_at="2026-11-25T02:00:00.000Z", finished_at="2026-11-25T02:03:22.500Z", duration_s=202.5,
        rate_achieved=4.99, warnings=["device p1/00042 is shared with 3 recipients under cover mark 1",
                                      "rows 118, 203: expiry is less than 1 hour from now"],
    )
    offsets = [i * 0.2 for i in range(1012)]
    latencies = [120 + (i * 37) % 200 for i in range(928)] + [30_000]
    return HtmlReportInput(f"batch {SCRIPT_CELL}", summary, offsets, latencies, _failed_rows(FAILED_ROWS))


@pytest.fixture(scope="module")
def html(report_input: HtmlReportInput) -> str:
    """The page, rendered while a token is in the environment (it must not reach the page)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHAREBATCH_TOKEN", TOKEN)
        return render_html_report(report_input)


@pytest.fixture(scope="module")
def page(html: str) -> Page:
    return parse(html)


def test_summary_table_shows_the_figures_of_summary_json(page: Page) -> None:
    assert page.summary["total"] == "1,000"
    assert page.summary["success"] == "370"
    assert page.summary["failed"] == "558"
    assert page.summary["invalid"] == "62"
    assert page.summary["duplicate"] == "6"
    assert page.summary["not_attempted"] == "4"
    assert page.summary["requests"] == "1,012"
    assert page.summary["retries"] == "12"
    assert page.summary["started_at"].endswith("2026-11-25 02:00:00 UTC")  # local time first where it is not UTC
    assert page.summary["finished_at"].endswith("2026-11-25 02:03:22 UTC")
    assert page.summary["duration_s"] == "3 min 22 s (202.5 s)"
    assert page.summary["rate_achieved"] == "4.99 requests/s"
    assert "stopped" not in page.summary  # a stop reason is a paragraph of its own, under "This run"
    assert "revoked" not in page.summary  # a field of another command, zero here


def test_each_chart_is_one_inline_svg(page: Page) -> None:
    assert page.svgs_by_chart == {"outcomes": 1, "rate": 1, "latency": 1}


def test_charts_are_reproducible_and_carry_no_metadata(html: str, report_input: HtmlReportInput) -> None:
    again = outcome_chart_svg(report_input.summary)
    assert again is not None
    assert again.startswith("<svg")
    assert again in html  # the same bytes as in the page rendered earlier: no date, no random ids
    assert "<metadata" not in html
    assert "matplotlib.org" not in html


def test_error_codes_are_listed_with_meaning_and_count(page: Page) -> None:
    codes = {row[0]: row[1:] for row in page.tables["codes"]}
    assert codes["5360"] == [CODE_MEANINGS[5360], "372", "66.7 %", CODE_ADVICE["5360"]]
    assert codes["9999"][0].startswith("unknown code")
    assert codes["9999"][1] == "185"
    assert "ask support" in codes["9999"][3]
    assert codes["no answer"][0].startswith("no answer from the platform")
    assert list(codes) == ["5360", "9999", "no answer"]  # most frequent first


def test_warnings_are_listed(page: Page, report_input: HtmlReportInput) -> None:
    for warning in report_input.summary.warnings:
        assert warning in page.text_by_section["warnings"]


def test_failed_rows_show_row_status_code_message_and_original_cells(page: Page) -> None:
    first, second = page.tables["rows"][0], page.tables["rows"][1]
    assert first == ["2", "failed", "9999", "code 9999", "p1", "00002", "user2@example.org", SCRIPT_CELL]
    assert second == ["3", "failed", "5360", "code 5360", "p1", "00003", "user3@example.org", ""]
    invalid = page.tables["rows"][9]
    assert invalid[:4] == ["11", "invalid", "", 'column "expiry": 2023-02-30 is not a date']


def test_spreadsheet_markup_is_escaped_not_run(html: str, page: Page) -> None:
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not any(tag == "script" for tag, _ in page.tags)
    assert page.tables["rows"][0][-1] == SCRIPT_CELL  # shown as text, exactly as typed


def test_page_references_no_external_resource(html: str, page: Page) -> None:
    lowered = html.lower()
    for pattern in (r'src\s*=\s*["\']?\s*(https?:|//)', r'href\s*=\s*["\']?\s*(https?:|//)',
                    r"url\(\s*[\"']?\s*(https?:|//)", r"@import", r"<link\b", r"<script\b", r"<iframe\b",
                    r"<object\b", r"<embed\b", r"@font-face"):
        assert not re.search(pattern, lowered), pattern
    # every reference that could fetch something is internal (#id) or inline (data:)
    for tag, attributes in page.tags:
        for name in ("src", "href", "xlink:href", "srcset", "poster", "action"):
            value = attributes.get(name)
            assert value is None or value.startswith(("#", "data:")), (tag, name, value)
    # inside the inline SVG too: references point at the SVG's own defs
    assert all(ref.startswith("#") for ref in re.findall(r'href="([^"]*)"', html))
    assert all(ref.startswith("#") for ref in re.findall(r"url\(([^)]*)\)", html))


def test_only_the_first_500_failed_rows_are_shown_with_where_the_rest_are(page: Page) -> None:
    assert len(page.tables["rows"]) == MAX_FAILED_ROWS
    assert page.tables["rows"][-1][0] == str(MAX_FAILED_ROWS + 1)
    text = " ".join(page.text_by_section["failed"].split())
    assert f"Showing the first 500 of {FAILED_ROWS} rows; {FAILED_ROWS - 500} more are in failed.csv." in text


def test_no_cap_line_when_every_failed_row_fits() -> None:
    data = HtmlReportInput("small", Summary(total=2, failed=2), [], [], _failed_rows(2), failed_file_name="failed.xlsx")
    page = parse(render_html_report(data))
    assert len(page.tables["rows"]) == 2
    assert "Showing the first" not in page.text_by_section["failed"]
    assert "failed.xlsx" in page.text_by_section["failed"]


def test_an_empty_run_renders_with_notes_instead_of_charts() -> None:
    page = parse(render_html_report(HtmlReportInput("empty", Summary(), [], [], [])))
    assert page.svgs_by_chart == {}
    assert page.summary["total"] == "0"
    assert "no data rows" in page.text_by_section["outcomes"]
    assert "No request was sent" in page.text_by_section["rate"]
    assert "No row has a latency" in page.text_by_section["latency"]
    assert "No row failed on the platform" in page.text_by_section["codes"]
    assert "No warnings" in page.text_by_section["warnings"]
    assert "No row failed and no row was invalid" in page.text_by_section["failed"]
    assert "rows" not in page.tables


def test_a_resumed_run_that_sent_nothing_still_charts_its_outcomes() -> None:
    summary = Summary(total=5, success=5)
    page = parse(render_html_report(HtmlReportInput("resumed", summary, [], [], [])))
    assert page.svgs_by_chart == {"outcomes": 1}
    assert "All 5 unique rows were shared" in page.text_by_section[""]


def test_a_stopped_run_says_why_at_the_top() -> None:
    summary = Summary(stopped="token rejected and the refresh failed")  # stopped before any row was read
    page = parse(render_html_report(HtmlReportInput("stopped", summary, [], [], [])))
    assert "The run stopped early: token rejected and the refresh failed" in page.text_by_section[""]
    assert "Stopped early: token rejected and the refresh failed" in page.text_by_section["summary"]


def test_rate_is_counted_per_second() -> None:
    assert rate_bins([0.0, 0.5, 1.2, 3.9]) == ([0.0, 1.0, 2.0, 3.0], [2.0, 1.0, 0.0, 1.0], 1)


def test_a_long_run_is_averaged_over_wider_bins_still_in_requests_per_second() -> None:
    offsets = [i / 5 for i in range(5 * 4000)]  # 5 requests/s for 4,000 s
    starts, rates, width = rate_bins(offsets)
    assert width == 10
    assert len(starts) == 400
    assert set(rates) == {5.0}


def test_a_short_last_bin_is_averaged_over_the_seconds_it_covers() -> None:
    offsets = [i / 5 for i in range(5 * 4005)]  # the last 10-second bin holds only 5 seconds
    _, rates, width = rate_bins(offsets)
    assert width == 10
    assert rates[-1] == 5.0


def test_write_html_report_replaces_the_file_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    target.write_text("old")
    write_html_report(target, HtmlReportInput("small", Summary(), [], [], []))
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_a_token_in_the_environment_does_not_reach_the_page(html: str) -> None:
    assert "secret-token-value" not in html


def test_importing_the_module_does_not_import_the_chart_libraries() -> None:
    code = ("import sys, runner.outputs.htmlreport; "
            "print(sorted(m for m in ('matplotlib', 'jinja2', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_png_tool_says_how_to_install_chromium_when_it_is_missing(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text("<!DOCTYPE html><p>x</p>", encoding="utf-8")
    tool = Path(__file__).resolve().parent.parent / "tools" / "render_report_png.py"
    done = subprocess.run([sys.executable, str(tool), str(report), str(tmp_path / "report.png")],
                          capture_output=True, text=True, check=False, env={"CHROMIUM": "/nonexistent/chromium"})
    assert done.returncode == 2
    assert "apt-get install -y chromium" in done.stderr
    assert not (tmp_path / "report.png").exists()


def test_unknown_rows_are_counted_in_the_banner_and_the_summary() -> None:
    summary = Summary(total=4, success=2, unknown=2)
    unknown = RowOutcome(row=3, status=RowStatus.UNKNOWN, message="it may have been applied")
    page = parse(render_html_report(HtmlReportInput("doubt", summary, [], [], [({"dk": "d3"}, unknown)])))
    assert "2 unknown" in page.text_by_section[""]
    assert page.summary["unknown"] == "2"
    assert "it may have been applied" in page.text_by_section["failed"]
