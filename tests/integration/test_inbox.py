"""The cron inbox (`input` is a glob) through the real CLI against the simulator."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.commands.inbox import FileOutcome, InboxFileResult, inbox_exit_code, is_glob
from runner.engine.runlock import RunLock
from runner.errors import ExitCode
from runner.simulator import SimulatorConfig

from ..conftest import ThreadedSimulator, good_rows, wait_for

pytestmark = pytest.mark.integration


def run_cli(args: list[str], token: str) -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def write_job(tmp_path: Path, sim: ThreadedSimulator, extra: str = "") -> Path:
    (tmp_path / "inbox").mkdir(exist_ok=True)
    job = tmp_path / "nightly.toml"
    job.write_text(f'input = "inbox/*.csv"\nout = "out"\nbase_url = "{sim.base_url}"\nrate = 1000\n'
                   f"concurrency = 8\n{extra}")
    return job


def drop(tmp_path: Path, name: str, rows: list[list[str]]) -> Path:
    path = tmp_path / "inbox" / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def share_requests(sim: ThreadedSimulator) -> int:
    return int(sim.get("/_sim/stats")["by_endpoint"].get("shareByUid", 0))


def inbox_files(tmp_path: Path) -> list[str]:
    return sorted(path.name for path in (tmp_path / "inbox").glob("*.csv"))


def out_dirs(tmp_path: Path, stem: str) -> list[Path]:
    """The batch out dirs of the inbox files named `stem...` (wherever they were filed): out dirs follow content."""
    files = (tmp_path / "inbox").rglob(f"{stem}*.csv")
    digests = {hashlib.sha256(path.read_bytes()).hexdigest()[:12] for path in files}
    return sorted(path for path in (tmp_path / "out").glob("batch-*") if path.name.removeprefix("batch-") in digests)


def test_each_new_file_is_shared_into_its_own_out_dir_and_moved_to_done(sim_thread: ThreadedSimulator, tmp_path: Path):
    job = write_job(tmp_path, sim_thread)
    drop(tmp_path, "a.csv", good_rows(3))
    drop(tmp_path, "b.csv", good_rows(2, expiry="10d"))
    result = run_cli(["run", str(job)], sim_thread.token)
    assert result.exit_code == 0, result.output
    assert inbox_files(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "inbox" / "done").iterdir()) == ["a.csv", "b.csv"]
    for stem, rows in (("a", 3), ("b", 2)):
        [out] = out_dirs(tmp_path, stem)
        assert [r["status"] for r in read_report(out / "report.csv")] == ["success"] * rows
    assert share_requests(sim_thread) == 5
    assert "a.csv: done (exit 0)" in result.output
    # the next cron run finds nothing new: exit 0, nothing sent
    again = run_cli(["run", str(job)], sim_thread.token)
    assert again.exit_code == 0, again.output
    assert "0 files" in again.output
    assert share_requests(sim_thread) == 5
    # `status` of the inbox job shows each file's batch from its journal
    status = CliRunner().invoke(main, ["status", str(job)])
    assert status.exit_code == 0, status.output
    assert status.output.count(" rows") == 2
    assert f"{out_dirs(tmp_path, 'a')[0]}: 3 rows" in status.output


def test_an_unusable_file_goes_to_rejected_with_its_reason_and_the_pass_exits_2(
    sim_thread: ThreadedSimulator, tmp_path: Path
):
    job = write_job(tmp_path, sim_thread)
    drop(tmp_path, "a.csv", good_rows(2))
    (tmp_path / "inbox" / "junk.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    result = run_cli(["run", str(job)], sim_thread.token)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert inbox_files(tmp_path) == []
    assert (tmp_path / "inbox" / "done" / "a.csv").exists()
    assert (tmp_path / "inbox" / "rejected" / "junk.csv").exists()
    reason = (tmp_path / "inbox" / "rejected" / "junk.csv.reason.txt").read_text(encoding="utf-8")
    assert len(reason.splitlines()) == 1
    assert "junk.csv" in reason
    assert "not a text file" in reason
    assert "junk.csv: rejected (exit 2)" in result.output
    assert share_requests(sim_thread) == 2
    assert out_dirs(tmp_path, "junk") == []


def test_a_file_stopped_early_stays_and_the_next_pass_resumes_it(sim_thread: ThreadedSimulator, tmp_path: Path):
    job = write_job(tmp_path, sim_thread)
    drop(tmp_path, "a.csv", good_rows(4))
    drop(tmp_path, "b.csv", good_rows(2, expiry="10d"))
    stopped = run_cli(["run", str(job), "--concurrency", "1"], "Bearer not.a.validtoken")
    assert stopped.exit_code == ExitCode.ABORTED, stopped.output
    # a stop is run-wide (a dead token): b.csv is not even tried, both wait for the next pass
    assert inbox_files(tmp_path) == ["a.csv", "b.csv"]
    assert share_requests(sim_thread) == 1
    assert "1 left for the next pass" in stopped.output
    [first_out] = out_dirs(tmp_path, "a")
    assert {r["status"] for r in read_report(first_out / "report.csv")} == {"not_attempted"}

    resumed = run_cli(["run", str(job)], sim_thread.token)
    assert resumed.exit_code == 0, resumed.output
    assert inbox_files(tmp_path) == []
    assert out_dirs(tmp_path, "a") == [first_out]  # the same out dir, so the same journal
    assert [r["status"] for r in read_report(first_out / "report.csv")] == ["success"] * 4
    assert share_requests(sim_thread) == 1 + 6


def test_an_interrupted_file_stays_and_rows_already_shared_are_not_sent_again(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], tmp_path: Path
):
    sim = sim_thread_factory(SimulatorConfig(seed=1, latency_ms=40))
    job = write_job(tmp_path, sim)
    drop(tmp_path, "a.csv", good_rows(40))
    env = {**os.environ, "SHAREBATCH_TOKEN": sim.token}
    process = subprocess.Popen([sys.executable, "-m", "runner", "run", str(job), "--concurrency", "1"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: share_requests(sim) >= 3)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == ExitCode.TERMINATED, stderr.decode()
    assert inbox_files(tmp_path) == ["a.csv"]
    sent_before = share_requests(sim)
    assert 3 <= sent_before < 40

    resumed = run_cli(["run", str(job)], sim.token)
    assert resumed.exit_code == 0, resumed.output
    assert (tmp_path / "inbox" / "done" / "a.csv").exists()
    assert share_requests(sim) == 40  # each row sent once over the two passes


def test_an_overlapping_run_exits_4_and_touches_nothing(sim_thread: ThreadedSimulator, tmp_path: Path):
    job = write_job(tmp_path, sim_thread)
    drop(tmp_path, "a.csv", good_rows(2))
    with RunLock(tmp_path / "out"):
        result = run_cli(["run", str(job)], sim_thread.token)
    assert result.exit_code == ExitCode.LOCKED, result.output
    assert "another run is active" in result.output
    assert inbox_files(tmp_path) == ["a.csv"]
    assert share_requests(sim_thread) == 0


def test_the_same_name_on_another_night_gets_its_own_out_dir_and_done_name(
    sim_thread: ThreadedSimulator, tmp_path: Path
):
    job = write_job(tmp_path, sim_thread)
    drop(tmp_path, "a.csv", good_rows(2))
    assert run_cli(["run", str(job)], sim_thread.token).exit_code == 0
    drop(tmp_path, "a.csv", good_rows(3, expiry="10d"))
    assert run_cli(["run", str(job)], sim_thread.token).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "inbox" / "done").iterdir()) == ["a-2.csv", "a.csv"]
    assert len(out_dirs(tmp_path, "a")) == 2
    assert share_requests(sim_thread) == 5


def test_a_job_problem_rejects_no_file(sim_thread: ThreadedSimulator, tmp_path: Path):
    job = write_job(tmp_path, sim_thread, 'encoding = "klingon"\n')
    drop(tmp_path, "a.csv", good_rows(2))
    result = run_cli(["run", str(job)], sim_thread.token)
    assert result.exit_code == ExitCode.USAGE
    assert "klingon" in result.output
    assert inbox_files(tmp_path) == ["a.csv"]
    assert not (tmp_path / "inbox" / "rejected").exists()


def test_a_glob_in_the_folder_part_is_refused(sim_thread: ThreadedSimulator, tmp_path: Path):
    job = write_job(tmp_path, sim_thread)
    result = run_cli(["run", str(job), "--input", str(tmp_path / "in*" / "a.csv")], sim_thread.token)
    assert result.exit_code == ExitCode.USAGE
    assert "only the file name" in result.output


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([], ExitCode.OK),
        ([ExitCode.OK, ExitCode.OK], ExitCode.OK),
        ([ExitCode.OK, ExitCode.ROWS_FAILED], ExitCode.ROWS_FAILED),
        ([ExitCode.ROWS_FAILED, ExitCode.USAGE], ExitCode.USAGE),
        ([ExitCode.USAGE, ExitCode.ABORTED], ExitCode.ABORTED),
        ([ExitCode.ROWS_FAILED, ExitCode.INTERRUPTED], ExitCode.INTERRUPTED),
        ([ExitCode.OK, ExitCode.TERMINATED], ExitCode.TERMINATED),
    ],
)
def test_the_pass_exits_with_its_most_severe_file(codes: list[ExitCode], expected: ExitCode):
    files = [InboxFileResult(Path(f"f{i}.csv"), FileOutcome.DONE, code, Path("out")) for i, code in enumerate(codes)]
    assert inbox_exit_code(files) == expected


@pytest.mark.parametrize(("text", "expected"), [("inbox/*.csv", True), ("in?.csv", True), ("[ab].csv", True),
                                                 ("inbox/a.csv", False)])
def test_is_glob(text: str, expected: bool):
    assert is_glob(text) is expected


