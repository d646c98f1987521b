"""docs/examples/frames_flow.py runs as shipped: two frames joined, planned, run, summarised by status and code."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ..conftest import REPO, ThreadedSimulator

pytest.importorskip("pandas", reason="the pandas extra is not installed")
pytestmark = pytest.mark.integration

EXAMPLE = REPO / "docs" / "examples" / "frames_flow.py"


def test_the_frames_example_plans_runs_and_summarises_against_the_simulator(
    tmp_path: Path, sim_thread: ThreadedSimulator
) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE), "--base-url", sim_thread.base_url, "--out",
                           str(tmp_path / "out")], env={**os.environ, "SHAREBATCH_TOKEN": sim_thread.token},
                          capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    assert "5 shares to make for 3 customers" in done.stdout
    assert "plan: {'create': 3, 'no_permission': 1, 'invalid': 1}" in done.stdout
    assert ["success", "200", "3"] in lines
    assert ["failed", "5135", "1"] in lines  # a device of another account
    assert ["invalid", "<NA>", "1"] in lines  # alan(at)example.org
    assert lines[lines.index(["invalid", "<NA>", "1"]) + 4][:3] == ["Grace", "Hopper", "086100000000003"]
    assert "exit code a command would give: 1" in done.stdout
    shared = Counter(share["dk"] for share in sim_thread.get("/_sim/shares"))
    assert shared == Counter({"086100000000001": 1, "086100000000002": 1, "086100000000003": 1})
