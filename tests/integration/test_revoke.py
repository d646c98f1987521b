"""`sharebatch revoke`: undoing a batch against the simulator."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.simulator import SimulatorConfig

from ..conftest import CsvWriter, ThreadedSimulator, good_rows

pytestmark = pytest.mark.integration

UNSHARE = "ownerUserUnshareDevice"


def invoke(args: list[str], token: str) -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def report_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def share_run(sim: ThreadedSimulator, source: Path, out: Path) -> Path:
    result = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--out", str(out), "--rate", "500"],
                    sim.token)
    assert result.exit_code in (0, 1), result.output
    return out / "report.csv"


def test_revoke_leaves_no_valid_share_from_the_run_and_a_second_revoke_says_already_ended(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    rows = [*good_rows(12, cover_mark="2"), ["p1test", "UNV1", "U1", "", ""]]
    report = share_run(sim_thread, write_csv("rows.csv", rows), tmp_path / "run")
    created = {r["share_code"] for r in report_rows(report) if r["status"] == "success"}
    assert len(created) == 12
    first = invoke(["revoke", str(report), "--base-url", sim_thread.base_url, "--rate", "500"], sim_thread.token)
    assert first.exit_code == 0, first.output
    revoke_report = report_rows(tmp_path / "run" / "revoke" / "report.csv")
    assert Counter(r["status"] for r in revoke_report) == Counter({"revoked": 12})
    assert {r["share_code"] for r in revoke_report} == created
    still_valid = {s["share_code"] for s in sim_thread.get("/_sim/shares") if s["valid"]}
    assert not still_valid & created
    second = invoke(["revoke", str(report), "--base-url", sim_thread.base_url, "--rate", "500", "--out",
                     str(tmp_path / "again")], sim_thread.token)
    assert second.exit_code == 0, second.output
    statuses = Counter(r["status"] for r in report_rows(tmp_path / "again" / "report.csv"))
    assert statuses == Counter({"already_ended": 12})


def test_revoke_rows_picks_only_the_named_rows(sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path):
    report = share_run(sim_thread, write_csv("rows.csv", good_rows(10, cover_mark="2")), tmp_path / "run")
    result = invoke(["revoke", str(report), "--rows", "3,7-9", "--base-url", sim_thread.base_url], sim_thread.token)
    assert result.exit_code == 0, result.output
    revoked = report_rows(tmp_path / "run" / "revoke" / "report.csv")
    assert [r["row"] for r in revoked] == ["3", "7", "8", "9"]
    assert sum(1 for s in sim_thread.get("/_sim/shares") if s["valid"]) == 6


def test_revoke_refuses_a_file_that_is_not_a_report(write_csv: CsvWriter):
    source = write_csv("rows.csv", good_rows(2))
    result = invoke(["revoke", str(source), "--base-url", "http://127.0.0.1:9"], "tok")
    assert result.exit_code == 2
    assert "not a sharebatch report" in result.output


def test_bad_rows_selection_exits_2(sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path):
    report = share_run(sim_thread, write_csv("rows.csv", good_rows(2)), tmp_path / "run")
    result = invoke(["revoke", str(report), "--rows", "9-3", "--base-url", sim_thread.base_url], sim_thread.token)
    assert result.exit_code == 2
    assert "--rows" in result.output


def test_an_interrupted_revoke_resumes_and_revokes_each_share_once(
    sim_thread_factory, write_csv: CsvWriter, tmp_path: Path
):
    sim: ThreadedSimulator = sim_thread_factory(SimulatorConfig(seed=8, latency_ms=10))
    report = share_run(sim, write_csv("rows.csv", good_rows(60, cover_mark="2")), tmp_path / "run")
    args = ["revoke", str(report), "--base-url", sim.base_url, "--rate", "100", "--concurrency", "2"]
    process = subprocess.Popen([sys.executable, "-m", "runner", *args], env={**os.environ, "SHAREBATCH_TOKEN":
                               sim.token}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while sim.get("/_sim/stats")["by_endpoint"].get(UNSHARE, 0) < 10:
        assert time.monotonic() < deadline, "the revoke did not start"
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    partial = Counter(r["status"] for r in report_rows(tmp_path / "run" / "revoke" / "report.csv"))
    assert partial["not_attempted"] > 0
    result = invoke(args, sim.token)
    assert result.exit_code == 0, result.output
    final = Counter(r["status"] for r in report_rows(tmp_path / "run" / "revoke" / "report.csv"))
    assert final == Counter({"revoked": 60})
    deletes = Counter(r["params"]["shareCode"] for r in sim.get("/_sim/requests") if r["path"].endswith(UNSHARE))
    assert len(deletes) == 60
    assert set(deletes.values()) == {1}


# --- logging options, an empty selection, one batch per selection ------------------------------------


def test_revoke_takes_the_logging_options_of_run(sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path):
    import json

    report = share_run(sim_thread, write_csv("rows.csv", good_rows(4, cover_mark="2")), tmp_path / "run")
    quiet = invoke(["revoke", str(report), "--rows", "2", "--base-url", sim_thread.base_url, "--quiet"],
                   sim_thread.token)
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    assert "sharebatch summary" in quiet.stdout
    as_json = invoke(["revoke", str(report), "--rows", "3", "--base-url", sim_thread.base_url, "--log-format", "json"],
                     sim_thread.token)
    assert as_json.exit_code == 0, as_json.output
    assert as_json.stdout == ""
    events = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert events[-1]["event"] == "run_finished"
    assert events[-1]["summary"]["revoked"] == 1


@pytest.mark.parametrize(("selection", "says"), [
    ("500-600", "selects no row of the report"),
    ("5-5", "selects 1 row, not a successful share"),
    ("5", "selects 1 row, not a successful share"),  # row 5 is the unverified device: failed
])
def test_a_revoke_that_selects_nothing_exits_1_and_touches_nothing(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, selection: str, says: str
):
    rows = [*good_rows(3, cover_mark="2"), ["p1test", "UNV1", "U1", "", ""]]
    source = write_csv("rows.csv", rows)
    report = share_run(sim_thread, source, tmp_path / "run")
    result = invoke(["revoke", str(report), "--rows", selection, "--base-url", sim_thread.base_url], sim_thread.token)
    assert result.exit_code == 1, result.output
    assert f"error: {report}: nothing to revoke: --rows {selection} {says}" in result.stderr
    assert not (tmp_path / "run" / "revoke").exists()
    assert sim_thread.get("/_sim/stats")["by_endpoint"].get(UNSHARE, 0) == 0
    again = share_run(sim_thread, source, tmp_path / "run")  # the share batch was not marked as revoked
    assert again.exists()


def test_each_selection_gets_its_own_report_and_the_earlier_one_is_kept_in_history(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    report = share_run(sim_thread, write_csv("rows.csv", good_rows(9, cover_mark="2")), tmp_path / "run")
    revoke_dir = tmp_path / "run" / "revoke"
    first = invoke(["revoke", str(report), "--rows", "2-6,9", "--base-url", sim_thread.base_url], sim_thread.token)
    assert first.exit_code == 0, first.output
    second = invoke(["revoke", str(report), "--rows", "7-8", "--base-url", sim_thread.base_url], sim_thread.token)
    assert second.exit_code == 0, second.output
    assert [r["row"] for r in report_rows(revoke_dir / "report.csv")] == ["7", "8"]
    [earlier] = (revoke_dir / "history").iterdir()
    assert [r["row"] for r in report_rows(earlier / "report.csv")] == ["2", "3", "4", "5", "6", "9"]
    assert {r["status"] for r in report_rows(earlier / "report.csv")} == {"revoked"}
    assert "the earlier revoke (6 rows, 6 revoked) and its report are kept in" in second.output
    assert "shared again" not in second.output
    assert sim_thread.get("/_sim/stats")["by_endpoint"][UNSHARE] == 8
