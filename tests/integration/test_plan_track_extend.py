"""Before and after a batch, through the CLI against the simulator: plan, run --skip-existing, track, extend."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.simulator import SimulatorConfig

from ..conftest import CsvWriter, ThreadedSimulator, good_rows

pytestmark = pytest.mark.integration

SHARE = "/v2/binding/enduserapi/shareByUid"
SET_TIME = "setShareTime"
LIST = "deviceShareUserList"
JAN = "2031-01-31"
JAN_MS = int(datetime(2031, 1, 31, 23, 59, 59, 999_000, tzinfo=UTC).timestamp() * 1000)
MAR = "2031-03-31"
MAR_MS = int(datetime(2031, 3, 31, 23, 59, 59, 999_000, tzinfo=UTC).timestamp() * 1000)


def invoke(args: list[str], token: str) -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def platform_share(sim: ThreadedSimulator, dk: str, uid: str, expire_ms: int | None, cover_mark: int = 2) -> str:
    """A share created the way the platform creates one (shareByUid over HTTP): the test's existing state."""
    params = {"pk": "p1", "dk": dk, "shareUid": uid, "coverMark": str(cover_mark)}
    if expire_ms is not None:
        params["sharingExpireAt"] = str(expire_ms)
    request = urllib.request.Request(f"{sim.base_url}{SHARE}?{urllib.parse.urlencode(params)}", method="POST",
                                     headers={"Authorization": sim.token})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert body["code"] == 200, body
    return str(body["data"])


def shares_posted(sim: ThreadedSimulator, since: int = 0) -> list[tuple[str, str]]:
    return [(r["params"]["dk"], r["params"]["shareUid"]) for r in sim.get(f"/_sim/requests?since={since}")
            if r["path"] == SHARE]


@pytest.fixture
def prepared(sim_thread: ThreadedSimulator, write_csv: CsvWriter) -> tuple[ThreadedSimulator, Path, dict[str, str]]:
    """Existing shares to the same and other recipients, with the same and other expiries, and a foreign device."""
    sim = sim_thread
    codes = {
        "D1/U1": platform_share(sim, "D1", "U1", JAN_MS),  # row 2 asks the same: in place
        "D2/U2": platform_share(sim, "D2", "U2", JAN_MS),  # row 3 asks March: change_expiry
        "D3/U3": platform_share(sim, "D3", "U3", JAN_MS),  # row 4 shares D3 with U4 under cover mark 1
        "D6/U6": platform_share(sim, "D6", "U6", None),  # row 7 asks the same (permanent): in place
    }
    source = write_csv("shares.csv", [
        ["pk", "dk", "recipient", "expiry", "cover_mark", "note"],
        ["p1", "D1", "U1", JAN, "", "same"],
        ["p1", "D2", "U2", MAR, "", "longer"],
        ["p1", "D3", "U4", JAN, "1", "new tenant"],
        ["p1", "D4", "U5", JAN, "", "fresh"],
        ["p1", "OTHER-5", "U5", JAN, "", "not ours"],
        ["p1", "D6", "U6", "", "", "permanent"],
        ["p1", "D6", "U7", JAN, "2", "beside"],
        ["p1", "D4", "", JAN, "", "no recipient"],
        ["p1", "D4", "U5", MAR, "", "again"],
    ])
    return sim, source, codes


EXPECTED_ACTIONS = {"2": "in_place", "3": "change_expiry", "4": "replaces", "5": "create", "6": "no_permission",
                    "7": "in_place", "8": "create", "9": "invalid", "10": "duplicate"}


def test_plan_gives_each_row_its_action_and_creates_nothing(
    prepared: tuple[ThreadedSimulator, Path, dict[str, str]], tmp_path: Path
) -> None:
    sim, source, codes = prepared
    before = sim.get("/_sim/shares")
    requests_before = len(sim.get("/_sim/requests"))
    result = invoke(["plan", "--input", str(source), "--base-url", sim.base_url, "--rate", "500",
                     "--out", str(tmp_path / "out")], sim.token)
    assert result.exit_code == 1, result.output  # change_expiry, replaces, no_permission and invalid need a look
    plan = read_csv(tmp_path / "out" / "plan" / "plan.csv")
    assert {r["row"]: r["action"] for r in plan} == EXPECTED_ACTIONS
    assert [r["note"] for r in plan][:3] == ["same", "longer", "new tenant"]  # original columns carried
    detail = {r["row"]: r["detail"] for r in plan}
    assert detail["2"] == f"share {codes['D1/U1']}"
    assert detail["4"] == f"ends the shares of U3 (share {codes['D3/U3']})"
    assert "5141" in detail["6"]
    assert "replaces" in result.output
    assert "in_place" in result.output
    assert sim.get("/_sim/shares") == before  # nothing created, ended or changed
    requests = sim.get(f"/_sim/requests?since={requests_before}")
    assert sorted(r["params"]["dk"] for r in requests) == ["D1", "D2", "D3", "D4", "D6", "OTHER-5"]
    assert {r["path"].rsplit("/", 1)[1] for r in requests} == {LIST}
    assert not (tmp_path / "out" / "report.csv").exists()


def test_plan_exits_0_when_every_row_is_create_or_in_place(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    platform_share(sim_thread, "D1", "U1", JAN_MS)
    rows = [["pk", "dk", "recipient", "expiry"], ["p1", "D1", "U1", JAN], ["p1", "D2", "U2", JAN]]
    source = write_csv("ok.csv", rows)
    result = invoke(["plan", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(tmp_path / "o")],
                    sim_thread.token)
    assert result.exit_code == 0, result.output
    assert [r["action"] for r in read_csv(tmp_path / "o" / "plan" / "plan.csv")] == ["in_place", "create"]


def test_run_skip_existing_sends_only_the_rows_that_change_something(
    prepared: tuple[ThreadedSimulator, Path, dict[str, str]], tmp_path: Path
) -> None:
    sim, source, codes = prepared
    since = len(sim.get("/_sim/requests"))
    result = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--rate", "500", "--skip-existing",
                     "--out", str(tmp_path / "out")], sim.token)
    assert result.exit_code == 1, result.output  # the foreign device's row failed, one row is invalid
    assert sorted(shares_posted(sim, since)) == [("D2", "U2"), ("D3", "U4"), ("D4", "U5"), ("D6", "U7")]
    report = {r["row"]: r for r in read_csv(tmp_path / "out" / "report.csv")}
    for row, key in (("2", "D1/U1"), ("7", "D6/U6")):
        assert (report[row]["status"], report[row]["share_code"], report[row]["attempts"]) == ("success", codes[key],
                                                                                               "0")
        assert report[row]["message"].startswith("already in place: share ")
    assert (report["6"]["status"], report["6"]["code"]) == ("failed", "5141")
    assert {report[row]["status"] for row in ("3", "4", "5", "8")} == {"success"}
    # the look-ups went through the same rate limit: counted in the summary's requests
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["requests"] == 6 + 4


def test_skip_existing_from_a_job_file(
    prepared: tuple[ThreadedSimulator, Path, dict[str, str]], tmp_path: Path
) -> None:
    sim, source, _codes = prepared
    job = tmp_path / "job.toml"
    job.write_text(f'input = "{source}"\nbase_url = "{sim.base_url}"\nrate = 500\nskip_existing = true\n')
    since = len(sim.get("/_sim/requests"))
    result = invoke(["run", str(job)], sim.token)
    assert result.exit_code == 1, result.output
    assert len(shares_posted(sim, since)) == 4


def test_run_says_which_row_a_share_replaced_and_names_every_device_in_the_warning(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    rows = [["pk", "dk", "recipient", "expiry"]]
    for device in range(12):
        rows += [["p1", f"T{device:02d}", "U1", JAN], ["p1", f"T{device:02d}", "U2", JAN]]
    result = invoke(["run", "--input", str(write_csv("t.csv", rows)), "--base-url", sim_thread.base_url,
                     "--rate", "500", "--out", str(tmp_path / "out")], sim_thread.token)
    assert result.exit_code == 0, result.output
    report = read_csv(tmp_path / "out" / "report.csv")
    assert [r["message"] for r in report[:4]] == ["", "replaces the share of row 2", "",
                                                   "replaces the share of row 4"]
    [warning] = json.loads((tmp_path / "out" / "summary.json").read_text())["warnings"]
    assert all(f"p1/T{device:02d}" in warning for device in range(12))
    assert "more" not in warning


def shared(sim: ThreadedSimulator, write_csv: CsvWriter, out: Path, count: int = 6) -> list[dict[str, str]]:
    source = write_csv("rows.csv", good_rows(count, cover_mark="2", expiry=JAN))
    result = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--rate", "500", "--out", str(out)],
                    sim.token)
    assert result.exit_code == 0, result.output
    return read_csv(out / "report.csv")


def test_track_reports_accepted_pending_ended_and_missing_shares(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    report = shared(sim_thread, write_csv, tmp_path / "run")
    codes = [r["share_code"] for r in report]
    accepted = [sim_thread.post("/_sim/accept", {"share_code": code}) for code in codes[:2]]
    revoke = urllib.request.Request(f"{sim_thread.base_url}/v2/binding/enduserapi/ownerUserUnshareDevice?shareCode="
                                    f"{codes[2]}", method="DELETE", headers={"Authorization": sim_thread.token})
    with urllib.request.urlopen(revoke, timeout=10) as response:
        assert json.load(response)["code"] == 200
    # a share code the device's list does not hold
    lines = (tmp_path / "run" / "report.csv").read_text(encoding="utf-8").replace(codes[5], "NOSUCHCODE")
    (tmp_path / "run" / "report.csv").write_text(lines, encoding="utf-8")
    before = sim_thread.get("/_sim/shares")
    result = invoke(["track", str(tmp_path / "run" / "report.csv"), "--base-url", sim_thread.base_url,
                     "--rate", "500"], sim_thread.token)
    assert result.exit_code == 0, result.output
    tracked = read_csv(tmp_path / "run" / "track" / "track.csv")
    assert [r["share_state"] for r in tracked] == ["accepted", "accepted", "ended", "pending", "pending", "missing"]
    expected_at = [datetime.fromtimestamp(a["accepted_ms"] / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                   for a in accepted]
    assert [r["accepted_at"] for r in tracked[:3]] == [*expected_at, ""]
    assert [r["recipient"] for r in tracked] == [r["recipient"] for r in report]  # the report's columns
    assert "accepted           2" in result.output
    assert "pending            2" in result.output
    assert sim_thread.get("/_sim/shares") == before


def test_extend_changes_exactly_the_selected_shares(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    report = shared(sim_thread, write_csv, tmp_path / "run")
    codes = {r["row"]: r["share_code"] for r in report}
    result = invoke(["extend", str(tmp_path / "run" / "report.csv"), "--expiry", MAR, "--rows", "3,5-6",
                     "--base-url", sim_thread.base_url, "--rate", "500"], sim_thread.token)
    assert result.exit_code == 0, result.output
    extended = read_csv(tmp_path / "run" / "extend" / "report.csv")
    assert [(r["row"], r["status"], r["share_code"]) for r in extended] == [
        (row, "extended", codes[row]) for row in ("3", "5", "6")]
    expiry = {s["share_code"]: s["expire_at_ms"] for s in sim_thread.get("/_sim/shares")}
    assert {row: expiry[code] for row, code in codes.items()} == {
        "2": JAN_MS, "3": MAR_MS, "4": JAN_MS, "5": MAR_MS, "6": MAR_MS, "7": JAN_MS}
    assert json.loads((tmp_path / "run" / "extend" / "summary.json").read_text())["extended"] == 3


def test_extend_of_an_ended_share_says_it_had_already_ended(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    report = shared(sim_thread, write_csv, tmp_path / "run", count=2)
    invoke(["revoke", str(tmp_path / "run" / "report.csv"), "--rows", "2", "--base-url", sim_thread.base_url],
           sim_thread.token)
    result = invoke(["extend", str(tmp_path / "run" / "report.csv"), "--expiry", "400d", "--base-url",
                     sim_thread.base_url], sim_thread.token)
    assert result.exit_code == 0, result.output
    statuses = [r["status"] for r in read_csv(tmp_path / "run" / "extend" / "report.csv")]
    assert statuses == ["already_ended", "extended"]
    assert report[1]["share_code"] in {s["share_code"] for s in sim_thread.get("/_sim/shares") if s["valid"]}


@pytest.mark.parametrize("when", ["permanent", "", "  "])
def test_extend_refuses_a_permanent_expiry(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, when: str
) -> None:
    shared(sim_thread, write_csv, tmp_path / "run", count=1)
    since = len(sim_thread.get("/_sim/requests"))
    result = invoke(["extend", str(tmp_path / "run" / "report.csv"), "--expiry", when, "--base-url",
                     sim_thread.base_url], sim_thread.token)
    assert result.exit_code == 2
    assert "cannot make a share permanent" in result.output
    assert sim_thread.get(f"/_sim/requests?since={since}") == []
    assert not (tmp_path / "run" / "extend").exists()


def test_extend_refuses_a_past_expiry_naming_the_option(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    shared(sim_thread, write_csv, tmp_path / "run", count=1)
    result = invoke(["extend", str(tmp_path / "run" / "report.csv"), "--expiry", "2001-01-01", "--base-url",
                     sim_thread.base_url], sim_thread.token)
    assert result.exit_code == 2
    assert "--expiry" in result.output
    assert "in the past" in result.output


def test_an_interrupted_extend_resumes_without_a_second_request_per_share(
    sim_thread_factory, write_csv: CsvWriter, tmp_path: Path
) -> None:
    sim: ThreadedSimulator = sim_thread_factory(SimulatorConfig(seed=8, latency_ms=10))
    report = shared(sim, write_csv, tmp_path / "run", count=60)
    args = ["extend", str(tmp_path / "run" / "report.csv"), "--expiry", "90d", "--base-url", sim.base_url,
            "--rate", "100", "--concurrency", "2"]
    process = subprocess.Popen([sys.executable, "-m", "runner", *args], env={**os.environ, "SHAREBATCH_TOKEN":
                               sim.token}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while sim.get("/_sim/stats")["by_endpoint"].get(SET_TIME, 0) < 10:
        assert time.monotonic() < deadline, "the extend did not start"
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    partial = Counter(r["status"] for r in read_csv(tmp_path / "run" / "extend" / "report.csv"))
    assert partial["not_attempted"] > 0
    result = invoke(args, sim.token)
    assert result.exit_code == 0, result.output
    final = read_csv(tmp_path / "run" / "extend" / "report.csv")
    assert Counter(r["status"] for r in final) == Counter({"extended": 60})
    puts = Counter(r["params"]["shareCode"] for r in sim.get("/_sim/requests") if r["path"].endswith(SET_TIME))
    assert set(puts) == {r["share_code"] for r in report}
    assert set(puts.values()) == {1}
    # "90d" counts from the extend's first start: the resumed half asked for the same instant
    assert len({r["params"]["sharingExpireAt"] for r in sim.get("/_sim/requests") if r["path"].endswith(SET_TIME)}) == 1


def test_skip_existing_sends_nothing_when_the_look_ups_stop(
    prepared: tuple[ThreadedSimulator, Path, dict[str, str]], tmp_path: Path
) -> None:
    sim, source, _codes = prepared
    since = len(sim.get("/_sim/requests"))
    result = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--rate", "500", "--skip-existing",
                     "--out", str(tmp_path / "out")], "Bearer not-a-token")
    assert result.exit_code == 3, result.output
    assert shares_posted(sim, since) == []
    statuses = Counter(r["status"] for r in read_csv(tmp_path / "out" / "report.csv"))
    assert statuses == Counter({"not_attempted": 7, "invalid": 1, "duplicate": 1})


def slow_look_ups(sim_thread_factory, write_csv: CsvWriter) -> tuple[ThreadedSimulator, Path]:
    """40 devices behind 100 ms of latency, looked up one at a time: the look-ups take seconds."""
    sim: ThreadedSimulator = sim_thread_factory(SimulatorConfig(seed=9, latency_ms=100))
    return sim, write_csv("slow.csv", good_rows(40, expiry=JAN))


def test_sigterm_during_the_skip_existing_look_ups_sends_nothing(
    sim_thread_factory, write_csv: CsvWriter, tmp_path: Path
) -> None:
    sim, source = slow_look_ups(sim_thread_factory, write_csv)
    args = ["run", "--input", str(source), "--base-url", sim.base_url, "--skip-existing", "--concurrency", "1",
            "--rate", "100", "--out", str(tmp_path / "out")]
    process = subprocess.Popen([sys.executable, "-m", "runner", *args], env={**os.environ, "SHAREBATCH_TOKEN":
                               sim.token}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while sim.get("/_sim/stats")["by_endpoint"].get(LIST, 0) < 3:
        assert time.monotonic() < deadline, "the look-ups did not start"
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    assert shares_posted(sim) == []
    assert sim.get("/_sim/stats")["by_endpoint"].get(LIST, 0) < 40  # the look-ups were cut short
    statuses = Counter(r["status"] for r in read_csv(tmp_path / "out" / "report.csv"))
    assert statuses == Counter({"not_attempted": 40})


def test_the_deadline_bounds_the_skip_existing_look_ups_too(
    sim_thread_factory, write_csv: CsvWriter, tmp_path: Path
) -> None:
    sim, source = slow_look_ups(sim_thread_factory, write_csv)
    result = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--skip-existing", "--concurrency",
                     "1", "--rate", "100", "--deadline", "1s", "--out", str(tmp_path / "out")], sim.token)
    assert result.exit_code == 3, result.output
    assert shares_posted(sim) == []
    assert sim.get("/_sim/stats")["by_endpoint"].get(LIST, 0) < 40
    report = read_csv(tmp_path / "out" / "report.csv")
    assert {r["status"] for r in report} == {"not_attempted"}
    assert "deadline" in report[0]["message"]


def test_plan_stops_at_the_deadline_and_says_which_devices_it_could_not_read(
    sim_thread_factory, write_csv: CsvWriter, tmp_path: Path
) -> None:
    sim, source = slow_look_ups(sim_thread_factory, write_csv)
    result = invoke(["plan", "--input", str(source), "--base-url", sim.base_url, "--concurrency", "1",
                     "--rate", "100", "--deadline", "1s", "--out", str(tmp_path / "out")], sim.token)
    assert result.exit_code == 3, result.output
    actions = Counter(r["action"] for r in read_csv(tmp_path / "out" / "plan" / "plan.csv"))
    read = sim.get("/_sim/stats")["by_endpoint"].get(LIST, 0)
    assert 0 < read < 40
    assert actions == Counter({"create": read, "lookup_failed": 40 - read})


@pytest.mark.parametrize(("second_expiry", "replaces"), [(MAR, True), (JAN, False)])
def test_validate_warns_exactly_when_plan_says_a_row_replaces_another(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, second_expiry: str, replaces: bool,
) -> None:
    """Mark 2 then mark 3 on one device: the validate warning and plan's `replaces` come from one model."""
    source = write_csv("marks.csv", [["pk", "dk", "recipient", "expiry", "cover_mark"],
                                     ["p1", "D9", "U1", JAN, "2"], ["p1", "D9", "U2", second_expiry, "3"]])
    checked = invoke(["validate", "--input", str(source), "--out", str(tmp_path / "v")], sim_thread.token)
    planned = invoke(["plan", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(tmp_path / "o")],
                     sim_thread.token)
    actions = [r["action"] for r in read_csv(tmp_path / "o" / "plan" / "plan.csv")]
    assert actions[1] == ("replaces" if replaces else "create"), planned.output
    assert ("p1/D9" in checked.output) is replaces, checked.output
