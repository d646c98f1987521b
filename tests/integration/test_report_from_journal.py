"""The report is written from the journal: a second read of the snapshot that differs cannot stop it."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.batches import run as run_module
from runner.cli import main
from runner.input.rows import InputSource
from runner.models import LoadedRow

from ..conftest import CsvWriter, ThreadedSimulator

pytestmark = pytest.mark.integration


def test_a_second_read_that_differs_still_gives_the_journaled_report(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = write_csv("shares.csv", [["pk", "dk", "recipient", "expiry"], ["p1", "D1", "U1", "2031-01-31"],
                                      ["p1", "D2", "U2", ""], ["p1", "D3", "U3", "2031-03-31"]])
    reads: list[int] = []
    real_rows, real_cells = run_module.iter_rows, InputSource.shown_rows

    def first_read(opened: InputSource) -> Iterator[LoadedRow]:
        """The read that journals the requests: the real one."""
        reads.append(1)
        yield from real_rows(opened)

    def drifting(opened: InputSource) -> Iterator[tuple[int, list[str]]]:
        """The report's read: loses row 3, and row 4 shows no expiry any more."""
        reads.append(2)
        for row, cells in real_cells(opened):
            if row != 3:
                yield row, [*cells[:3], ""] if row == 4 else cells

    monkeypatch.setattr(run_module, "iter_rows", first_read)
    monkeypatch.setattr(InputSource, "shown_rows", drifting)
    result = CliRunner().invoke(main, ["run", "--input", str(source), "--base-url", sim_thread.base_url,
                                       "--out", str(tmp_path / "out")],
                                env={"SHAREBATCH_TOKEN": sim_thread.token}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert reads == [1, 2]  # the requests from the first read, the report's cells from a second one
    with (tmp_path / "out" / "report.csv").open(encoding="utf-8-sig", newline="") as handle:
        report = list(csv.DictReader(handle))
    assert [line["status"] for line in report] == ["success", "success", "success"]
    assert report[1]["pk"] == ""  # row 3's cells were not in the second read: its line stays, cells empty
    assert report[2]["expiry_sent"] == "2031-03-31T23:59:59Z"  # as sent and journaled, not as read again
