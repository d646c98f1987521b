"""Environment faults are one line and exit 2, and the run keeps to its own files (issue 13, cases 6 and 7).

Read-only folders come from tests/fsfaults.py (`chattr +i`, which holds for root, or mode 0500
when not root); where neither is possible the test says so and skips. A full disk is SQLite's
own SQLITE_FULL, raised by a journal whose `max_page_count` is tiny.
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import CsvWriter, ThreadedSimulator, good_rows
from ..fsfaults import make_read_only

pytestmark = pytest.mark.integration


def invoke(args: list[str], token: str = "t0ken-for-tests") -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def run_on(sim: ThreadedSimulator, source: Path, out: Path) -> Result:
    return invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--out", str(out)], sim.token)


def one_error_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert "unexpected" not in lines[0]
    return lines[0]


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    undo: list[Callable[[], None]] = []

    def make(folder: Path) -> None:
        restore = make_read_only(folder)
        if restore is None:
            pytest.skip("running as root without chattr: nothing makes a folder read-only for root here")
        undo.append(restore)

    yield make
    for step in reversed(undo):
        step()


def test_a_read_only_out_dir_is_one_line_and_exit_2(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, read_only: Callable[[Path], None]
):
    source = write_csv("rows.csv", good_rows(2))
    out = tmp_path / "o"
    out.mkdir()
    read_only(out)
    result = run_on(sim_thread, source, out)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert str(out) in line
    assert "not writable" in line


@pytest.mark.parametrize("debug", [False, True])
def test_a_name_too_long_is_one_line_and_exit_2_and_debug_keeps_the_code(
    write_csv: CsvWriter, tmp_path: Path, debug: bool
):
    source = write_csv("rows.csv", good_rows(1))
    out = tmp_path / ("x" * 300)
    result = invoke(["run", "--input", str(source), "--base-url", "http://127.0.0.1:9", "--out", str(out),
                     *(["--debug"] if debug else [])])
    assert result.exit_code == 2, result.output
    if debug:
        assert "Traceback (most recent call last)" in result.output
        assert result.output.rstrip().splitlines()[-1].startswith("error: ")
    else:
        line = one_error_line(result)
        assert "File name too long" in line
        assert "shorter" in line


def test_a_corrupt_journal_is_one_line_and_fresh_sets_it_aside(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", good_rows(2))
    out = tmp_path / "o"
    out.mkdir()
    (out / "journal.sqlite").write_bytes(b"this is not a database, it was overwritten" * 100)
    args = ["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out)]
    broken = invoke(args, sim_thread.token)
    assert broken.exit_code == 2, broken.output
    line = one_error_line(broken)
    assert "journal.sqlite" in line
    assert "--fresh" in line
    fresh = invoke([*args, "--fresh"], sim_thread.token)
    assert fresh.exit_code == 0, fresh.output
    kept = list(out.glob("history/*-damaged/journal.sqlite"))
    assert len(kept) == 1
    assert kept[0].read_bytes().startswith(b"this is not a database")


def test_a_full_disk_while_loading_names_the_journal_and_the_cause(
    write_csv: CsvWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    real_connect = sqlite3.connect

    def small_disk(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = real_connect(*args, **kwargs)
        connection.execute("PRAGMA max_page_count = 8")  # SQLite answers SQLITE_FULL past 8 pages
        return connection

    monkeypatch.setattr(sqlite3, "connect", small_disk)
    source = write_csv("rows.csv", good_rows(3000))
    out = tmp_path / "o"
    result = invoke(["run", "--input", str(source), "--base-url", "http://127.0.0.1:9", "--out", str(out)])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert str(out) in line
    assert "full" in line


def test_a_symlinked_lock_is_not_followed(write_csv: CsvWriter, tmp_path: Path):
    source = write_csv("rows.csv", good_rows(1))
    out = tmp_path / "o"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (out / "run.lock").symlink_to(victim)
    result = invoke(["run", "--input", str(source), "--base-url", "http://127.0.0.1:9", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "symbolic link" in one_error_line(result)
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("folder", ["/etc", "/", "/usr/share", "~"])
def test_a_system_or_home_folder_is_refused_as_out_dir(
    write_csv: CsvWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
):
    # Should the check ever regress, fail here instead of writing into a real system folder.
    import runner.batches.run
    import runner.commands.validate

    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a batch was started with {folder} as its out dir")

    monkeypatch.setattr(runner.batches.run, "run_batch", must_not_run)
    monkeypatch.setattr(runner.commands.validate, "validate_batch", must_not_run)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    source = write_csv("rows.csv", good_rows(1))
    out = str(Path(folder).expanduser())
    for command in (["run", "--base-url", "http://127.0.0.1:9"], ["validate"]):
        result = invoke([*command, "--input", str(source), "--out", out])
        assert result.exit_code == 2, result.output
        assert "system or home folder" in one_error_line(result)


def test_clean_up_removes_only_names_the_run_creates_and_outputs_are_private(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("rows.csv", [*good_rows(2), ["p1test", "UNV1", "FAM1", "", ""]])
    out = tmp_path / "o"
    out.mkdir()
    (out / ".someone-elses.tmp").write_text("keep me")
    (out / ".report.csv.abc123.tmp").write_text("half a report")
    result = run_on(sim_thread, source, out)
    assert result.exit_code == 1, result.output  # one row fails; the point is what is left in the folder
    assert (out / ".someone-elses.tmp").read_text() == "keep me"
    assert not (out / ".report.csv.abc123.tmp").exists()
    written = {path.name: stat.S_IMODE(path.stat().st_mode) for path in out.iterdir()
               if not path.name.startswith(".someone")}
    assert {"report.csv", "failed.csv", "summary.json", "report.html", "journal.sqlite", "run.lock"} <= set(written)
    assert {name: mode for name, mode in written.items() if mode != 0o600} == {}


def test_status_reads_a_read_only_journal_without_changing_it(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, read_only: Callable[[Path], None]
):
    source = write_csv("rows.csv", good_rows(3))
    out = tmp_path / "o"
    assert run_on(sim_thread, source, out).exit_code == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    read_only(out)
    result = invoke(["status", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "success" in result.output
    assert " 3" in result.output
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
