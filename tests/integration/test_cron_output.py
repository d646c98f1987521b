"""What a cron log gets: a summary line with time, job and input; failures told when they happen."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import CsvWriter, ThreadedSimulator, good_rows

pytestmark = pytest.mark.integration

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def run_cli(args: list[str], token: str = "Bearer t") -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def write_job(tmp_path: Path, base_url: str, **keys: object) -> Path:
    job = tmp_path / "nightly.toml"
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())
    job.write_text(f'input = "rows.csv"\nbase_url = "{base_url}"\nrate = 500\n{extra}', encoding="utf-8")
    return job


@pytest.mark.parametrize("quiet", [[], ["--quiet"]])
def test_the_last_line_of_a_run_starts_with_the_utc_time_the_job_and_the_input(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, quiet: list[str]
):
    rows = [*good_rows(3), ["p1test", "UNV0001", "U9", "", ""]]
    source = write_csv("rows.csv", rows)
    result = run_cli(["run", str(write_job(tmp_path, sim_thread.base_url)), *quiet], sim_thread.token)
    assert result.exit_code == 1, result.output
    last = result.stdout.splitlines()[-1]
    assert re.fullmatch(
        rf"{STAMP} job nightly input {re.escape(str(source))}: exit 1; 4 rows: 3 success, 1 failed, 0 invalid, "
        rf"0 duplicate, 0 not attempted; 4 requests in \d+\.\d s; report .*report\.csv", last), last


def test_validate_shows_only_what_validation_knows(write_csv: CsvWriter, tmp_path: Path):
    rows = [*good_rows(2), ["p1test", "", "U9", "", ""]]
    source = write_csv("rows.csv", rows)
    result = run_cli(["validate", "--input", str(source), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    assert "valid" in result.stdout
    for meaningless in ("requests", "retries", "rate", "req/s", "not_attempted", "success"):
        assert meaningless not in result.stdout, meaningless
    last = result.stdout.splitlines()[-1]
    assert re.fullmatch(rf"{STAMP} job rows input {re.escape(str(source))}: exit 1; validate: 3 rows, 2 valid, "
                        "1 invalid, 0 duplicate", last), last


def test_revoke_ends_with_its_own_summary_line(sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path):
    source = write_csv("rows.csv", good_rows(2, cover_mark="2"))
    out = tmp_path / "o"
    assert run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)],
                   sim_thread.token).exit_code == 0
    revoked = run_cli(["revoke", str(out / "report.csv"), "--base-url", sim_thread.base_url], sim_thread.token)
    assert revoked.exit_code == 0, revoked.output
    last = revoked.stdout.splitlines()[-1]
    assert re.fullmatch(rf"{STAMP} job revoke input {re.escape(str(out / 'report.csv'))}: exit 0; 2 rows: 2 revoked, "
                        r"0 already ended, 0 failed, 0 not attempted; 2 requests in .*", last), last


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_connection_failure_is_told_when_it_first_happens_once_not_per_retry(write_csv: CsvWriter, tmp_path: Path):
    source = write_csv("rows.csv", good_rows(3))
    args = ["run", "--input", str(source), "--base-url", f"http://127.0.0.1:{_closed_port()}", "--out",
            str(tmp_path / "o"), "--max-attempts", "3", "--rate", "500"]
    text = run_cli(args)
    assert text.exit_code == 3, text.output  # nothing could connect: stopped, the rows not attempted
    told = [line for line in text.stderr.splitlines() if "cannot connect" in line and " WARNING row " in line]
    assert len(told) == 1, text.stderr  # 3 rows x 2 retries: one line, not six
    assert " WARNING row " in told[0]
    assert "retrying (attempt 1 of 3 failed)" in told[0]
    as_json = run_cli([*args, "--out", str(tmp_path / "j"), "--log-format", "json"])
    events = [json.loads(line)["event"] for line in as_json.stderr.splitlines()]
    assert events.count("first_failure") == 1
    assert "row_failed" not in events  # nothing reached the platform: the rows were not attempted
