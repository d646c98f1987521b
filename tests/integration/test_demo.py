"""`sharebatch demo`: the first command a new user runs."""

from __future__ import annotations

import json

import pytest

from ..conftest import REPO
from .conftest import DemoRun

pytestmark = pytest.mark.integration


def test_demo_runs_from_any_folder_and_shows_every_status(demo_run: DemoRun):
    result = demo_run.result
    assert result.exit_code == 0, result.output
    out = demo_run.folder / "out" / "demo"
    summary = json.loads((out / "summary.json").read_text())
    for status in ("success", "failed", "invalid", "duplicate"):
        assert summary[status] > 0, status
    assert summary["not_attempted"] == 0
    assert (out / "report.csv").exists()
    assert (out / "failed.csv").exists()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 3
    assert "5360" in page
    assert "report:" in result.output
    assert "sharebatch summary" in result.output


@pytest.mark.parametrize(
    ("packaged", "original"),
    [("demo.toml", "jobs/demo.toml"), ("shares.csv", "samples/shares.csv"), ("devices.json", "samples/devices.json")],
)
def test_packaged_demo_files_match_the_repository_copies(packaged: str, original: str):
    assert (REPO / "runner" / "demo" / packaged).read_bytes() == (REPO / original).read_bytes()


@pytest.mark.parametrize("name", ["demo.toml", "example.toml"])
def test_shipped_job_files_load_with_their_documented_defaults(name: str):
    from runner.batches.jobspec import load_job_spec

    spec = load_job_spec(REPO / "jobs" / name, {})
    assert spec.input.parent.name in ("samples", "jobs")
    if name == "example.toml":
        assert spec.base_url == "https://iot-api.acceleronix.io"
        assert (spec.rate, spec.concurrency, spec.max_attempts, spec.cover_mark) == (5.0, 4, 5, 1)
