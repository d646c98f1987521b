"""Issue 21: what the tool prints is what happened and what to do next (the operator's truth)."""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import CsvWriter, good_rows

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
    (f"http://127.0.0.1:{_closed_port()}", "connection was refused", "--base-url"),
    ("https://no-such-host.invalid", "does not resolve (DNS", "--region"),
])
def test_an_unreachable_platform_stops_after_a_few_rows_that_stay_not_attempted(
    write_csv: CsvWriter, tmp_path: Path, base_url: str, cause: str, fix: str
):
    source = write_csv("rows.csv", good_rows(40))
    out = tmp_path / "o"
    result = run_cli(["run", "--input", str(source), "--base-url", base_url, "--out", str(out),
                      "--max-attempts", "2", "--rate", "500", "--concurrency", "2"])
    assert result.exit_code == 3, result.output
    assert set(_statuses(out / "report.csv")) == {"not_attempted"}  # nothing reached the platform: nothing failed
    stopped = [line for line in result.output.splitlines() if line.startswith("stopped early: cannot connect to")]
    assert stopped, result.output
    assert cause in stopped[0] and fix in stopped[0]
    assert "platform keeps failing" not in result.output and "stopped: stopped:" not in result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["requests"] <= 2 * 4  # a few rows' attempts, not 40 rows' retries
