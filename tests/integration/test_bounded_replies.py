"""Bounded replies and bounded waiting (issue 13, cases 3 and 4), through the CLI.

Hostile platforms on 127.0.0.1: one streams an endless answer, one asks for a day's pause, one
keeps the run waiting until its deadline.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import CsvWriter
from ..hostile import envelope, serve

pytestmark = pytest.mark.integration

CHUNK = b" " * 65536
ENDLESS_BYTES = 64 * 1024 * 1024  # what the server would send if nobody stopped reading


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, ["run", *args], env={"SHAREBATCH_TOKEN": "t0ken-for-tests"},
                              catch_exceptions=False)


def statuses(out: Path) -> Counter[str]:
    with (out / "report.csv").open(encoding="utf-8", newline="") as handle:
        return Counter(row["status"] for row in csv.DictReader(handle))


def rows(count: int) -> list[list[str]]:
    return [["pk", "dk", "recipient"], *[["p1", f"D{i}", f"U{i}"] for i in range(count)]]


def test_an_endless_answer_is_read_no_further_than_the_limit(write_csv: CsvWriter, tmp_path: Path):
    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/deviceShareUserList"):
            return envelope(200, data=[])
        response = web.StreamResponse()
        await response.prepare(request)
        written = 0
        try:
            while written < ENDLESS_BYTES:
                await response.write(CHUNK)
                written += len(CHUNK)
        except (ConnectionResetError, RuntimeError, OSError):
            pass  # the client hung up: what it did not read was never sent
        sent.append(written)
        return response

    source = write_csv("rows.csv", rows(1))
    with serve(endless) as base_url:
        result = run(["--input", str(source), "--base-url", base_url, "--out", str(tmp_path / "o"),
                      "--max-attempts", "2", "--concurrency", "1", "--timeout-s", "2", "--settle-s", "2.5"])
    assert result.exit_code in (1, 3), result.output
    assert "unexpected" not in result.output
    assert statuses(tmp_path / "o")["success"] == 0
    assert sent, "the share endpoint was never called"
    # Each answer was cut off near the 1 MiB limit (plus what socket buffers took), far from 64 MiB.
    assert max(sent) < 16 * 1024 * 1024
    report = (tmp_path / "o" / "report.csv").read_text(encoding="utf-8")
    assert "larger than 1048576 bytes" in report


@pytest.mark.parametrize("retry_after", ["99999", "Fri, 01 Jan 2100 00:00:00 GMT"], ids=["seconds", "http-date"])
def test_a_huge_retry_after_is_capped_by_max_retry_after(write_csv: CsvWriter, tmp_path: Path, retry_after: str):
    answers: list[int] = []

    async def throttling_once(request: web.Request) -> web.Response:
        if not answers:
            answers.append(429)
            return web.Response(status=429, headers={"Retry-After": retry_after})
        answers.append(200)
        return envelope(200, data="SC-1")

    source = write_csv("rows.csv", rows(1))
    with serve(throttling_once) as base_url:
        result = run(["--input", str(source), "--base-url", base_url, "--out", str(tmp_path / "o"),
                      "--max-retry-after", "0.5"])
    assert result.exit_code == 0, result.output
    assert answers == [429, 200]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["retries"] == 1
    assert summary["duration_s"] < 60  # uncapped, the pause alone would be a day or decades


def test_the_deadline_stops_the_run_cleanly_with_every_output(write_csv: CsvWriter, tmp_path: Path):
    calls: list[str] = []

    async def always_busy(request: web.Request) -> web.Response:
        calls.append(request.path)
        await asyncio.sleep(0)
        return web.Response(status=429, headers={"Retry-After": "30"})

    source = write_csv("rows.csv", rows(6))
    job = tmp_path / "job.toml"
    with serve(always_busy) as base_url:
        job.write_text(f'input = "{source}"\nbase_url = "{base_url}"\ndeadline = "1s"\nconcurrency = 1\n'
                       f'max_retry_after = 30\nout = "{tmp_path / "o"}"\n', encoding="utf-8")
        result = run([str(job)])
    assert result.exit_code == 3, result.output
    assert "deadline" in result.output
    out = tmp_path / "o"
    for name in ("report.csv", "summary.json", "report.html", "failed.csv"):
        assert (out / name).exists(), name
    counts = statuses(out)
    assert counts["not_attempted"] >= 5
    assert counts["success"] == 0
    assert "deadline" in json.loads((out / "summary.json").read_text())["stopped"]


@pytest.mark.parametrize("value", ["soon", "0s", "-5m", "2d"])
def test_a_bad_deadline_is_one_line_and_exit_2(write_csv: CsvWriter, tmp_path: Path, value: str):
    source = write_csv("rows.csv", rows(1))
    result = run(["--input", str(source), "--base-url", "http://127.0.0.1:9", "--out", str(tmp_path / "o"),
                  "--deadline", value])
    assert result.exit_code == 2
    assert "--deadline" in result.output
    assert "90s, 20m or 2h" in result.output
