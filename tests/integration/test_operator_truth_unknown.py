"""Issue 21: `unknown` rows come with what to do, and the figures of a run say whose they are."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import CsvWriter, ThreadedSimulator, good_rows

pytestmark = pytest.mark.integration


def run_cli(args: list[str], token: str = "Bearer t") -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def _report(out: Path) -> list[dict[str, str]]:
    with (out / "report.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _run_args(source: Path, out: Path, sim: ThreadedSimulator, *extra: str) -> list[str]:
    # a short request timeout, so the settle window before a row in doubt is looked up stays short (1.5 s)
    return ["run", "--input", str(source), "--base-url", sim.base_url, "--out", str(out), "--rate", "1000",
            "--concurrency", "1", "--timeout-s", "1", "--settle-s", "1.5", *extra]


def _unknown_run(sim: ThreadedSimulator, source: Path, out: Path) -> Result:
    """Two shares applied with no answer, and every look-up of the share list fails: two rows end `unknown`."""
    sim.post("/_sim/config", {"fault_rate": 1.0, "fault_kinds": ["drop_after_apply"], "fault_budget": 2,
                              "list_failures": 1000})
    result = run_cli(_run_args(source, out, sim, "--max-attempts", "2"), sim.token)
    assert result.exit_code == 1, result.output
    sim.post("/_sim/config", {"fault_rate": 0.0, "list_failures": 0})
    return result


def test_unknown_rows_say_what_they_mean_and_what_to_do_on_the_terminal_and_in_report_html(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    source = write_csv("rows.csv", good_rows(6, cover_mark="2"))
    out = tmp_path / "o"
    result = _unknown_run(sim_thread, source, out)
    assert Counter(line["status"] for line in _report(out))["unknown"] == 2
    [told] = [line for line in result.output.splitlines() if line.startswith("unknown: ")]
    assert "2 rows ended unknown: the request may have been applied" in told
    assert "could not be asked whether it was" in told
    assert "Run the same command again: the resume looks each one up" in told
    assert "Do not share them again by hand" in told
    assert f"sharebatch status --out {out}" in told
    page = (out / "report.html").read_text(encoding="utf-8")
    [next_step] = re.findall(r'<p class="next-step" id="unknown-next"[^>]*>(.*?)</p>', page, re.S)
    assert "2 rows ended unknown" in next_step
    assert "What to do:" in next_step
    assert "Run the same command again: the resume looks each one up" in next_step
    # and what it says is true: the same command again settles both by look-up, nothing is shared twice
    again = run_cli(_run_args(source, out, sim_thread), sim_thread.token)
    assert again.exit_code == 0, again.output
    assert [line["status"] for line in _report(out)] == ["success"] * 6
    assert len(sim_thread.get("/_sim/shares")) == 6
    assert "unknown:" not in again.output
    assert 'id="unknown-next"' not in (out / "report.html").read_text(encoding="utf-8")


def test_status_json_counts_equal_report_csv_unknown_included(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    rows = good_rows(8, cover_mark="2")
    rows[3][2] = ""  # no recipient: invalid
    rows.append(list(rows[1]))  # the first row again: duplicate
    source = write_csv("rows.csv", rows)
    out = tmp_path / "o"
    _unknown_run(sim_thread, source, out)
    from_report = Counter(line["status"] for line in _report(out))
    assert {"unknown", "success", "invalid", "duplicate"} <= set(from_report), from_report
    status = run_cli(["status", "--out", str(out), "--json"])
    [batch] = json.loads(status.output)["batches"]
    assert batch["rows"] == dict(from_report)
    assert batch["total"] == sum(from_report.values())
    text = run_cli(["status", "--out", str(out)])
    assert "Run the same command again: the resume looks each one up" in text.output


def test_after_a_resume_the_terminal_labels_the_batch_counts_and_this_runs_figures_apart(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    source = write_csv("rows.csv", good_rows(10))
    out = tmp_path / "o"
    first = run_cli(_run_args(source, out, sim_thread, "--limit", "4"), sim_thread.token)
    assert first.exit_code == 0, first.output
    assert "resumed:" not in first.output  # a new batch: every figure is this run's
    resumed = run_cli(_run_args(source, out, sim_thread), sim_thread.token)
    assert resumed.exit_code == 0, resumed.output
    table = dict(re.findall(r"^│ (.+?) +│ +(.+?) │$", resumed.output, re.M))
    assert table["success"] == "10"  # the batch's: every run of it
    assert table["requests (this run)"] == "6"  # this run's: only what was left
    assert {"retries (this run)", "duration (this run)", "rate (this run)"} <= set(table)
    [note] = [line for line in resumed.output.splitlines() if line.startswith("resumed: ")]
    assert "the row counts are the whole batch's (every run of it)" in note
    assert "(this run) are this run's only" in note
    page = (out / "report.html").read_text(encoding="utf-8")  # report.html draws the same line
    batch_table = page[page.index('id="batch-figures"'):page.index('id="run-figures"')]
    run_table = page[page.index('id="run-figures"'):]
    run_table = run_table[:run_table.index("</table>")]
    assert '<td class="num" data-key="success">10</td>' in batch_table
    assert '<td class="num" data-key="requests">6</td>' in run_table


def test_a_retry_warning_names_the_share_list_look_up_when_the_look_up_failed(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    source = write_csv("rows.csv", good_rows(3, cover_mark="2"))
    out = tmp_path / "o"
    # the first share is applied with no answer; the look-up that settles it fails once, then reads the list
    sim_thread.post("/_sim/config", {"fault_rate": 1.0, "fault_kinds": ["drop_after_apply"], "fault_budget": 1,
                                     "list_failures": 1})
    result = run_cli(_run_args(source, out, sim_thread, "--max-attempts", "4"), sim_thread.token)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if " WARNING row " in line]
    assert any("the row's request failed: connection lost" in line for line in warnings), warnings
    [lookup] = [line for line in warnings if "the look-up of the device's share list failed" in line]
    assert "retrying" in lookup
    assert "the row's request failed: HTTP" not in result.output  # the look-up's 5xx is not blamed on the share
    assert [line["status"] for line in _report(out)] == ["success"] * 3
    assert len(sim_thread.get("/_sim/shares")) == 3
