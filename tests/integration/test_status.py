"""`sharebatch status` after every ending (finished, stopped, killed) and while a run holds the lock."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.engine.runlock import RunLock
from runner.errors import LockedError

from ..conftest import CsvWriter, ProcessSimulator, ThreadedSimulator, good_rows, wait_for

pytestmark = pytest.mark.integration


def run_cli(args: list[str], token: str) -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def status(*args: str) -> Result:
    return CliRunner().invoke(main, ["status", *args], catch_exceptions=False)


def status_json(*args: str) -> dict[str, Any]:
    result = status(*args, "--json")
    [batch] = json.loads(result.output)["batches"]
    batch["exit_code"] = result.exit_code
    return dict(batch)


def report_statuses(out: Path) -> Counter[str]:
    with (out / "report.csv").open(encoding="utf-8", newline="") as handle:
        return Counter(line["status"] for line in csv.DictReader(handle))


def test_a_finished_batch_with_failures_agrees_with_its_report_and_counts_each_code(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    rows = good_rows(5)
    rows[2][1] = "UNV0001"  # an unverified device: 5360
    rows[3][1] = "UNV0002"
    source = write_csv("rows.csv", rows)
    out = tmp_path / "jobs" / "out" / "b2"
    ran = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)],
                  sim_thread.token)
    assert ran.exit_code == 1, ran.output
    crooked = tmp_path / "jobs" / ".." / "jobs" / "out" / "b2"
    found = status_json("--out", str(crooked))
    assert found["state"] == "finished"
    assert found["out"] == str(out.resolve())
    assert found["rows"] == dict(report_statuses(out)) == {"success": 3, "failed": 2}
    assert found["failed_by_code"] == {"5360": 2}
    assert found["last_exit_code"] == 1
    assert found["running"] is None
    assert found["first_started_at"] <= found["last_finished_at"]
    assert found["exit_code"] == 0  # every row has its outcome
    text = status("--out", str(crooked))
    assert text.output.startswith(f"{out.resolve()}: 5 rows; finished")
    assert ".." not in text.output
    assert "5360 (device binding not verified" in text.output
    assert "what to do: The device's binding is not verified" in text.output
    assert "first start" in text.output
    assert "last finish" in text.output


def test_a_stopped_batch_says_why_and_exits_1(sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path):
    source = write_csv("rows.csv", good_rows(3))
    out = tmp_path / "o"
    # a base URL with a wrong path: HTTP 404 is fatal, the run stops with every row unsent
    ran = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url + "/nowhere", "--out", str(out)],
                  sim_thread.token)
    assert ran.exit_code == 3, ran.output
    found = status_json("--out", str(out))
    assert found["state"] == "stopped"
    assert "404" in found["why"]
    assert found["rows"] == dict(report_statuses(out))
    assert sum(found["rows"].values()) == 3
    assert "success" not in found["rows"]
    assert found["last_exit_code"] == 3
    assert found["exit_code"] == 1


def test_while_a_run_holds_the_lock_status_names_it_without_taking_the_lock(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    source = write_csv("rows.csv", good_rows(2))
    out = tmp_path / "o"
    assert run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)],
                   sim_thread.token).exit_code == 0
    assert status_json("--out", str(out))["state"] == "finished"
    with RunLock(out):
        import runner.engine.runlock as runlock

        def no_flock(*args: object) -> None:
            raise AssertionError("status tried to take the lock")

        with monkeypatch.context() as patched:
            patched.setattr(runlock.fcntl, "flock", no_flock)
            found = status_json("--out", str(out))
        assert found["state"] == "running"
        assert found["running"]["pid"] == os.getpid()
        assert found["exit_code"] == 1
        assert "a run holds the lock now (pid" in status("--out", str(out)).output
        with pytest.raises(LockedError), RunLock(out):  # still held: status left it alone
            pass
    assert status_json("--out", str(out))["state"] == "finished"


def test_after_a_kill_rows_left_in_flight_are_in_doubt_not_running_and_a_resume_finishes_it(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(4, cover_mark="2"))
    out = tmp_path / "o"
    sim_process.post("/_sim/config", {"fault_rate": 1.0, "fault_kinds": ["slow_after_apply"], "fault_budget": 1,
                                      "slow_fault_s": 120})
    args = ["run", "--input", str(source), "--out", str(out), "--base-url", sim_process.base_url, "--rate", "500",
            "--concurrency", "1", "--timeout-s", "3", "--settle-s", "3.5"]  # the resume looks the row up 3.5 s after
    process = subprocess.Popen([sys.executable, "-m", "runner", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "SHAREBATCH_TOKEN": sim_process.token})
    try:
        wait_for(lambda: any(r["fault"] for r in sim_process.get("/_sim/requests")) or process.poll() is not None)
        running = status_json("--out", str(out))
        assert running["state"] == "running", running
        assert running["rows"].get("in_flight") == 1
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
        process.wait(timeout=30)
    found = status_json("--out", str(out))
    assert found["state"] == "cut_off", found
    assert found["running"] is None
    assert "in_flight" not in found["rows"]
    assert "pending" not in found["rows"]
    assert found["rows"]["unknown"] == found["in_doubt"] == 1
    assert found["rows"]["not_attempted"] == 3
    assert found["exit_code"] == 1
    assert "killed" in found["why"]
    resumed = run_cli(args, sim_process.token)
    assert resumed.exit_code == 0, resumed.output
    after = status_json("--out", str(out))
    assert after["state"] == "finished"
    assert after["rows"] == dict(report_statuses(out)) == {"success": 4}
    assert after["exit_code"] == 0
