"""A canary (`--limit N`) and a failure brake (`--max-failures N|P%`), through the CLI, against the simulator."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import CsvWriter, ThreadedSimulator, good_rows

pytestmark = pytest.mark.integration


def run_cli(args: list[str], token: str) -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def run_args(sim: ThreadedSimulator, source: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--input", str(source), "--base-url", sim.base_url, "--out", str(out), "--rate", "500", *extra]


def share_requests(sim: ThreadedSimulator) -> int:
    return int(sim.get("/_sim/stats")["by_endpoint"].get("shareByUid", 0))


def report(out: Path) -> list[dict[str, str]]:
    with (out / "report.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def assert_each_row_shared_at_most_once(sim: ThreadedSimulator) -> None:
    created = Counter((share["dk"], share["share_uid"]) for share in sim.get("/_sim/shares"))
    assert max(created.values(), default=0) <= 1, created.most_common(3)


def test_a_canary_sends_n_rows_then_the_same_command_without_limit_sends_the_rest(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(10, devices=4, cover_mark="2"))
    out = tmp_path / "o"
    canary = run_cli(run_args(sim_thread, source, out, "--limit", "3"), sim_thread.token)
    assert canary.exit_code == 0, canary.output  # the rows held back are the plan: `run --limit 3 && run`
    assert share_requests(sim_thread) == 3
    statuses = Counter(line["status"] for line in report(out))
    assert statuses == {"success": 3, "not_attempted": 7}
    held = [line for line in report(out) if line["status"] == "not_attempted"]
    assert all("--limit 3" in line["message"] for line in held)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["held_back"] == 7
    assert summary["stopped"] is None
    assert "held back by --limit" in canary.output
    with (out / "failed.csv").open(encoding="utf-8", newline="") as handle:
        assert "in_doubt_since" not in (csv.DictReader(handle).fieldnames or [])  # held back is never in doubt
    again = run_cli(run_args(sim_thread, source, out, "--limit", "3"), sim_thread.token)
    assert again.exit_code == 0, again.output
    assert share_requests(sim_thread) == 6
    rest = run_cli(run_args(sim_thread, source, out), sim_thread.token)
    assert rest.exit_code == 0, rest.output
    assert share_requests(sim_thread) == 10
    assert [line["status"] for line in report(out)] == ["success"] * 10
    assert_each_row_shared_at_most_once(sim_thread)


def test_limit_and_max_failures_are_job_keys(sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path):
    write_csv("rows.csv", good_rows(5))
    job = tmp_path / "job.toml"
    job.write_text(f'input = "rows.csv"\nbase_url = "{sim_thread.base_url}"\nlimit = 2\nmax_failures = "50%"\n',
                   encoding="utf-8")
    result = run_cli(["run", str(job)], sim_thread.token)
    assert result.exit_code == 0, result.output
    assert share_requests(sim_thread) == 2


def test_max_failures_stops_the_run_cleanly_and_a_resume_sends_the_rest_once(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    rows = good_rows(8, cover_mark="2")
    for index in (3, 4, 5):
        rows[index][1] = f"UNV{index:04d}"  # unverified devices: 5360
    source = write_csv("rows.csv", rows)
    out = tmp_path / "o"
    braked = run_cli(run_args(sim_thread, source, out, "--concurrency", "1", "--max-failures", "2"),
                     sim_thread.token)
    assert braked.exit_code == 3, braked.output
    assert [line["status"] for line in report(out)] == ["success"] * 2 + ["failed"] * 2 + ["not_attempted"] * 4
    summary = json.loads((out / "summary.json").read_text())
    assert "--max-failures 2" in summary["stopped"]
    assert share_requests(sim_thread) == 4
    resumed = run_cli(run_args(sim_thread, source, out, "--concurrency", "1"), sim_thread.token)
    assert resumed.exit_code == 1, resumed.output
    assert [line["status"] for line in report(out)] == ["success"] * 2 + ["failed"] * 3 + ["success"] * 3
    # the two refused rows (5360, re-sending cannot change it) stay failed; the four never sent go
    assert share_requests(sim_thread) == 4 + 4
    assert_each_row_shared_at_most_once(sim_thread)


def test_max_failures_as_a_share_waits_for_twenty_rows_then_stops(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    rows = good_rows(30)
    for index in range(1, 31, 2):
        rows[index][1] = f"UNV{index:04d}"  # every other row fails
    source = write_csv("rows.csv", rows)
    out = tmp_path / "o"
    result = run_cli(run_args(sim_thread, source, out, "--concurrency", "1", "--max-failures", "50%"),
                     sim_thread.token)
    assert result.exit_code == 3, result.output
    statuses = Counter(line["status"] for line in report(out))
    assert statuses == {"failed": 10, "success": 10, "not_attempted": 10}
    summary = json.loads((out / "summary.json").read_text())
    assert "10 of the 20 rows this run finished failed" in summary["stopped"]


def test_a_share_below_the_brake_lets_the_run_through(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    rows = good_rows(25)
    rows[1][1] = "UNV0001"
    source = write_csv("rows.csv", rows)
    result = run_cli(run_args(sim_thread, source, tmp_path / "o", "--max-failures", "10%"), sim_thread.token)
    assert result.exit_code == 1, result.output
    assert share_requests(sim_thread) == 25


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--limit", "0", "`limit` must be at least 1"),
    ("--max-failures", "0", "`max_failures` must be"),
    ("--max-failures", "ten", "`max_failures` must be"),
    ("--max-failures", "150%", "`max_failures` must be"),
])
def test_a_bad_limit_or_brake_exits_2_naming_it(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, option: str, value: str, says: str
):
    source = write_csv("rows.csv", good_rows(2))
    result = run_cli(run_args(sim_thread, source, tmp_path / "o", option, value), sim_thread.token)
    assert result.exit_code == 2
    assert says in result.output
    assert share_requests(sim_thread) == 0


def test_an_inbox_refuses_limit(sim_thread: ThreadedSimulator, tmp_path: Path):
    (tmp_path / "inbox").mkdir()
    result = run_cli(["run", "--input", str(tmp_path / "inbox" / "*.csv"), "--base-url", sim_thread.base_url,
                      "--out", str(tmp_path / "o"), "--limit", "2"], sim_thread.token)
    assert result.exit_code == 2
    assert "--limit does not apply to an inbox" in result.output
