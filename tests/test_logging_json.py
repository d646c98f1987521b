"""Logging for machines (--log-format json) and for quiet cron runs (--quiet)."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.events import log_event
from runner.models import RowOutcome, RowStatus
from runner.outputs.logsetup import configure_logging
from runner.outputs.progress import ProgressDisplay
from runner.simulator import FaultKind, SimulatorConfig

from .conftest import CsvWriter, FakeClock, ThreadedSimulator, good_rows

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1aWQiOiJDMTIzIn0.c2lnbmF0dXJlX2J5dGVz"


@pytest.fixture(autouse=True)
def restore_runner_logger() -> Iterator[None]:
    """configure_logging changes the process-wide `runner` logger; put it back for the next test."""
    logger = logging.getLogger("runner")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def run_cli(args: list[str], token: str) -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line must be one JSON object."""
    return [json.loads(line) for line in text.splitlines()]


def rows_with_failures() -> list[list[str]]:
    rows = good_rows(10)
    rows.append(["p1test", "FAIL0001", "U9000001", "30d", ""])  # 5134 from the simulator
    rows.append(["p1test", "00E000001", "ghost.person@example.com", "30d", ""])  # 5031, an email recipient
    rows.append(["p1test", "", "U9000002", "30d", ""])  # invalid: no dk
    return rows


@pytest.mark.integration
def test_json_log_is_one_object_per_line_from_start_to_finish_without_secrets(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path
) -> None:
    sim = sim_thread_factory(SimulatorConfig(seed=1, fault_rate=0.3, fault_kinds=(FaultKind.SERVER_ERROR,)))
    source = write_csv("rows.csv", rows_with_failures())
    out = tmp_path / "out"
    result = run_cli(["run", "--input", str(source), "--base-url", sim.base_url, "--rate", "1000",
                      "--max-attempts", "2", "--out", str(out), "--log-format", "json",
                      "--timeout-s", "1", "--settle-s", "1.5"],  # a 5xx leaves its row in doubt: settle briefly
                     sim.token)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""  # the summary travels in run_finished, so `2>&1` stays pure JSON
    events = json_lines(result.stderr)
    assert all({"ts", "level", "event", "message"} <= set(event) for event in events)
    assert all(event["ts"].endswith("Z") for event in events)
    by_name = {event["event"]: event for event in events}
    started, finished = by_name["run_started"], by_name["run_finished"]
    assert (started["rows"], started["to_send"], started["input"]) == (13, 12, str(source))
    summary = json.loads((out / "summary.json").read_text())
    assert finished["summary"] == summary
    assert (finished["summary"]["total"], finished["summary"]["invalid"]) == (13, 1)
    assert finished["exit_code"] == 1
    assert finished["report"] == str(out / "report.csv")
    # one row_failed per failed row of the report (faults that outlast the retries fail a row too)
    with (out / "report.csv").open(encoding="utf-8", newline="") as handle:
        failed_rows = {int(row["row"]) for row in csv.DictReader(handle) if row["status"] == "failed"}
    failed = {event["row"]: event for event in events if event["event"] == "row_failed"}
    assert set(failed) == failed_rows
    assert (failed[12]["code"], failed[13]["code"]) == (5134, 5031)
    assert "5031" in failed[13]["error"]
    retries = [event for event in events if event["event"] == "retry"]
    assert len(retries) == summary["retries"] > 0
    assert all(isinstance(event["row"], int) and event["attempt"] == 1 for event in retries)
    bare_token = sim.token.removeprefix("Bearer ")
    assert bare_token not in result.output
    assert sim.token not in result.output
    assert "ghost.person@example.com" not in result.output


@pytest.mark.integration
def test_quiet_run_prints_the_summary_and_nothing_on_stderr(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    source = write_csv("rows.csv", good_rows(5))
    result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--rate", "1000",
                      "--out", str(tmp_path / "out"), "--quiet"], sim_thread.token)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "sharebatch summary" in result.stdout


@pytest.mark.integration
def test_quiet_json_keeps_only_the_final_summary(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
) -> None:
    rows = [*good_rows(3), ["p1test", "FAIL0001", "U9000001", "30d", ""]]
    result = run_cli(["run", "--input", str(write_csv("rows.csv", rows)), "--base-url", sim_thread.base_url,
                      "--rate", "1000", "--out", str(tmp_path / "out"), "--log-format", "json", "--quiet"],
                     sim_thread.token)
    assert result.exit_code == 1, result.output
    assert [event["event"] for event in json_lines(result.stderr)] == ["run_finished"]


def test_an_error_under_json_is_one_error_event(tmp_path: Path) -> None:
    result = run_cli(["validate", "--input", str(tmp_path / "missing.csv"), "--log-format", "json"], "tok")
    assert result.exit_code == 2
    [event] = json_lines(result.stderr)
    assert (event["event"], event["level"], event["exit_code"]) == ("error", "error", 2)
    assert "missing.csv: no such file" in event["message"]


def test_validate_under_json_ends_with_run_finished(write_csv: CsvWriter, tmp_path: Path) -> None:
    rows = [["pk", "dk", "recipient"], ["p1", "00D1", "U1"], ["p1", "", "U2"]]
    result = run_cli(["validate", "--input", str(write_csv("rows.csv", rows)), "--out", str(tmp_path / "o"),
                      "--log-format", "json"], "tok")
    assert result.exit_code == 1
    [columns, finished] = json_lines(result.stderr)
    assert columns["event"] == "columns_mapped"
    assert columns["columns"] == {"pk": 0, "dk": 1, "recipient": 2}
    assert finished["event"] == "run_finished"
    assert (finished["summary"]["valid"], finished["summary"]["invalid"]) == (1, 1)


def test_every_string_field_is_masked_however_deep(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(log_format="json")
    log_event("retry", f"retrying with Bearer {JWT}", header=f"Bearer {JWT}",
              nested={"tokens": [JWT], "to": "bob.jones@example.org", "phone": "+8613800138000"}, count=3)
    [event] = json_lines(capsys.readouterr().err)
    assert JWT not in json.dumps(event)
    assert event["header"] == "***"
    assert event["nested"] == {"tokens": ["***"], "to": "b***@example.org", "phone": "***000"}
    assert event["count"] == 3
    assert event["message"] == "retrying with ***"


def test_machine_events_stay_out_of_the_default_text_log(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    log_event("run_started", "run started: 3 of 3 rows to send", to_send=3)
    logging.getLogger("runner.auth").info("access token refreshed")
    assert capsys.readouterr().err.endswith("INFO access token refreshed\n")
    configure_logging(debug=True)
    log_event("run_started", "run started: 3 of 3 rows to send", to_send=3)
    assert "run started: 3 of 3 rows to send" in capsys.readouterr().err


def finish_rows(display: ProgressDisplay, clock: FakeClock, count: int) -> None:
    for row in range(2, count + 2):
        clock.now += 1.0
        display.row_finished(RowOutcome(row=row, status=RowStatus.SUCCESS))


def test_the_progress_line_is_a_progress_event_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(log_format="json")
    clock = FakeClock(0.0)
    with ProgressDisplay(20, interactive=False, clock=clock) as display:
        finish_rows(display, clock, 10)
    [event] = json_lines(capsys.readouterr().err)
    assert event["event"] == "progress"
    assert (event["done"], event["total"], event["failed"], event["rate"], event["eta_s"]) == (10, 20, 0, 1.0, 10)
    assert event["message"] == "progress: 10/20 rows, 1.0 rows/s, 0 failed, ETA 10s"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_quiet_drops_progress_lines(capsys: pytest.CaptureFixture[str], log_format: Any) -> None:
    clock = FakeClock(0.0)
    configure_logging(log_format=log_format)
    with ProgressDisplay(30, interactive=False, clock=clock) as display:
        finish_rows(display, clock, 10)
    assert "progress: 10/30 rows" in capsys.readouterr().err
    configure_logging(log_format=log_format, quiet=True)
    with ProgressDisplay(30, interactive=False, clock=clock) as display:
        finish_rows(display, clock, 25)
    assert capsys.readouterr().err == ""
