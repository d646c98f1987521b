"""`sharebatch run` and `validate` through the real CLI against the simulator over a real socket."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.simulator import SimulatorConfig

from ..conftest import SAMPLES, CsvWriter, ProcessSimulator, ThreadedSimulator, good_rows

pytestmark = pytest.mark.integration


def run_cli(args: list[str], token: str | None) -> Result:
    env = {"SHAREBATCH_TOKEN": token} if token is not None else {"SHAREBATCH_TOKEN": ""}
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_sample_csv_produces_three_outputs_with_the_right_statuses(sim_thread: ThreadedSimulator, tmp_path: Path):
    result = run_cli(["run", "--input", str(SAMPLES / "shares.csv"), "--base-url", sim_thread.base_url,
                      "--rate", "500", "--concurrency", "16", "--out", str(tmp_path)], sim_thread.token)
    assert result.exit_code == 1, result.output
    report = read_report(tmp_path / "report.csv")
    summary = json.loads((tmp_path / "summary.json").read_text())
    statuses = Counter(row["status"] for row in report)
    counted = ("success", "failed", "invalid", "duplicate", "not_attempted")
    assert statuses == Counter({k: summary[k] for k in counted if summary[k]})
    assert summary["not_attempted"] == 0
    assert summary["success"] > 200
    assert summary["total"] == len(report) == len((SAMPLES / "shares.csv").read_text().splitlines()) - 1
    # every rejection is the one the simulator's rules promise for that row
    expected_code = {"UNV": "5360", "FAIL": "5134"}
    for row in report:
        if row["status"] == "failed":
            prefix = next((p for p in expected_code if row["dk"].startswith(p)), None)
            assert row["code"] == (expected_code[prefix] if prefix else "5864"), row
        if row["status"] == "success":
            assert row["share_code"]
            assert row["code"] == "200"
            assert row["http_status"] == "200"
    failed_rows = read_report(tmp_path / "failed.csv")
    assert len(failed_rows) == summary["failed"] + summary["invalid"]
    assert all(row["error"] for row in failed_rows)
    # the simulator received exactly one shareByUid per successful or failed row
    shares_sent = [r for r in sim_thread.get("/_sim/requests") if r["path"].endswith("/shareByUid")]
    assert len(shares_sent) == summary["success"] + summary["failed"]


def test_sample_xlsx_gives_the_same_report_as_the_csv(sim_thread_factory, tmp_path: Path):
    reports = []
    for name in ("shares.csv", "shares.xlsx"):
        sim = sim_thread_factory(SimulatorConfig(seed=1))
        out = tmp_path / name
        result = run_cli(["run", "--input", str(SAMPLES / name), "--base-url", sim.base_url, "--rate", "500",
                          "--concurrency", "8", "--out", str(out)], sim.token)
        assert result.exit_code == 1, result.output
        volatile = ("share_code", "latency_ms", "finished_at", "expiry_sent")  # relative expiries count from each run
        rows = read_report(out / "report.csv")
        noted = [row["row"] for row in rows if "read from a number cell" in row["message"]]
        assert bool(noted) is (name == "shares.xlsx")  # run's report carries the loader's note too
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert summary["permanent"] == sum(1 for row in rows if row["status"] == "success"
                                           and row["expiry_sent"] == "permanent")
        for row in rows:  # only a spreadsheet has number cells, and says what they may have lost
            row["message"] = row["message"].split("the phone number was read from a number cell")[0].rstrip("; ")
        reports.append([{k: v for k, v in row.items() if k not in volatile} for row in rows])
        assert {row["expiry_sent"] == "permanent" for row in rows if row["status"] == "success"} == {True, False}
    assert reports[0] == reports[1]
    assert (tmp_path / "shares.xlsx" / "failed.xlsx").exists()


@pytest.mark.alone
def test_rate_limit_holds_in_every_sliding_second_at_the_simulator(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path
):
    # The simulator runs as its own process here: in a thread of the test process it would share
    # the GIL with the runner, and its arrival times would bunch up whenever the runner held it.
    source = write_csv("rows.csv", good_rows(45))
    result = run_cli(["run", "--input", str(source), "--base-url", sim_process.base_url, "--rate", "20",
                      "--concurrency", "8", "--out", str(tmp_path / "out")], sim_process.token)
    assert result.exit_code == 0, result.output
    stats = sim_process.get("/_sim/stats")
    assert stats["total_requests"] == 45
    assert stats["max_in_any_second"] <= 20


def test_rows_of_one_device_are_applied_in_input_order(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    # 40 rows over 4 devices, cover mark 1: each device's last row must be the share left valid
    source = write_csv("rows.csv", good_rows(40, devices=4, cover_mark="1"))
    result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--rate", "1000",
                      "--concurrency", "8", "--out", str(tmp_path / "out")], sim_thread.token)
    assert result.exit_code == 0, result.output
    shares = sim_thread.get("/_sim/shares")
    valid = {s["dk"]: s["share_uid"] for s in shares if s["valid"]}
    assert valid == {f"00D{d:06d}": f"U{36 + d:07d}" for d in range(4)}
    for device in range(4):
        created = [s["share_uid"] for s in sorted(shares, key=lambda s: s["share_id"]) if s["dk"] == f"00D{device:06d}"]
        assert created == [f"U{i:07d}" for i in range(device, 40, 4)]


def test_all_rows_succeeding_exits_0(sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path):
    source = write_csv("rows.csv", good_rows(5))
    result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out",
                      str(tmp_path / "out"), "--rate", "100"], sim_thread.token)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "out" / "failed.csv").exists()


def test_formula_cells_are_neutralised_and_read_back_unchanged(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    rows = [["pk", "dk", "recipient", "note"], ["p1", "00D1", "+8613800138000", "=HYPERLINK(\"x\")"],
            ["p1", "00D2", "@evil", "-2+3"]]
    source = write_csv("rows.csv", rows)
    result = run_cli(["validate", "--input", str(source), "--out", str(tmp_path / "out")], None)
    assert result.exit_code == 1  # "@evil" is not a valid recipient
    report = read_report(tmp_path / "out" / "validate" / "report.csv")
    assert (report[0]["recipient"], report[0]["note"]) == ("'+8613800138000", "'=HYPERLINK(\"x\")")
    assert (report[1]["recipient"], report[1]["note"]) == ("'@evil", "'-2+3")
    # the report itself reads back with the original cells
    first_report = tmp_path / "out" / "validate" / "report.csv"
    again = run_cli(["validate", "--input", str(first_report), "--out", str(tmp_path / "again")], None)
    assert again.exit_code == 1
    reread = read_report(tmp_path / "again" / "validate" / "report.csv")
    assert [r["recipient"] for r in reread] == ["'+8613800138000", "'@evil"]  # guarded again on the way out
    assert reread[0]["note"] == "'=HYPERLINK(\"x\")"


def test_validate_sends_nothing_and_reports_valid_invalid_duplicate(write_csv: CsvWriter, tmp_path: Path):
    rows = [["pk", "dk", "recipient", "expiry"], ["p1", "00D1", "U1", "30d"], ["p1", "00D1", "U1", "30d"],
            ["p1", "", "U2", ""]]
    result = run_cli(["validate", "--input", str(write_csv("rows.csv", rows)), "--out", str(tmp_path / "o")], None)
    assert result.exit_code == 1
    report = read_report(tmp_path / "o" / "validate" / "report.csv")
    assert [r["status"] for r in report] == ["valid", "duplicate", "invalid"]
    assert report[1]["message"] == "duplicate of row 2"
    assert "dk" in report[2]["message"]


def test_validate_exits_0_when_only_duplicates(write_csv: CsvWriter, tmp_path: Path):
    rows = [["pk", "dk", "recipient"], ["p1", "00D1", "U1"], ["p1", "00D1", "U1"]]
    result = run_cli(["validate", "--input", str(write_csv("rows.csv", rows)), "--out", str(tmp_path / "o")], None)
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("make_input", "fragment"),
    [
        (lambda d: d / "missing.csv", "no such file"),
        (lambda d: _write(d / "empty.csv", b""), "empty"),
        (lambda d: _write(d / "header.csv", b"pk,dk,recipient\n"), "no data rows"),
        (lambda d: _write(d / "nodk.csv", b"pk,recipient\np1,U1\n"), '"dk"'),
        (lambda d: _write(d / "binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20), "binary.csv"),
        (lambda d: _write(d / "latin.csv", "pk,dk,recipient\np1,d\xe9,U1\n".encode("latin-1")), "--encoding"),
    ],
)
def test_bad_input_files_exit_2_with_one_line_naming_the_file(tmp_path: Path, make_input, fragment: str):
    path = make_input(tmp_path)
    result = run_cli(["run", "--input", str(path), "--base-url", "http://127.0.0.1:9"], "tok")
    assert result.exit_code == 2
    message = result.output.strip()
    assert len(message.splitlines()) == 1
    assert message.startswith("error: ")
    assert fragment in message
    assert path.name in message
    assert "Traceback" not in result.output


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("job_text", "key"),
    [("rate = -1\n", "rate"), ("concurrency = 0\n", "concurrency"), ("max_attempts = 0\n", "max_attempts"),
     ("cover_mark = 4\n", "cover_mark"), ("colour = 'red'\n", "colour"), ("rate = [\n", "TOML")],
)
def test_bad_job_files_exit_2_naming_the_key(tmp_path: Path, write_csv: CsvWriter, job_text: str, key: str):
    write_csv("rows.csv", good_rows(1))
    job = tmp_path / "job.toml"
    job.write_text('input = "rows.csv"\nbase_url = "http://127.0.0.1:9"\n' + job_text)
    result = run_cli(["run", str(job)], "tok")
    assert result.exit_code == 2
    assert key in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_negative_rate_flag_exits_2(write_csv: CsvWriter):
    source = write_csv("rows.csv", good_rows(1))
    result = run_cli(["run", "--input", str(source), "--base-url", "http://127.0.0.1:9", "--rate", "-5"], "tok")
    assert result.exit_code == 2
    assert "rate" in result.output


def test_missing_token_exits_2_before_anything_is_sent(sim_thread: ThreadedSimulator, write_csv: CsvWriter):
    source = write_csv("rows.csv", good_rows(2))
    result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url], None)
    assert result.exit_code == 2
    assert "SHAREBATCH_TOKEN" in result.output
    assert sim_thread.get("/_sim/requests") == []


def test_plain_http_to_a_remote_host_is_refused(write_csv: CsvWriter):
    source = write_csv("rows.csv", good_rows(1))
    result = run_cli(["run", "--input", str(source), "--base-url", "http://iot-api.example.com"], "tok")
    assert result.exit_code == 2
    assert "--allow-insecure-http" in result.output


def test_rejected_token_stops_with_exit_3_and_rows_not_attempted(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(6))
    result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out",
                      str(tmp_path / "o"), "--concurrency", "1"], "Bearer not.a.validtoken")
    assert result.exit_code == 3, result.output
    statuses = Counter(r["status"] for r in read_report(tmp_path / "o" / "report.csv"))
    assert statuses == Counter({"not_attempted": 6})
    assert len(sim_thread.get("/_sim/requests")) == 1


def test_wrong_base_url_path_stops_at_once_with_exit_3(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(20))
    result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url + "/api", "--out",
                      str(tmp_path / "o"), "--concurrency", "1"], sim_thread.token)
    assert result.exit_code == 3
    assert "404" in result.output
    assert "base URL" in result.output
    statuses = Counter(r["status"] for r in read_report(tmp_path / "o" / "report.csv"))
    assert statuses["not_attempted"] == 19
    assert statuses["failed"] == 1
