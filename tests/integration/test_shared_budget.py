"""Two `sharebatch run` processes on one account, started together: the account's rate is one budget."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.simulator.traffic import max_in_window

from ..conftest import REPO, CsvWriter, ProcessSimulator, good_rows

pytestmark = [pytest.mark.integration, pytest.mark.alone]  # every test counts arrivals per sliding second

ROWS_EACH = 40
RATE = 20


def _two_runs_together(limiter: str, sim: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path) -> list[float]:
    """Start two runs of ROWS_EACH rows at --rate RATE at once; the arrival times the simulator logged."""
    processes = []
    for name in ("first", "second"):
        rows = good_rows(ROWS_EACH)
        for row in rows[1:]:
            row[1] = f"{name}-{row[1]}"  # each run its own devices
        source = write_csv(f"{name}.csv", rows)
        args = ["run", "--input", str(source), "--base-url", sim.base_url, "--rate", str(RATE), "--concurrency", "4",
                "--out", str(tmp_path / name), "--limiter", limiter, "--quiet"]
        processes.append(subprocess.Popen([sys.executable, "-m", "runner", *args], cwd=REPO,
                                          env={**os.environ, "SHAREBATCH_TOKEN": sim.token},
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    requests = sim.get("/_sim/requests")
    uids = {request["uid"] for request in requests}
    assert uids == {"C100001"}  # one account: every request spent its budget
    assert len(requests) == 2 * ROWS_EACH
    return sorted(request["t"] for request in requests)


@pytest.mark.parametrize("limiter", ["local", "redis"])
def test_two_runs_on_one_account_stay_within_its_rate_together(
    limiter: str, sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path, request: pytest.FixtureRequest
):
    url = request.getfixturevalue("redis_url") if limiter == "redis" else limiter
    arrivals = _two_runs_together(url, sim_process, write_csv, tmp_path)
    assert max_in_window(arrivals) <= RATE
    assert arrivals[-1] - arrivals[0] >= (2 * ROWS_EACH - 1) / RATE * 0.97  # the budget was shared, not doubled


def test_without_a_shared_budget_two_runs_double_the_accounts_rate(
    sim_process: ProcessSimulator, write_csv: CsvWriter, tmp_path: Path
):
    arrivals = _two_runs_together("off", sim_process, write_csv, tmp_path)
    assert max_in_window(arrivals) > RATE * 1.25  # what --limiter local and redis prevent
