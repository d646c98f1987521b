"""Exactly once when answers come late, clocks drift and machines lose power (issue 19).

Each test drives the real CLI against `sharebatch simulate` in its own process and checks the
simulator's ground truth. Each one failed on e7e3025 (the five paths and two untruths of the issue).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from runner.batches.batchdir import open_batch_journal
from runner.engine.runlock import RunLock

from ..conftest import CsvWriter, ProcessSimulator, good_rows, wait_for
from .test_exactly_once import (
    assert_platform_agrees,
    faults,
    platform_shares,
    read_csv,
    run_args,
    run_cli,
    share_requests,
)

pytestmark = pytest.mark.integration


def live_codes(sim: ProcessSimulator) -> set[str]:
    return {share["share_code"] for share in platform_shares(sim) if share["state"] == "valid"}


def assert_success_rows_live(sim: ProcessSimulator, out: Path) -> list[dict[str, str]]:
    """Every `success` row's share code is live on the platform, and each (device, recipient) was applied once
    unless the row says it was applied more than once."""
    report = read_csv(out / "report.csv")
    live = live_codes(sim)
    for line in report:
        if line["status"] == "success":
            assert line["share_code"] in live, f"a success row whose share is not live: {line}"
    return report


# --- path 1: a timed-out request applied after the look-up ----------------------------------------


@pytest.mark.parametrize("cover_mark", ["1", "2"])
def test_a_request_applied_after_the_client_gave_up_is_found_by_the_settled_look_up_not_shared_again(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path, cover_mark: str,
) -> None:
    rows = good_rows(8, cover_mark=cover_mark)
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    # the next 3 share requests are applied 2 to 3 s after they arrive: well after the client's 1 s timeout,
    # and after a retry's look-up would come without the settle window
    faults(sim_process, "late_apply", 3, late_apply_s=[2.0, 3.0])
    result = run_cli(run_args(source, out, sim_process, "--timeout-s", "1", "--settle-s", "3.5"), sim_process)
    assert result.exit_code == 0, result.output
    report = assert_platform_agrees(sim_process, out, rows)
    assert [line["status"] for line in report] == ["success"] * 8
    assert_success_rows_live(sim_process, out)
    assert share_requests(sim_process) == 8  # the three late ones were found, not sent again
    late = [line for line in report if line["message"].startswith("reconciled")]
    assert len(late) == 3
    # and a revoke of the report leaves nothing live
    revoked = run_cli(["revoke", str(out / "report.csv"), "--base-url", sim_process.base_url,
                       "--rate", "500"], sim_process)
    assert revoked.exit_code == 0, revoked.output
    assert live_codes(sim_process) == set()


def test_a_row_applied_twice_says_so_and_the_extra_share_is_revoked(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    """Two shares from one row (a request held past the settle window landed after all): one is kept, the
    other revoked by the tool, and the row's message says so."""
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
    header = ["pk", "dk", "recipient", "cover_mark", "error", "in_doubt_since"]
    fed_back = write_csv("failed.csv", [header, ["p1test", "00D000001", "U0000001", "2", "lost", since]])
    for _ in range(2):  # the platform applied the row's request twice
        sim_call_share(sim_process, "00D000001", "U0000001")
    result = run_cli(run_args(fed_back, tmp_path / "out", sim_process), sim_process)
    assert result.exit_code == 0, result.output
    [line] = read_csv(tmp_path / "out" / "report.csv")
    assert line["status"] == "success"
    assert "applied 2 times" in line["message"]
    assert "revoked the extra" in line["message"]
    assert live_codes(sim_process) == {line["share_code"]}


def sim_call_share(sim: ProcessSimulator, dk: str, uid: str) -> str:
    import urllib.request

    url = f"{sim.base_url}/v2/binding/enduserapi/shareByUid?pk=p1test&dk={dk}&shareUid={uid}&coverMark=2"
    request = urllib.request.Request(url, method="POST", headers={"Authorization": sim.token})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["data"])


# --- path 2: kill -9 while a new batch takes over an out dir ----------------------------------------


def test_a_kill_while_a_new_batch_takes_over_the_out_dir_keeps_the_earlier_batchs_doubt(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    rows = good_rows(4, cover_mark="2")
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    assert run_cli(run_args(source, out, sim_process), sim_process).exit_code == 0
    # As if the run had been killed with its requests out: the shares exist, the journal says in flight.
    with sqlite3.connect(out / "journal.sqlite") as journal:
        journal.execute("UPDATE rows SET state = 'in_flight', started_ms = ?, doubt_ms = ?, share_code = NULL",
                        (int(time.time() * 1000) - 10_000,) * 2)
        journal.execute("DELETE FROM applied")
    edited = [*rows, ["p1test", "00D000009", "U0000009", "30d", "2"]]
    write_csv("rows.csv", edited)
    # A new batch takes over the out dir and is killed before its rows are written: the earlier batch is in
    # history, the new journal is empty.
    open_batch_journal(out, "the-new-batch", fresh=False).journal.close()
    resumed = run_cli(run_args(source, out, sim_process), sim_process)
    assert resumed.exit_code == 0, resumed.output
    report = assert_platform_agrees(sim_process, out, edited)
    assert [line["status"] for line in report] == ["success"] * 5
    assert share_requests(sim_process) == 4 + 1  # the four in doubt were looked up, not shared again


# --- path 3: run --skip-existing with a failing share list -----------------------------------------


def test_skip_existing_never_sends_a_row_whose_share_list_could_not_be_read(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    rows = good_rows(20, cover_mark="2", expiry="2030-01-01")  # the same expiry in both batches: in place
    source = write_csv("rows.csv", rows)
    assert run_cli(run_args(source, tmp_path / "first", sim_process), sim_process).exit_code == 0
    sim_process.post("/_sim/config", {"list_fault_rate": 0.4})
    out = tmp_path / "again"
    result = run_cli(run_args(source, out, sim_process, "--skip-existing", "--max-attempts", "1"), sim_process)
    assert result.exit_code in (1, 3), result.output
    assert share_requests(sim_process) == 20  # not one row shared a second time
    statuses = Counter(line["status"] for line in read_csv(out / "report.csv"))
    assert statuses["not_attempted"] > 0
    assert set(statuses) <= {"success", "not_attempted"}
    assert "could not read their devices' share lists" in result.output


# --- path 4: the host's clock ahead of the platform's -------------------------------------------------


def test_look_ups_use_the_platforms_clock_when_the_host_runs_ahead(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    rows = good_rows(8, cover_mark="2")
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    sim_process.post("/_sim/config", {"clock_offset_s": -90})  # the platform's clock 90 s behind the host's
    faults(sim_process, "drop_after_apply", 3)
    result = run_cli(run_args(source, out, sim_process), sim_process)
    assert result.exit_code == 0, result.output
    report = assert_platform_agrees(sim_process, out, rows)
    assert [line["status"] for line in report] == ["success"] * 8
    assert share_requests(sim_process) == 8
    assert "the platform's clock is 90 s behind this machine's" in result.output  # warned once
    assert result.output.count("clock is") == 1
    status = run_cli(["status", "--out", str(out)], sim_process)
    assert "90 s behind this machine's" in status.output


# --- path 5: an OS crash or power loss -----------------------------------------------------------------


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (apt-get install -y strace)")
def test_the_in_flight_mark_is_on_disk_before_the_request_leaves(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    """What survives a power cut is what was fsynced: the journal's sync must come before the request is
    written to the socket (strace shows the order of the system calls)."""
    source = write_csv("rows.csv", good_rows(1, cover_mark="2"))
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "SHAREBATCH_TOKEN": sim_process.token}
    command = ["strace", "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync,pwrite64,write,sendto,sendmsg", "-s", "80",
               "-o", str(trace), sys.executable, "-m", "runner", *run_args(source, tmp_path / "out", sim_process)]
    done = subprocess.run(command, env=env, capture_output=True, timeout=120, check=False)
    if b"Operation not permitted" in done.stderr and not trace.exists():
        pytest.skip("ptrace is not permitted here")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    calls = trace.read_text(errors="replace").splitlines()
    sent = next(i for i, call in enumerate(calls) if "POST /v2/binding/enduserapi/shareByUid" in call)
    journal = r"\(\d+<[^>]*journal\.sqlite"
    writes = [i for i, call in enumerate(calls[:sent]) if re.search("pwrite64" + journal, call)]
    assert writes, "the in-flight mark was not written before the request"
    synced = [i for i, call in enumerate(calls[:sent]) if re.search("(fsync|fdatasync)" + journal, call)]
    assert synced, "the journal was never synced before the request"
    assert synced[-1] > writes[-1], \
        "no fsync before the share request was written: an OS crash could lose the in-flight mark"


# --- the two untruths ----------------------------------------------------------------------------------


def test_rows_waiting_in_the_rate_gate_when_the_run_stops_are_not_attempted_not_unknown(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    rows = good_rows(4, cover_mark="2")
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    env = {**os.environ, "SHAREBATCH_TOKEN": sim_process.token}
    args = [*run_args(source, out, sim_process), "--rate", "0.1"]  # one request every 10 s: the rest wait
    process = subprocess.Popen([sys.executable, "-m", "runner", *args], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: share_requests(sim_process) == 1 or process.poll() is not None)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 143
    finally:
        process.kill()
        process.wait(timeout=30)
    assert share_requests(sim_process) == 1
    statuses = Counter(line["status"] for line in read_csv(out / "report.csv"))
    assert statuses == {"success": 1, "not_attempted": 3}, statuses


def test_extend_and_revoke_refuse_while_a_run_holds_the_batch_and_run_refuses_while_extend_runs(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    source = write_csv("rows.csv", good_rows(3, cover_mark="2"))
    out = tmp_path / "out"
    assert run_cli(run_args(source, out, sim_process), sim_process).exit_code == 0
    report = str(out / "report.csv")
    with RunLock(out):  # a run of the batch is active
        extend = run_cli(["extend", report, "--expiry", "90d", "--base-url", sim_process.base_url],
                         sim_process)
        revoke = run_cli(["revoke", report, "--base-url", sim_process.base_url], sim_process)
    assert (extend.exit_code, revoke.exit_code) == (4, 4), extend.output + revoke.output
    assert "another run is active" in extend.output
    assert int(sim_process.get("/_sim/stats")["by_endpoint"].get("setShareTime", 0)) == 0
    # and while extend runs (each answer slowed), the batch's run is refused
    sim_process.post("/_sim/config", {"latency_ms": 3000})
    env = {**os.environ, "SHAREBATCH_TOKEN": sim_process.token}
    process = subprocess.Popen([sys.executable, "-m", "runner", "extend", report, "--expiry", "90d",
                                "--base-url", sim_process.base_url, "--concurrency", "1"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: int(sim_process.get("/_sim/stats")["by_endpoint"].get("setShareTime", 0)) >= 1)
        run = run_cli(run_args(source, out, sim_process), sim_process)
        assert run.exit_code == 4, run.output
    finally:
        process.kill()
        process.wait(timeout=30)


# --- found by the chaos test: input order across runs under cover mark 1 ----------------------------------


def test_a_resume_never_sends_a_row_behind_a_later_row_of_its_device_under_cover_mark_1(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    rows = [["pk", "dk", "recipient", "cover_mark"], ["p1test", "00D000001", "U0000001", "1"],
            ["p1test", "00D000001", "U0000002", "1"]]
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    faults(sim_process, "server_error", 1)  # row 2 fails (nothing applied); row 3 then shares the device
    first = run_cli(run_args(source, out, sim_process, "--max-attempts", "1"), sim_process)
    assert first.exit_code == 1, first.output
    assert [line["status"] for line in read_csv(out / "report.csv")] == ["failed", "success"]
    again = run_cli(run_args(source, out, sim_process), sim_process)
    assert again.exit_code == 1, again.output
    report = read_csv(out / "report.csv")
    assert [line["status"] for line in report] == ["not_attempted", "success"]
    assert "row 3, later in the file, already shared this device" in report[0]["message"]
    assert live_codes(sim_process) == {report[1]["share_code"]}  # the last row of the device keeps it
