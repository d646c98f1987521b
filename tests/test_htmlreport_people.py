"""report.html for people: which file, platform, who and when; batch and run apart; words; advice; masking."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from runner.models import RowOutcome, RowStatus
from runner.outputs.htmlreport import HtmlReportInput, render_html_report
from runner.outputs.report import Summary
from runner.outputs.reportcontext import ReportContext, local_time, mask_recipient
from runner.platform.codes import CODE_ADVICE

from .test_htmlreport import parse

CONTEXT = ReportContext(
    job="nightly", input_name="shares.csv", input_sha256="0123456789abcdef" * 4, batch_id="feedbeef" * 3,
    platform_host="iot-api.acceleronix.io", region="eu", os_user="ops", host="batch-1",
    batch_started_at="2026-12-02T02:00:00.000Z", run_started_at="2026-12-02T02:00:00.000Z",
    run_finished_at="2026-12-02T02:05:00.000Z", recipient_headers=frozenset({"Customer"}),
)
SUMMARY = Summary(total=4, success=2, failed=2, by_code={"5360": 1, "transport": 1}, requests=6, retries=2,
                  started_at="2026-12-02T02:00:00.000Z", finished_at="2026-12-02T02:05:00.000Z", duration_s=300.0,
                  rate_achieved=2.0, warnings=["row 3: shared with ann@example.org before"])
ROWS = [
    ({"pk": "p1", "dk": "UNV1", "Customer": "ann@example.org"},
     RowOutcome(3, RowStatus.FAILED, 5360, "code 5360 for ann@example.org")),
    ({"pk": "p1", "dk": "D2", "Customer": "U7654321"}, RowOutcome(4, RowStatus.FAILED, None, "no answer for U7654321")),
    ({"pk": "p1", "dk": "D3", "Customer": "+86 138 0013 8000"}, RowOutcome(5, RowStatus.NOT_ATTEMPTED, None, "")),
]


def page(context: ReportContext | None = CONTEXT, summary: Summary = SUMMARY) -> str:
    return render_html_report(HtmlReportInput("nightly", summary, [0.0, 0.5], [120, 130], ROWS, context=context))


def facts(html: str) -> dict[str, str]:
    return {label: re.sub(r"\s+", " ", value).strip()
            for label, value in re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", html, re.S)}


def test_the_header_names_the_file_its_digest_the_platform_who_where_and_when(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    import time

    time.tzset()
    try:
        found = facts(page())
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert found["Job"] == "nightly"
    assert found["Input file"] == "shares.csv (SHA-256 0123456789ab…, batch feedbeeffeed)"
    assert found["Platform"] == "iot-api.acceleronix.io (Europe data center)"
    assert found["Run by"] == "ops on batch-1"
    assert found["First start"] == "2026-12-02 03:00:00 CET (2026-12-02 02:00:00 UTC)"
    assert found["Last finish"] == "2026-12-02 03:05:00 CET (2026-12-02 02:05:00 UTC)"
    assert "This run" not in found  # the first run of its batch


def test_after_a_resume_the_batch_figures_and_this_run_s_figures_are_apart() -> None:
    resumed = replace(CONTEXT, batch_started_at="2026-12-01T02:00:00.000Z")
    html = page(resumed)
    assert "resumed the batch at" in facts(html)["This run"]
    batch = html[html.index('id="batch-figures"'):html.index('id="run-figures"')]
    run = html[html.index('id="run-figures"'):]
    run = run[:run.index("</table>")]
    for key in ("total", "success", "failed"):
        assert f'data-key="{key}"' in batch
        assert f'data-key="{key}"' not in run
    for key in ("requests", "retries", "duration_s", "rate_achieved", "started_at"):
        assert f'data-key="{key}"' in run
        assert f'data-key="{key}"' not in batch
    assert "every run of it" in html
    assert "only what was left" in html
    assert "every run of it" not in page()


def test_labels_are_words_not_code_names() -> None:
    html = page()
    labels = re.findall(r'<th scope="row"[^>]*>(.*?)</th>', html)
    assert {"Rows in the file", "Shared (invited)", "Failed", "HTTP requests sent", "Request rate"} <= set(labels)
    assert not {"total", "success", "not_attempted", "rate_achieved", "duration_s"} & set(labels)
    assert "<code>" not in html


def test_a_stopped_run_says_stopped_once() -> None:
    html = page(summary=replace(SUMMARY, stopped="stopped: 2 of the 4 rows finished so far failed (--max-failures 2)"))
    assert "The run stopped early: 2 of the 4 rows finished so far failed (--max-failures 2)" in html
    assert "stopped: stopped" not in html
    assert "early: stopped:" not in html


def test_each_error_code_has_a_line_of_what_to_do() -> None:
    codes = parse(page()).tables["codes"]
    advice = {row[0]: row[-1] for row in codes}
    assert advice["5360"] == CODE_ADVICE["5360"]
    assert advice["no answer"] == CODE_ADVICE["transport"]


def test_mask_recipients_masks_them_in_cells_messages_and_warnings_and_only_then() -> None:
    clear = page()
    assert "ann@example.org" in clear
    assert "U7654321" in clear
    masked = page(replace(CONTEXT, mask_recipients=True))
    for secret in ("ann@example.org", "U7654321", "138 0013 8000"):
        assert secret not in masked
    assert "a***@example.org" in masked
    assert "U7***" in masked
    assert "recipients are masked for mailing" in masked


@pytest.mark.parametrize(("value", "masked"), [
    ("ann@example.org", "a***@example.org"), ("+86 138 0013 8000", "***000"), ("U7654321", "U7***"), ("U", "***"),
])
def test_mask_recipient(value: str, masked: str) -> None:
    assert mask_recipient(value) == masked


def test_local_time_without_a_time() -> None:
    assert local_time(None) == ("–", "")
