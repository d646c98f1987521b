"""report.html in a real browser: headless Chromium at 1280 px, with the network off.

The page must hold with long texts (a long stop reason, job name, file name, warnings, messages):
no section, chart or table on top of another, nothing wider than its section, no horizontal
scrolling of the page, long texts wrapped onto several lines; and it must fetch nothing.
Skipped, saying so, where Chromium is not installed (.ci/run installs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.models import RowOutcome, RowStatus
from runner.outputs.htmlreport import HtmlReportInput, write_html_report
from runner.outputs.report import Summary
from runner.outputs.reportcontext import ReportContext

from .browser import PRINT_WIDTH, SKIP_REASON, find_chromium, measure

pytestmark = pytest.mark.skipif(find_chromium() is None, reason=SKIP_REASON)

WIDTH = 1280
LONG_STOP = ("stopped: 26 of the last 50 rows exhausted their retries; the platform keeps failing "
             "(HTTP 503 from the load balancer in front of iot-api.acceleronix.io, every attempt) " * 3)


def long_report(path: Path) -> Path:
    summary = Summary(
        total=12_345, success=9_000, failed=2_000, invalid=345, not_attempted=1_000,
        by_code={"5360": 1_200, "5134": 500, "transport": 250, "5999": 50}, requests=11_500, retries=480,
        started_at="2026-12-02T02:00:00.000Z", finished_at="2026-12-02T02:41:10.000Z", duration_s=2470.0,
        rate_achieved=4.66, stopped=LONG_STOP,
        warnings=["device p1/" + "0123456789" * 12 + " is shared with 3 recipients under cover mark 1",
                  "a warning with a long word " + "x" * 200],
    )
    rows = [({"pk": "p1", "dk": f"DEV{index:05d}" + "LONGKEY" * 12, "recipient": f"user{index}@example.org",
              "note": "n " * 80}, RowOutcome(index + 2, RowStatus.FAILED, 5360, "code 5360 " + "because " * 60))
            for index in range(30)]
    context = ReportContext(
        job="nightly-" + "very-long-job-name-" * 8, input_name="shares-" + "from-the-crm-export-" * 8 + ".csv",
        input_sha256="ab" * 32, batch_id="cd" * 12, platform_host="iot-api.acceleronix.io", region="eu",
        os_user="ops", host="batch-host-" + "x" * 60, batch_started_at="2026-12-01T02:00:00.000Z",
        run_started_at="2026-12-02T02:00:00.000Z", run_finished_at="2026-12-02T02:41:10.000Z",
        recipient_headers=frozenset({"recipient"}),
    )
    write_html_report(path, HtmlReportInput(
        title=context.job, summary=summary, request_offsets_s=[index * 0.2 for index in range(11_500)],
        latencies_ms=[120 + (index * 37) % 400 for index in range(11_000)] + [30_000] * 5, failed_rows=rows,
        context=context,
    ))
    return path


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return measure(long_report(tmp_path_factory.mktemp("browser") / "report.html"), width=WIDTH)


def test_the_page_fits_1280_px_and_nothing_overlaps(measured: dict[str, Any]) -> None:
    assert measured["viewport"] == WIDTH
    assert measured["page_width"] <= WIDTH, "the page scrolls sideways"
    assert measured["overlaps"] == []
    assert measured["overflows"] == []
    assert len(measured["figures"]) == 3
    assert all(figure["width"] > 200 and figure["height"] > 100 for figure in measured["figures"])


@pytest.mark.parametrize(("width", "media"), [(390, "screen"), (PRINT_WIDTH, "print")])
def test_on_a_phone_and_on_paper_every_table_stays_inside_its_box(tmp_path: Path, width: int, media: str) -> None:
    """At 390 px the error table's "What to do" is not cut off; on paper (which does not scroll) the rows
    table keeps its right-hand columns: nothing is wider than its section."""
    found = measure(long_report(tmp_path / "report.html"), width=width, media=media)
    assert found["viewport"] == width
    assert found["page_width"] <= width, "the page scrolls sideways"
    assert found["overflows"] == []
    assert found["overlaps"] == []


def test_long_texts_wrap_onto_several_lines(measured: dict[str, Any]) -> None:
    line = measured["line_height"]
    for probe in ("title", "headline", "stopped", "input", "job"):
        box = measured["by_probe"][probe] if "by_probe" in measured else None
        assert box is not None, probe
        assert box["height"] > 1.5 * line, f"{probe} does not wrap"
        assert box["right"] <= WIDTH


def test_the_page_loads_with_the_network_off_and_fetches_nothing(measured: dict[str, Any]) -> None:
    assert measured["fetched"] == []
    assert measured["scripts"] == 0
    assert measured["images"] == []


def test_the_probe_sees_an_overlap_and_a_fetch_when_there_is_one(tmp_path: Path) -> None:
    """The checks above could fail: a page that overlaps and fetches is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body style='margin:0'>"
        "<section id='a' style='width:600px;height:100px'><table style='width:900px'><tr><td>wide</td></tr></table>"
        "</section><section id='b' style='position:absolute;top:0;left:300px;width:300px;height:100px'></section>"
        "<img src='http://example.invalid/pixel.png'></body></html>", encoding="utf-8")
    found = measure(bad, width=WIDTH)
    assert ["section#a", "section#b"] in found["overlaps"]
    assert found["overflows"]
    assert any(name.startswith("http://example.invalid/") for name in found["fetched"])
    assert found["images"] == [["http://example.invalid/pixel.p", False]]
