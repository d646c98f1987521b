"""Issue 21: what the tool prints is what happened and what to do next (the operator's truth)."""

from __future__ import annotations

import csv
import json
import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import CsvWriter, ThreadedSimulator, good_rows
from .conftest import DemoRun

pytestmark = pytest.mark.integration


def run_cli(args: list[str], token: str = "Bearer t") -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _statuses(report: Path) -> list[str]:
    with report.open(encoding="utf-8", newline="") as handle:
        return [row["status"] for row in csv.DictReader(handle)]


@pytest.mark.parametrize(("base_url", "cause", "fix"), [
    ("http://127.0.0.1:{closed_port}", "connection was refused", "--base-url"),
    ("https://no-such-host.invalid", "does not resolve (DNS", "--region"),
])
def test_an_unreachable_platform_stops_after_a_few_rows_that_stay_not_attempted(
    write_csv: CsvWriter, tmp_path: Path, base_url: str, cause: str, fix: str
):
    base_url = base_url.format(closed_port=_closed_port())  # probed here: the same test id in every xdist worker
    source = write_csv("rows.csv", good_rows(40))
    out = tmp_path / "o"
    result = run_cli(["run", "--input", str(source), "--base-url", base_url, "--out", str(out),
                      "--max-attempts", "2", "--rate", "500", "--concurrency", "2"])
    assert result.exit_code == 3, result.output
    assert set(_statuses(out / "report.csv")) == {"not_attempted"}  # nothing reached the platform: nothing failed
    stopped = [line for line in result.output.splitlines() if line.startswith("stopped early: cannot connect to")]
    assert stopped, result.output
    assert cause in stopped[0]
    assert fix in stopped[0]
    assert "platform keeps failing" not in result.output
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ WARNING row \d+: the row's request failed: cannot connect",
                     result.output, re.M), result.output  # a text-log time says its zone
    assert "stopped: stopped:" not in result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["requests"] <= 2 * 4  # a few rows' attempts, not 40 rows' retries


def test_the_inbox_skips_editor_lock_and_temporary_files(sim_thread: ThreadedSimulator, tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with (inbox / "acme.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(good_rows(2))
    for name in ("~$acme.csv", ".~lock.acme.csv#", ".upload.csv", "acme.csv.tmp"):
        (inbox / name).write_bytes(b"\x00\x01 lock")
    job = tmp_path / "nightly.toml"
    job.write_text(f'input = "inbox/*"\nout = "out"\nbase_url = "{sim_thread.base_url}"\nrate = 1000\n',
                   encoding="utf-8")
    result = run_cli(["run", str(job)], sim_thread.token)
    assert result.exit_code == 0, result.output
    assert "1 done, 0 rejected" in result.output
    assert sorted(path.name for path in inbox.iterdir() if path.is_file()) == [
        ".upload.csv", ".~lock.acme.csv#", "acme.csv.tmp", "~$acme.csv"]  # left alone, never moved
    assert (inbox / "done" / "acme.csv").exists()


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("name", ["~$book.xlsx", ".~lock.book.ods#"])
def test_an_editor_lock_file_given_as_input_is_one_line_naming_the_real_file(
    tmp_path: Path, command: str, name: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    Path(name).write_bytes(b"\x00\x01 lock")
    base_url = ["--base-url", "http://127.0.0.1:9"] if command == "run" else []
    result = run_cli([command, "--input", name, *base_url])
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert "unexpected" not in line
    assert "lock file" in line
    assert "book." in line
    assert "instead" in line


def _share_requests(sim: ThreadedSimulator) -> int:
    return int(sim.get("/_sim/stats")["by_endpoint"].get("shareByUid", 0))


def test_after_the_brake_each_rerun_moves_on_and_refused_rows_stay_failed(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    rows = good_rows(40, cover_mark="2")
    for index in range(2, 41, 2):
        rows[index][1] = f"UNV{index:04d}"  # every other device is unverified: 5360, refused every time
    source = write_csv("rows.csv", rows)
    out = tmp_path / "o"
    args = ["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out), "--rate", "1000",
            "--concurrency", "1", "--max-failures", "5"]
    left = []
    for run in range(4):
        result = run_cli(args, sim_thread.token)
        assert result.exit_code == 3, result.output
        assert "5 of the 10 rows this run finished failed (--max-failures 5)" in result.output
        assert "re-sends only failures that may pass" in result.output
        assert _share_requests(sim_thread) == 10 * (run + 1)  # each run sends 10 new rows, none again
        left.append(_statuses(out / "report.csv").count("not_attempted"))
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert "5 of the 10 rows this run finished failed" in summary["stopped"]
    assert left == [30, 20, 10, 0]
    assert _statuses(out / "report.csv").count("failed") == 20
    with (out / "failed.csv").open(encoding="utf-8") as handle:
        assert sum(1 for _ in handle) == 1 + 20  # every refused row is still to be fixed
    # --retry-failed asks for the refused rows again: 20 more requests
    again = run_cli([*args[:-2], "--retry-failed"], sim_thread.token)
    assert again.exit_code == 1, again.output
    assert _share_requests(sim_thread) == 40 + 20


def test_a_canary_is_a_success_that_says_what_sends_the_rest(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(12))
    out = tmp_path / "o"
    canary = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out),
                      "--limit", "4"], sim_thread.token)
    assert canary.exit_code == 0, canary.output
    assert "canary: 8 rows held back by --limit; to send them, run the same command without --limit" in canary.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert ('<div class="banner good" id="headline" data-probe="headline">Canary passed: 4 rows shared, none '
            "failed; 8 rows held back by --limit.") in html
    assert "without --limit" in html
    status = CliRunner().invoke(main, ["status", "--out", str(out), "--json"])
    [found] = json.loads(status.output)["batches"]
    assert found["state"] == "held_back"
    assert "8 rows held back by --limit" in found["why"]
    text = CliRunner().invoke(main, ["status", "--out", str(out)])
    assert "held_back: 8 rows held back by --limit" in text.output
    assert "stopped" not in text.output


def test_demo_exits_with_the_code_it_prints(demo_run: DemoRun):
    result = demo_run.result
    [printed] = re.findall(r": exit (\d+)", result.output.splitlines()[-1])
    assert int(printed) == result.exit_code == 0, result.output
    assert "failing rows are on purpose" in result.output.splitlines()[-1]
    status = CliRunner().invoke(main, ["status", "--out", str(demo_run.folder / "out" / "demo"), "--json"])
    [batch] = json.loads(status.output)["batches"]
    assert batch["last_exit_code"] == 0  # the journal records what the command exited
    assert "exit 1" not in batch["why"]


def test_a_documented_code_is_advised_not_called_unknown(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    rows = good_rows(2)
    rows[2][1] = "OTHER00001"  # a device of another owner: 5135
    source = write_csv("rows.csv", rows)
    out = tmp_path / "o"
    ran = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)],
                  sim_thread.token)
    assert ran.exit_code == 1, ran.output
    status = CliRunner().invoke(main, ["status", "--out", str(out)])
    assert "5135 (no permission to share this device)" in status.output
    assert "what to do: The account may not share this device" in status.output
    assert "ask support what it means" not in status.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "not in sharebatch's list" not in html


#: codes only a login answers with: `login` explains each itself (LoginError), no row ever ends with one
_LOGIN_ONLY = {5002, 5013, 5015, 5019, 5021, 5022, 5023, 5026, 5028, 5040, 5056, 5104, 5420, 5550, 6084, 6085,
               *range(5579, 5587)}


def test_every_documented_code_a_row_can_end_with_has_advice_and_a_meaning():
    from runner.platform.codes import _DOCUMENTED_CODES, CODE_MEANINGS, advise_code

    default = advise_code("999999")
    missing = sorted(code for code in _DOCUMENTED_CODES - _LOGIN_ONLY
                     if advise_code(str(code)) == default or code not in CODE_MEANINGS)
    assert missing == []


def test_report_html_says_a_repeated_reason_once(sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path):
    source = write_csv("rows.csv", good_rows(40))
    out = tmp_path / "o"
    assert run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out),
                    "--limit", "4"], sim_thread.token).exit_code == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("this run took at most 4 rows") == 1
    assert html.count("<td>as row 6</td>") == 35  # rows 7..41 point at row 6, the first held back


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_failed_csv_keeps_the_input_row_number_through_a_feed_back(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    rows = good_rows(6)
    rows[3][1] = "UNV0003"
    rows[5][1] = "UNV0005"
    source = write_csv("rows.csv", rows)
    first = tmp_path / "o"
    assert run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(first)],
                   sim_thread.token).exit_code == 1
    assert [line["input_row"] for line in _csv_rows(first / "failed.csv")] == ["4", "6"]  # spreadsheet rows
    again = tmp_path / "again"
    assert run_cli(["run", "--input", str(first / "failed.csv"), "--base-url", sim_thread.base_url, "--out",
                    str(again)], sim_thread.token).exit_code == 1
    assert [line["input_row"] for line in _csv_rows(again / "failed.csv")] == ["4", "6"]  # not 2 and 3


def _unsigned_jwt(exp: int) -> str:
    import base64

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"Bearer {part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'uid': 'C100001', 'exp': exp})}.c2lnbmF0dXJl"


@pytest.mark.parametrize(("exp", "says"), [
    (1_700_000_000, "the access token expired at 2023-11-14 22:13:20 UTC"),
    (4_102_444_800, "the platform rejected the access token although it is valid until 2100-01-01 00:00:00 UTC"),
])
def test_an_expired_token_is_told_apart_from_a_rejected_one(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, exp: int, says: str
):
    source = write_csv("rows.csv", good_rows(2))
    result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(tmp_path / "o")],
                     _unsigned_jwt(exp))
    assert result.exit_code == 3, result.output
    assert says in result.output


def test_validate_explains_reasons_the_mapping_used_and_permanent_rows(tmp_path: Path):
    source = tmp_path / "v.csv"
    source.write_text("Product,dk,uid,expiry\np1test,00D1,U1,30d\np1test,,U2,30d\np1test,,U3,\n"
                      "p1test,00D4,U4,\np1test,00D5,U5,notadate\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--input", str(source), "--map", "pk=Product", "--out",
                                       str(tmp_path / "o")], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert ('invalid rows by reason: 2 x column "dk": dk is empty; 1 x column "expiry": expiry … is not a date'
            in result.output)
    assert 'columns used: pk <- "Product", dk <- "dk", recipient <- "uid", expiry <- "expiry"' in result.output
    assert "1 valid rows have no expiry and would be permanent shares (until revoked): rows 5" in result.output


def test_plan_gives_a_predicted_refusal_its_own_action_and_exits_1(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    first = write_csv("first.csv", [["pk", "dk", "recipient", "expiry", "cover_mark"], ["p1", "D1", "U1", "", "2"]])
    assert run_cli(["run", "--input", str(first), "--base-url", sim_thread.base_url, "--out", str(tmp_path / "a")],
                   sim_thread.token).exit_code == 0  # a permanent share of D1
    source = write_csv("next.csv", [["pk", "dk", "recipient", "expiry", "cover_mark"],
                                    ["p1", "D1", "U2", "2031-01-31", "3"], ["p1", "D2", "U3", "2031-01-31", "3"]])
    result = run_cli(["plan", "--input", str(source), "--base-url", sim_thread.base_url, "--out",
                      str(tmp_path / "p")], sim_thread.token)
    assert result.exit_code == 1, result.output
    plan = _csv_rows(tmp_path / "p" / "plan" / "plan.csv")
    assert [line["action"] for line in plan] == ["refused", "create"]
    assert "the platform will refuse this row" in plan[0]["detail"]
    assert "refused" in result.output


def _set_share_time_calls(sim: ThreadedSimulator) -> int:
    return int(sim.get("/_sim/stats")["by_endpoint"].get("setShareTime", 0))


def test_extend_refuses_to_shorten_or_end_a_permanent_share_unless_told(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", [["pk", "dk", "recipient", "expiry", "cover_mark"],
                                    ["p1", "D1", "U1", "2031-12-31", "2"], ["p1", "D2", "U2", "2031-12-31", "2"],
                                    ["p1", "D3", "U3", "", "2"]])
    out = tmp_path / "o"
    assert run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)],
                   sim_thread.token).exit_code == 0
    report = str(out / "report.csv")
    base = ["extend", report, "--base-url", sim_thread.base_url, "--expiry", "2031-01-15"]
    shorter = run_cli([*base, "--rows", "2-3"], sim_thread.token)
    assert shorter.exit_code == 2, shorter.output
    assert "would shorten them" in shorter.output
    assert "--allow-shorten" in shorter.output
    ending = run_cli([*base, "--expiry", "2032-06-30", "--rows", "4"], sim_thread.token)
    assert ending.exit_code == 2, ending.output
    assert "would give 1 permanent shares an end (rows 4)" in ending.output
    assert _set_share_time_calls(sim_thread) == 0  # nothing was sent
    allowed = run_cli([*base, "--allow-shorten", "--allow-end-permanent"], sim_thread.token)
    assert allowed.exit_code == 0, allowed.output
    assert ("new expiry 2031-01-15 23:59:59 UTC: 2 of the selected shares are shortened, 1 permanent shares now "
            "end") in allowed.output
    assert _set_share_time_calls(sim_thread) == 3


def test_track_reads_the_report_of_an_input_that_used_map(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("m.csv", [["Product", "Device", "Who", "expiry"], ["p1", "D1", "W1", "30d"],
                                 ["p1", "D2", "W2", "30d"]])
    maps = ["--map", "pk=Product", "--map", "dk=Device", "--map", "recipient=Who"]
    out = tmp_path / "o"
    assert run_cli(["run", "--input", str(source), *maps, "--base-url", sim_thread.base_url, "--out", str(out)],
                   sim_thread.token).exit_code == 0
    unmapped = run_cli(["track", str(out / "report.csv"), "--base-url", sim_thread.base_url], sim_thread.token)
    assert unmapped.exit_code == 2
    assert "--map" in unmapped.output  # and track takes --map, as the message says
    tracked = run_cli(["track", str(out / "report.csv"), *maps, "--base-url", sim_thread.base_url],
                      sim_thread.token)
    assert tracked.exit_code == 0, tracked.output
    assert [line["share_state"] for line in _csv_rows(out / "track" / "track.csv")] == ["pending", "pending"]


def test_every_run_starts_with_a_line_and_a_resume_says_what_is_left(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(10))
    out = tmp_path / "o"
    args = ["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out), "--limit", "4"]
    first = run_cli(args, sim_thread.token)
    start = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO share started \d{4}-\d\d-\d\dT[\d:.]+Z: job rows, "
                       rf"input {re.escape(str(source))}, 10 rows; (.*); out {re.escape(str(out))}$", re.M)
    assert start.search(first.output).group(1) == "a new batch: 0 done, 10 to send", first.output
    again = run_cli(args, sim_thread.token)
    said = start.search(again.output).group(1)
    assert said.startswith("resumes the batch first started 20"), said
    assert said.endswith(": 4 done, 6 to send")
    as_json = run_cli([*args, "--log-format", "json"], sim_thread.token)
    [event] = [json.loads(line) for line in as_json.output.splitlines() if '"run_started"' in line]
    assert (event["resumed"], event["already_done"], event["to_send"], event["in_doubt"]) == (True, 8, 2, 0)


@pytest.mark.parametrize(("command", "word"), [("revoke", "revoked"), ("extend", "extended")])
def test_revoke_and_extend_show_their_own_outcomes(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, command: str, word: str
):
    source = write_csv("rows.csv", good_rows(3, cover_mark="2", expiry="2031-01-31"))
    out = tmp_path / "o"
    assert run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)],
                   sim_thread.token).exit_code == 0
    extra = ["--expiry", "2032-06-30"] if command == "extend" else []
    result = run_cli([command, str(out / "report.csv"), "--base-url", sim_thread.base_url, *extra], sim_thread.token)
    assert result.exit_code == 0, result.output
    table = result.output.split("report:")[0]
    assert re.search(rf"│ {word}\s+│\s+3 │", table), table
    assert "success" not in table
    assert "invalid" not in table
    html = (out / command / "report.html").read_text(encoding="utf-8")
    assert f"All 3 selected shares are done: 3 {word}." in html
    assert "unique rows were shared" not in html
    assert "Shared (invited)" not in html
    assert f">{word}</text>" in html  # the outcome chart's bar
    assert ">success</text>" not in html
    summary = json.loads((out / command / "summary.json").read_text(encoding="utf-8"))
    assert summary[word] == 3
    if command == "extend":
        assert "new expiry 2032-06-30 23:59:59 UTC" in html


def test_plan_track_and_extend_take_quiet_and_json_logs_with_their_events(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(2, cover_mark="2", expiry="2031-01-31"))
    out = tmp_path / "o"
    base = ["--base-url", sim_thread.base_url]
    assert run_cli(["run", "--input", str(source), *base, "--out", str(out)], sim_thread.token).exit_code == 0
    report = str(out / "report.csv")
    commands = {
        "plan_finished": ["plan", "--input", str(source), *base, "--out", str(tmp_path / "p")],
        "track_finished": ["track", report, *base],
        "run_finished": ["extend", report, "--expiry", "2032-06-30", *base],
    }
    for event, args in commands.items():
        quiet = run_cli([*args, "--quiet"], sim_thread.token)
        assert quiet.exit_code in (0, 1), quiet.output
        as_json = run_cli([*args, "--log-format", "json"], sim_thread.token)
        assert as_json.exit_code in (0, 1), as_json.output
        assert as_json.stdout == ""
        events = [json.loads(line)["event"] for line in as_json.stderr.splitlines()]
        assert event in events, (args[0], events)


def test_the_repeat_warning_comes_only_when_a_repeat_was_shared_again(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    out = tmp_path / "o"
    base = ["--base-url", sim_thread.base_url, "--out", str(out)]
    first = write_csv("a.csv", good_rows(2, cover_mark="2"))
    assert run_cli(["run", "--input", str(first), *base], sim_thread.token).exit_code == 0
    header = ["pk", "dk", "recipient", "expiry", "cover_mark"]
    other = write_csv("b.csv", [header, ["p1test", "00X1", "Y1", "30d", "2"]])
    fresh = run_cli(["run", "--input", str(other), *base], sim_thread.token)
    assert fresh.exit_code == 0, fresh.output
    assert "a new batch started in this out dir" in fresh.output
    assert "shared again" not in fresh.output  # nothing of the earlier batch was repeated
    edited = write_csv("c.csv", [*good_rows(2, cover_mark="2"), ["p1test", "00X1", "Y1", "30d", "2"]])
    again = run_cli(["run", "--input", str(edited), *base], sim_thread.token)
    assert again.exit_code == 0, again.output
    assert "1 rows of this input repeat shares of the earlier batch and were shared again (rows 4)" in again.output
