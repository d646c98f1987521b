"""Exactly once on every path: each row applied at most once, every `success` held by the platform.

Each test drives the real CLI against `sharebatch simulate` in its own process, under cover mark 2
(a second share of a row would show as a second share on the simulator), and ends by checking
the platform's shares against the report, the failed-rows file and the summary.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import CsvWriter, ProcessSimulator, good_rows, wait_for

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000


def run_cli(args: list[str], sim: ProcessSimulator) -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": sim.token}, catch_exceptions=False)


def run_args(source: Path, out: Path, sim: ProcessSimulator, *extra: str) -> list[str]:
    """A run with a short timeout and settle window (the simulator applies at once or not at all unless
    told otherwise), so a row in doubt is verified within seconds."""
    return ["run", "--input", str(source), "--out", str(out), "--base-url", sim.base_url, "--rate", "500",
            "--concurrency", "4", "--timeout-s", "2", "--settle-s", "2.5", *extra]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def platform_shares(sim: ProcessSimulator) -> list[dict[str, Any]]:
    return list(sim.get("/_sim/shares"))


def share_requests(sim: ProcessSimulator) -> int:
    return int(sim.get("/_sim/stats")["by_endpoint"].get("shareByUid", 0))


def faults(sim: ProcessSimulator, kind: str, budget: int, **extra: Any) -> None:
    """The next `budget` shareByUid requests meet fault `kind`; the rest are answered normally."""
    sim.post("/_sim/config", {"fault_rate": 1.0, "fault_kinds": [kind], "fault_budget": budget, **extra})


def assert_platform_agrees(sim: ProcessSimulator, out: Path, rows: list[list[str]]) -> list[dict[str, str]]:
    """Each row applied at most once; report, failed file and summary tell the platform's truth."""
    shares = platform_shares(sim)
    created = Counter((share["dk"], share["share_uid"]) for share in shares)
    assert max(created.values(), default=0) <= 1, f"a row was shared twice: {created.most_common(3)}"
    held = {(share["dk"], share["share_uid"]): share["share_code"] for share in shares}
    report = read_csv(out / "report.csv")
    assert [(r["dk"], r["recipient"]) for r in report] == [(row[1], row[2]) for row in rows[1:]]
    failed_file = out / "failed.csv"
    to_do = {(r["dk"], r["recipient"]): r for r in read_csv(failed_file)} if failed_file.exists() else {}
    for line in report:
        key = (line["dk"], line["recipient"])
        if line["status"] == "success":
            assert line["share_code"], f"success without a share code: {line}"
            assert held.get(key) == line["share_code"], f"the platform does not hold {line}"
        elif key in held:  # held but not reported done: only honest while the row carries its doubt
            assert line["status"] in ("failed", "unknown"), line
            assert to_do[key].get("in_doubt_since"), f"held by the platform, but not in doubt: {line}"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    statuses = Counter(line["status"] for line in report)
    for status in ("success", "failed", "invalid", "duplicate", "not_attempted", "unknown"):
        assert summary[status] == statuses.get(status, 0), status
    still_to_do = [(r["dk"], r["recipient"]) for r in report if r["status"] not in ("success", "duplicate")]
    assert list(to_do) == still_to_do
    return report


def set_anchor(journal: sqlite3.Connection, *, hours_ago: float) -> None:
    """As if the batch had started `hours_ago` (relative expiries count from its start)."""
    anchor_ms = int(time.time() * 1000 - hours_ago * HOUR_MS)
    journal.execute("UPDATE meta SET value = ? WHERE key = 'anchor_ms'", (str(anchor_ms),))


# --- 1. a signal while a request is out and slow ---------------------------------------------------


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_a_slow_request_leaves_the_row_unknown_and_the_resume_does_not_share_it_twice(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path, signum: signal.Signals, exit_code: int,
) -> None:
    rows = good_rows(6, cover_mark="2")
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    faults(sim_process, "slow_after_apply", 1, slow_fault_s=120)
    env = {**os.environ, "SHAREBATCH_TOKEN": sim_process.token}
    args = run_args(source, out, sim_process, "--concurrency", "1", "--timeout-s", "60", "--settle-s", "61")
    process = subprocess.Popen([sys.executable, "-m", "runner", *args], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        wait_for(lambda: any(r["fault"] for r in sim_process.get("/_sim/requests")) or process.poll() is not None)
        process.send_signal(signum)
        assert process.wait(timeout=60) == exit_code
    finally:
        process.kill()
        process.wait(timeout=30)
        assert process.stderr is not None
        stderr = process.stderr.read().decode()
        process.stderr.close()
    assert "Traceback" not in stderr
    [slow] = [r for r in sim_process.get("/_sim/requests") if r["fault"]]
    first = {line["dk"]: line for line in read_csv(out / "report.csv")}
    slow_row = first[slow["params"]["dk"]]
    assert slow_row["status"] == "unknown", slow_row
    assert "may have been applied" in slow_row["message"]

    sim_process.post("/_sim/config", {"fault_rate": 0.0})
    resumed = run_cli(run_args(source, out, sim_process), sim_process)
    assert resumed.exit_code == 0, resumed.output
    report = assert_platform_agrees(sim_process, out, rows)
    again = next(line for line in report if line["dk"] == slow["params"]["dk"])
    assert (again["status"], again["share_code"]) == ("success", slow["share_code"])
    assert again["message"].startswith("reconciled")
    assert again["attempts"] == "1"
    assert len(platform_shares(sim_process)) == 6


# --- 2. a 2xx that is not the platform's answer, after the share was applied -------------------------


@pytest.mark.parametrize("kind", ["html_after_apply", "truncated_after_apply", "empty_data_after_apply",
                                  "odd_code_after_apply"])
def test_a_garbled_answer_after_the_share_was_applied_is_settled_by_a_look_up_not_sent_again(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path, kind: str,
) -> None:
    rows = good_rows(8, devices=4, cover_mark="2")
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    # listed_status 7: a fresh invite listed with a status nobody documented must still be found
    faults(sim_process, kind, 3, listed_status=7)
    result = run_cli(run_args(source, out, sim_process), sim_process)
    assert result.exit_code == 0, result.output
    report = assert_platform_agrees(sim_process, out, rows)
    assert [line["status"] for line in report] == ["success"] * 8
    garbled = {r["share_code"] for r in sim_process.get("/_sim/requests") if r["fault"]}
    assert len(garbled) == 3
    assert {line["share_code"] for line in report} >= garbled
    assert share_requests(sim_process) == 8
    # and a resume has nothing to send
    again = run_cli(run_args(source, out, sim_process), sim_process)
    assert again.exit_code == 0
    assert share_requests(sim_process) == 8


# --- 3. the failed-rows file carries the doubt --------------------------------------------------


def test_rows_that_gave_up_in_doubt_are_looked_up_not_shared_again_when_the_failed_file_is_fed_back(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    rows = good_rows(10, cover_mark="2")
    source = write_csv("rows.csv", rows)
    first_out, second_out = tmp_path / "first", tmp_path / "second"
    # Every answer comes after the client's timeout: each share is applied, but late; the run stops (its
    # deadline) while the rows wait for their attempts to settle, so they end in doubt.
    sim_process.post("/_sim/config", {"latency_ms": 1500})
    first = run_cli(run_args(source, first_out, sim_process, "--timeout-s", "0.3", "--settle-s", "5",
                             "--max-attempts", "1", "--concurrency", "10", "--deadline", "1"), sim_process)
    assert first.exit_code == 3, first.output
    wait_for(lambda: len(platform_shares(sim_process)) == 10)
    report = assert_platform_agrees(sim_process, first_out, rows)
    assert {line["status"] for line in report} <= {"unknown", "failed"}
    failed = read_csv(first_out / "failed.csv")
    assert len(failed) == 10
    assert all(line["in_doubt_since"].endswith("Z") for line in failed)

    sim_process.post("/_sim/config", {"latency_ms": 0})
    fed_back = run_cli(run_args(first_out / "failed.csv", second_out, sim_process), sim_process)
    assert fed_back.exit_code == 0, fed_back.output
    assert share_requests(sim_process) == 10  # not one share sent a second time
    assert len(platform_shares(sim_process)) == 10
    held = {share["dk"]: share["share_code"] for share in platform_shares(sim_process)}
    second = read_csv(second_out / "report.csv")
    assert [(line["status"], line["share_code"]) for line in second] == [("success", held[line["dk"]])
                                                                         for line in second]
    assert not (second_out / "failed.csv").exists()


def test_a_fed_back_failed_file_with_a_mangled_doubt_cell_sends_nothing_for_that_row(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    source = write_csv("fix.csv", [["pk", "dk", "recipient", "cover_mark", "error", "in_doubt_since"],
                                   ["p1test", "00D000001", "U0000001", "2", "lost", "yesterday"]])
    result = run_cli(run_args(source, tmp_path / "out", sim_process), sim_process)
    assert result.exit_code == 1
    [line] = read_csv(tmp_path / "out" / "report.csv")
    assert line["status"] == "invalid"
    assert "in_doubt_since" in line["message"]
    assert share_requests(sim_process) == 0


# --- 4. the inbox: the same bytes under another name -----------------------------------------


def test_the_same_bytes_dropped_again_under_a_copy_name_move_to_done_without_a_request(
    sim_process: ProcessSimulator, tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    job = tmp_path / "nightly.toml"
    job.write_text(f'input = "inbox/*.csv"\nbase_url = "{sim_process.base_url}"\nrate = 500\n', encoding="utf-8")
    rows = good_rows(5, cover_mark="2")
    with (inbox / "shares.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    content = (inbox / "shares.csv").read_bytes()
    assert run_cli(["run", str(job)], sim_process).exit_code == 0
    (inbox / "shares (1).csv").write_bytes(content)
    again = run_cli(["run", str(job)], sim_process)
    assert again.exit_code == 0, again.output
    assert "nothing sent" in again.output
    assert sorted(path.name for path in (inbox / "done").iterdir()) == ["shares (1).csv", "shares.csv"]
    assert share_requests(sim_process) == 5
    [batch] = list((tmp_path / "out" / "nightly").glob("batch-*"))
    assert_platform_agrees(sim_process, batch, rows)


# --- 5. cron: a fixed input path, a new file every night ------------------------------------------


def test_tonights_file_at_a_fixed_path_is_a_new_batch_with_its_own_expiries_and_last_nights_is_kept(
    sim_process: ProcessSimulator, tmp_path: Path,
) -> None:
    job = tmp_path / "nightly.toml"
    job.write_text(f'input = "nightly.csv"\nbase_url = "{sim_process.base_url}"\nrate = 500\n', encoding="utf-8")
    night_1 = good_rows(4, cover_mark="2", expiry="12h")
    night_2 = [*good_rows(4, cover_mark="2", expiry="12h"), ["p1test", "00D000009", "U0000009", "12h", "2"]]
    source = tmp_path / "nightly.csv"
    out = tmp_path / "out" / "nightly"

    def write(rows: list[list[str]]) -> None:
        with source.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(rows)

    write(night_1)
    assert run_cli(["run", str(job)], sim_process).exit_code == 0
    night_1_codes = {line["share_code"] for line in read_csv(out / "report.csv")}
    # as if last night's batch started 20 hours ago
    with sqlite3.connect(out / "journal.sqlite") as journal:
        set_anchor(journal, hours_ago=20)
    write(night_2)
    started_ms = int(time.time() * 1000)
    second = run_cli(["run", str(job)], sim_process)
    assert second.exit_code == 0, second.output
    report = read_csv(out / "report.csv")
    assert [line["status"] for line in report] == ["success"] * 5
    assert not {line["share_code"] for line in report} & night_1_codes  # every row of tonight was sent
    assert share_requests(sim_process) == 9
    tonight = {share["share_code"]: share for share in platform_shares(sim_process)}
    for line in report:  # 12 h from tonight's start, not from last night's
        expire = tonight[line["share_code"]]["expire_at_ms"]
        assert started_ms + 12 * HOUR_MS - 60_000 <= expire <= started_ms + 12 * HOUR_MS + 60_000
    [kept] = list((out / "history").iterdir())
    assert {line["share_code"] for line in read_csv(kept / "report.csv")} == night_1_codes
    assert (kept / "journal.sqlite").exists()


def test_a_row_whose_relative_expiry_passed_before_it_was_sent_is_not_sent(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    rows = good_rows(3, cover_mark="2", expiry="12h")
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    stopped = CliRunner().invoke(main, run_args(source, out, sim_process), env={"SHAREBATCH_TOKEN": "Bearer dead"})
    assert stopped.exit_code == 3  # the token is refused: nothing was applied
    refused = share_requests(sim_process)
    with sqlite3.connect(out / "journal.sqlite") as journal:  # as if that run started 13 hours ago
        set_anchor(journal, hours_ago=13)
    resumed = run_cli(run_args(source, out, sim_process), sim_process)
    assert resumed.exit_code == 1
    report = assert_platform_agrees(sim_process, out, rows)
    assert [line["status"] for line in report] == ["invalid"] * 3
    assert all("had passed" in line["message"] for line in report)
    assert share_requests(sim_process) == refused
    assert platform_shares(sim_process) == []


# --- 6. the input replaced while a run is going -------------------------------------------------


def test_an_input_replaced_during_the_run_cannot_make_the_report_disagree_with_the_platform(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    rows = good_rows(12, cover_mark="2")
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    sim_process.post("/_sim/config", {"latency_ms": 100})
    env = {**os.environ, "SHAREBATCH_TOKEN": sim_process.token}
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", *run_args(source, out, sim_process, "--concurrency", "1")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: share_requests(sim_process) >= 2 or process.poll() is not None)
    other = [["pk", "dk", "recipient"], *[["p9other", f"99X{i:06d}", f"V{i:07d}"] for i in range(30)]]
    write_csv("rows.csv", other)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert_platform_agrees(sim_process, out, rows)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert any("changed while the run was going" in warning for warning in summary["warnings"])
    assert {share["pk"] for share in platform_shares(sim_process)} == {"p1test"}


# --- 7. validate after a run ----------------------------------------------------------------


def test_validate_after_a_run_leaves_its_outputs_alone_and_the_batch_can_still_be_revoked(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    rows = good_rows(5, cover_mark="2")
    source = write_csv("rows.csv", rows)
    job = tmp_path / "batch.toml"
    job.write_text(f'input = "rows.csv"\nbase_url = "{sim_process.base_url}"\nrate = 500\n', encoding="utf-8")
    out = tmp_path / "out" / "batch"
    assert run_cli(["run", str(job)], sim_process).exit_code == 0
    before = {name: (out / name).read_bytes() for name in ("report.csv", "summary.json")}
    assert source.exists()
    validated = run_cli(["validate", str(job)], sim_process)
    assert validated.exit_code == 0, validated.output
    assert {name: (out / name).read_bytes() for name in before} == before
    assert [line["status"] for line in read_csv(out / "validate" / "report.csv")] == ["valid"] * 5
    revoked = run_cli(["revoke", str(out / "report.csv"), "--base-url", sim_process.base_url, "--rate", "500"],
                      sim_process)
    assert revoked.exit_code == 0, revoked.output
    assert [line["status"] for line in read_csv(out / "revoke" / "report.csv")] == ["revoked"] * 5
    assert not any(share["valid"] for share in platform_shares(sim_process))


# --- 8. a job file without `out`, run from another folder ---------------------------------------


def test_a_job_without_out_finds_its_batch_from_any_folder(
    sim_process: ProcessSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    rows = good_rows(4, cover_mark="2")
    with (tmp_path / "rows.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    job = jobs / "batch.toml"
    job.write_text(f'input = "../rows.csv"\nbase_url = "{sim_process.base_url}"\nrate = 500\n', encoding="utf-8")
    monkeypatch.chdir(jobs)
    assert run_cli(["run", "batch.toml"], sim_process).exit_code == 0
    monkeypatch.chdir(tmp_path)
    again = run_cli(["run", "jobs/batch.toml"], sim_process)
    assert again.exit_code == 0, again.output
    assert share_requests(sim_process) == 4
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    status = run_cli(["status", str(job)], sim_process)
    assert status.exit_code == 0, status.output
    assert "4 rows" in status.output
    assert_platform_agrees(sim_process, jobs / "out" / "batch", rows)


# --- 9. the share job again after a revoke -------------------------------------------------------


def test_after_a_partial_revoke_the_share_job_refuses_then_reshares_only_the_revoked_rows(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    source, out, first = share_then_revoke(sim_process, write_csv, tmp_path, "--rows", "2-3")
    refused = run_cli(run_args(source, out, sim_process), sim_process)
    assert refused.exit_code == 2
    assert "revoked 2 of this batch's shares" in refused.output
    assert "--reshare-revoked" in refused.output
    assert share_requests(sim_process) == 4

    again = run_cli(run_args(source, out, sim_process, "--reshare-revoked"), sim_process)
    assert again.exit_code == 0, again.output
    report = assert_platform_agrees_on_valid_shares(sim_process, out)
    now = {line["row"]: line["share_code"] for line in report}
    assert [now[row] == first[row] for row in ("2", "3", "4", "5")] == [False, False, True, True]
    assert share_requests(sim_process) == 6
    # the same command again has nothing to do and nothing to refuse
    assert run_cli(run_args(source, out, sim_process), sim_process).exit_code == 0
    assert share_requests(sim_process) == 6


def share_then_revoke(
    sim: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path, *revoke_args: str
) -> tuple[Path, Path, dict[str, str]]:
    """Share four rows (cover mark 2), then revoke them (or `--rows ...`): (input, out dir, row -> share code)."""
    source = write_csv("rows.csv", good_rows(4, cover_mark="2"))
    out = tmp_path / "out"
    assert run_cli(run_args(source, out, sim), sim).exit_code == 0
    first = {line["row"]: line["share_code"] for line in read_csv(out / "report.csv")}
    revoked = run_cli(["revoke", str(out / "report.csv"), *revoke_args, "--base-url", sim.base_url, "--rate", "500"],
                      sim)
    assert revoked.exit_code == 0, revoked.output
    return source, out, first


def assert_platform_agrees_on_valid_shares(sim: ProcessSimulator, out: Path) -> list[dict[str, str]]:
    """After a revoke: every success row's share is valid on the platform, one valid share per row."""
    valid = [share for share in platform_shares(sim) if share["valid"]]
    assert max(Counter((s["dk"], s["share_uid"]) for s in valid).values()) == 1
    report = read_csv(out / "report.csv")
    assert sorted(line["share_code"] for line in report if line["status"] == "success") == sorted(
        share["share_code"] for share in valid)
    return report


def test_after_a_revoke_the_share_job_refuses_until_fresh_then_shares_anew(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    source, out, first = share_then_revoke(sim_process, write_csv, tmp_path)
    first_codes = set(first.values())
    refused = run_cli(run_args(source, out, sim_process), sim_process)
    assert refused.exit_code == 2
    assert "revoked 4 of this batch's shares" in refused.output
    assert "--fresh" in refused.output
    assert share_requests(sim_process) == 4

    fresh = run_cli(run_args(source, out, sim_process, "--fresh"), sim_process)
    assert fresh.exit_code == 0, fresh.output
    report = read_csv(out / "report.csv")
    assert [line["status"] for line in report] == ["success"] * 4
    assert not {line["share_code"] for line in report} & first_codes
    valid = [share for share in platform_shares(sim_process) if share["valid"]]
    assert sorted(share["share_code"] for share in valid) == sorted(line["share_code"] for line in report)
    [kept] = list((out / "history").iterdir())
    assert (kept / "revoke" / "report.csv").exists()


def test_a_new_batch_in_the_same_out_dir_looks_up_the_rows_the_earlier_batch_left_in_doubt(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path,
) -> None:
    """An edited input is a new batch; the doubt of the batch it replaces is not forgotten."""
    rows = good_rows(3, cover_mark="2")
    source = write_csv("rows.csv", rows)
    out = tmp_path / "out"
    sim_process.post("/_sim/config", {"latency_ms": 1500})  # each answer comes after the client gave up
    first = run_cli(run_args(source, out, sim_process, "--timeout-s", "0.3", "--max-attempts", "1"), sim_process)
    assert first.exit_code == 1, first.output
    wait_for(lambda: len(platform_shares(sim_process)) == 3)
    sim_process.post("/_sim/config", {"latency_ms": 0})
    edited = [*rows, ["p1test", "00D000009", "U0000009", "30d", "2"]]
    write_csv("rows.csv", edited)
    second = run_cli(run_args(source, out, sim_process), sim_process)
    assert second.exit_code == 0, second.output
    report = assert_platform_agrees(sim_process, out, edited)
    assert [line["status"] for line in report] == ["success"] * 4
    assert all(line["message"].startswith("reconciled") for line in report[:3])
    assert share_requests(sim_process) == 3 + 1
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert any("a new batch started in this out dir" in warning for warning in summary["warnings"])
