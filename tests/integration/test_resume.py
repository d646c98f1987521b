"""Durability: resume, crash reconciliation, --fresh, the run lock and `status`, over real processes."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.engine.runlock import RunLock
from runner.simulator import FaultKind, SimulatorConfig

from ..conftest import CsvWriter, ThreadedSimulator, good_rows, wait_for

pytestmark = pytest.mark.integration

SHARE_PATH = "/v2/binding/enduserapi/shareByUid"


def run_cli(args: list[str], token: str) -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def start_runner(args: list[str], token: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SHAREBATCH_TOKEN": token}
    return subprocess.Popen([sys.executable, "-m", "runner", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)




def share_requests(sim: ThreadedSimulator) -> int:
    return int(sim.get("/_sim/stats")["by_endpoint"].get("shareByUid", 0))


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def assert_each_row_applied_exactly_once(sim: ThreadedSimulator, rows: list[list[str]]) -> None:
    created = Counter((s["dk"], s["share_uid"]) for s in sim.get("/_sim/shares"))
    expected = Counter((row[1], row[2]) for row in rows[1:])
    assert created == expected


def test_sigkill_at_random_moments_then_resume_applies_every_row_exactly_once(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path
):
    sim = sim_thread_factory(SimulatorConfig(
        seed=3, latency_ms=8, jitter_ms=4, fault_rate=0.15,
        fault_kinds=(FaultKind.DROP_AFTER_APPLY, FaultKind.RESET_BEFORE_APPLY, FaultKind.SERVER_ERROR),
    ))
    rows = good_rows(160, devices=60, cover_mark="2")
    for index, row in enumerate(rows[1:]):  # a third of the rows under cover mark 1
        row[4] = "1" if index % 3 == 0 else "2"
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    args = ["run", "--input", str(source), "--base-url", sim.base_url, "--out", str(out), "--rate", "300",
            "--concurrency", "8", "--timeout-s", "1", "--settle-s", "1.5", "--max-attempts", "8"]
    # 1.5 s settle: the simulator applies a share when it arrives (8 ± 4 ms) or never, so a killed run's
    # requests have landed long before; the 7 s default made each resume wait out its in-doubt rows.
    chooser = random.Random(11)
    for _ in range(4):
        before = share_requests(sim)
        process = start_runner(args, sim.token)
        target = before + chooser.randint(5, 30)
        try:
            wait_for(lambda p=process, t=target: share_requests(sim) >= t or p.poll() is not None)
        finally:
            process.kill()
            process.wait(timeout=30)
            assert process.stderr is not None
            process.stderr.close()
    for _ in range(3):  # faults stay on: a row may exhaust its attempts, the next run retries it
        result = run_cli(args, sim.token)
        if result.exit_code == 0:
            break
    assert result.exit_code == 0, result.output
    report = read_report(out / "report.csv")
    assert [r["status"] for r in report] == ["success"] * 160
    assert len({r["share_code"] for r in report}) == 160
    assert sim.get("/_sim/stats")["faults"]["drop_after_apply"] > 0
    assert_each_row_applied_exactly_once(sim, rows)


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_cleanly_and_the_same_command_finishes_the_batch(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path,
    signum: signal.Signals, exit_code: int,
):
    sim = sim_thread_factory(SimulatorConfig(seed=1, latency_ms=10))
    rows = good_rows(120, devices=40, cover_mark="2")
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    args = ["run", "--input", str(source), "--base-url", sim.base_url, "--out", str(out), "--rate", "200",
            "--concurrency", "4"]
    process = start_runner(args, sim.token)
    wait_for(lambda: share_requests(sim) >= 20)
    process.send_signal(signum)
    assert process.wait(timeout=30) == exit_code
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert "Traceback" not in stderr
    assert (f"stopped early: interrupted by {signum.name}; it is safe to run the same command again: it sends only "
            "the rows not sent yet") in stderr
    first = Counter(r["status"] for r in read_report(out / "report.csv"))
    assert first["not_attempted"] > 0
    assert first["success"] >= 20
    sent_before = share_requests(sim)
    result = run_cli(args, sim.token)
    assert result.exit_code == 0, result.output
    assert share_requests(sim) - sent_before == first["not_attempted"] + first["failed"]
    assert Counter(r["status"] for r in read_report(out / "report.csv")) == Counter({"success": 120})
    assert_each_row_applied_exactly_once(sim, rows)


def test_a_resumed_run_sends_nothing_for_rows_that_already_succeeded(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(30, expiry="30d"))
    args = ["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(tmp_path / "o"),
            "--rate", "500"]
    assert run_cli(args, sim_thread.token).exit_code == 0
    first = read_report(tmp_path / "o" / "report.csv")
    requests_before = len(sim_thread.get("/_sim/requests"))
    again = run_cli(args, sim_thread.token)
    assert again.exit_code == 0
    assert len(sim_thread.get("/_sim/requests")) == requests_before
    second = read_report(tmp_path / "o" / "report.csv")
    assert [(r["status"], r["share_code"]) for r in second] == [(r["status"], r["share_code"]) for r in first]
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["requests"] == 0


def test_fresh_keeps_the_old_batch_under_history_and_sends_everything_again(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(5))
    out = tmp_path / "o"
    args = ["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out), "--rate", "500"]
    assert run_cli(args, sim_thread.token).exit_code == 0
    first_report = (out / "report.csv").read_text(encoding="utf-8")
    assert run_cli([*args, "--fresh"], sim_thread.token).exit_code == 0
    [kept] = list((out / "history").iterdir())
    with sqlite3.connect(kept / "journal.sqlite") as old:
        assert old.execute("SELECT count(*) FROM rows WHERE state = 'success'").fetchone() == (5,)
    assert (kept / "report.csv").read_text(encoding="utf-8") == first_report
    assert share_requests(sim_thread) == 10


def test_reconciliation_adopts_an_applied_share_and_resends_an_unapplied_one(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(2, cover_mark="2"))
    out = tmp_path / "o"
    args = ["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out), "--timeout-s", "1",
            "--settle-s", "2"]
    started_ms = int(time.time() * 1000) - 1000
    assert run_cli(args, sim_thread.token).exit_code == 0
    first = read_report(out / "report.csv")
    # Row 2 looks killed mid-request after the share was made; row 3's attempt looks as if it began
    # after the share the platform holds (so that share is not its own): it must be sent again.
    later_ms = int(time.time() * 1000) + 6_000  # beyond the look-up's 5 s margin; it settles 2 s later
    with sqlite3.connect(out / "journal.sqlite") as journal:
        journal.execute("UPDATE rows SET state = 'in_flight', started_ms = ?, doubt_ms = ? WHERE row = 2",
                        (started_ms, started_ms))
        journal.execute("UPDATE rows SET state = 'in_flight', started_ms = ?, doubt_ms = ? WHERE row = 3",
                        (later_ms, later_ms))
    sent_before = share_requests(sim_thread)
    assert run_cli(args, sim_thread.token).exit_code == 0
    second = read_report(out / "report.csv")
    assert second[0]["share_code"] == first[0]["share_code"]
    assert second[0]["message"].startswith("reconciled")
    assert second[1]["share_code"] != first[1]["share_code"]
    assert share_requests(sim_thread) - sent_before == 1


def test_a_second_run_while_one_is_active_exits_4_naming_the_holder(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(2))
    out = tmp_path / "o"
    with RunLock(out):
        result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)],
                         sim_thread.token)
    assert result.exit_code == 4
    assert f"pid {os.getpid()}" in result.output
    assert share_requests(sim_thread) == 0


def test_a_stale_lock_from_a_dead_process_is_taken_over(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(2))
    out = tmp_path / "o"
    out.mkdir()
    (out / "run.lock").write_text(json.dumps({"pid": 999999, "host": "gone", "started_at": "2026-01-01T00:00:00"}))
    result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)],
                     sim_thread.token)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "run.lock").read_text())["pid"] == os.getpid()


def test_status_prints_progress_from_the_journal_without_the_network(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    rows = good_rows(4)
    rows.append(["p1test", "", "U9", "", ""])
    source = write_csv("rows.csv", rows)
    out = tmp_path / "o"
    run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)], sim_thread.token)
    requests_before = len(sim_thread.get("/_sim/requests"))
    result = CliRunner().invoke(main, ["status", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 rows" in result.output
    assert "success" in result.output
    assert " 4" in result.output
    assert "invalid" in result.output
    assert len(sim_thread.get("/_sim/requests")) == requests_before


def test_status_without_a_journal_exits_2(tmp_path: Path):
    result = CliRunner().invoke(main, ["status", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "no journal" in result.output


def test_a_resumed_run_removes_half_written_outputs_of_a_killed_one(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    out = tmp_path / "o"
    out.mkdir()
    stray = out / ".report.csv.abc123.tmp"
    stray.write_text("half a report")
    source = write_csv("rows.csv", good_rows(2))
    result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)],
                     sim_thread.token)
    assert result.exit_code == 0, result.output
    assert not stray.exists()
    assert (out / "report.csv").exists()
