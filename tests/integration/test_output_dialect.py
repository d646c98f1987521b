"""Outputs in the input's own dialect, and report columns that never collide or shift."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import ThreadedSimulator

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spreadsheets"


def invoke(args: list[str], token: str = "") -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def run(sim: ThreadedSimulator, source: Path, out: Path, *extra: str) -> Result:
    return invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--out", str(out), "--rate", "500",
                   *extra], sim.token)


def sent_dks(sim: ThreadedSimulator) -> list[str]:
    return sorted(r["params"]["dk"] for r in sim.get("/_sim/requests") if r["path"].endswith("/shareByUid"))


def test_failed_csv_keeps_a_german_excel_dialect_and_reads_back_unchanged(sim_thread: ThreadedSimulator,
                                                                         tmp_path: Path):
    source = tmp_path / "in.csv"
    source.write_bytes("pk;dk;uid;Kunde\r\np1test;00D000001;U1;François\r\np1test;;U2;Zoë\r\n".encode("cp1252"))
    result = run(sim_thread, source, tmp_path / "out", "--encoding", "cp1252")
    assert result.exit_code == 1, result.output
    assert sent_dks(sim_thread) == ["00D000001"]
    failed = (tmp_path / "out" / "failed.csv").read_bytes()
    assert failed == ('pk;dk;uid;Kunde;input_row;error\r\np1test;;U2;Zoë;3;"column ""dk"": dk is empty"\r\n'
                      .encode("cp1252"))
    # the same job reads it back: same cells, not FranÃ§ois, not one column
    again = invoke(["validate", "--input", str(tmp_path / "out" / "failed.csv"), "--encoding", "cp1252",
                    "--out", str(tmp_path / "v")])
    assert again.exit_code == 1
    with (tmp_path / "v" / "validate" / "report.csv").open(encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["Kunde"], row["dk"], row["error"]) == ("Zoë", "", 'column "dk": dk is empty')


def test_failed_csv_keeps_a_utf8_bom_and_lf_line_endings(sim_thread: ThreadedSimulator, tmp_path: Path):
    source = tmp_path / "in.csv"
    source.write_bytes(b"\xef\xbb\xbfpk,dk,uid\np1test,,U1\n")
    assert run(sim_thread, source, tmp_path / "out").exit_code == 1
    assert (tmp_path / "out" / "failed.csv").read_bytes() == (
        b'\xef\xbb\xbfpk,dk,uid,input_row,error\np1test,,U1,2,"column ""dk"": dk is empty"\n')
    assert sent_dks(sim_thread) == []


def test_failed_xlsx_keeps_the_sheet_name_and_text_cells_for_the_same_job(sim_thread: ThreadedSimulator,
                                                                         tmp_path: Path):
    result = run(sim_thread, FIXTURES / "as_seen.xlsx", tmp_path / "out", "--sheet", "Shares")
    assert result.exit_code == 1, result.output
    book = openpyxl.load_workbook(tmp_path / "out" / "failed.xlsx")
    assert book.sheetnames == ["Shares"]
    cells = [cell for row in book["Shares"].iter_rows() for cell in row]
    assert {cell.number_format for cell in cells} == {"@"}
    assert {cell.data_type for cell in cells if cell.value is not None} == {"s"}
    again = invoke(["validate", "--input", str(tmp_path / "out" / "failed.xlsx"), "--sheet", "Shares",
                    "--out", str(tmp_path / "v")])
    assert again.exit_code == 1  # the same rows, still to fix: but read, with the job's sheet name
    with (tmp_path / "v" / "validate" / "report.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["IMEI"] for row in rows] == ["89860012345678905344", "00D000005", "8.60E+14", "00D000011"]


def test_result_columns_are_renamed_beside_input_columns_of_the_same_name_and_revoke_finds_them(
    sim_thread: ThreadedSimulator, tmp_path: Path
):
    source = tmp_path / "in.csv"
    source.write_text("pk,dk,uid,status,message\np1test,00D000001,U1,new,hello\np1test,00D000002,U2,old,\n",
                      encoding="utf-8")
    assert run(sim_thread, source, tmp_path / "run").exit_code == 0
    with (tmp_path / "run" / "report.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames is not None
    assert reader.fieldnames[:7] == ["pk", "dk", "uid", "status", "message", "sharebatch_row", "sharebatch_status"]
    assert [(row["status"], row["sharebatch_status"]) for row in rows] == [("new", "success"), ("old", "success")]
    revoked = invoke(["revoke", str(tmp_path / "run" / "report.csv"), "--base-url", sim_thread.base_url,
                      "--rate", "500"], sim_thread.token)
    assert revoked.exit_code == 0, revoked.output
    unshared = [r for r in sim_thread.get("/_sim/requests") if r["path"].endswith("/ownerUserUnshareDevice")]
    assert len(unshared) == 2


def test_short_and_long_rows_keep_every_result_under_its_header(sim_thread: ThreadedSimulator, tmp_path: Path):
    source = tmp_path / "in.csv"
    source.write_text("pk,dk,uid,note\np1test,00D000001,U1,fine\np1test,00D000002\n"
                      "p1test,00D000003,U3,x,stray,cells\n", encoding="utf-8")
    assert run(sim_thread, source, tmp_path / "out").exit_code == 1
    assert sent_dks(sim_thread) == ["00D000001"]
    text = (tmp_path / "out" / "report.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(row["row"], row["status"], row["extra_cells"]) for row in rows] == [
        ("2", "success", ""), ("3", "invalid", ""), ("4", "invalid", '["stray", "cells"]')]
    assert (rows[1]["uid"], rows[1]["message"]) == ("", "row has 2 cells, header has 4")
    with (tmp_path / "out" / "failed.csv").open(encoding="utf-8", newline="") as handle:
        failed = list(csv.DictReader(handle))
    assert [(row["dk"], row["extra_cells"], row["error"]) for row in failed] == [
        ("00D000002", "", "row has 2 cells, header has 4"), ("00D000003", '["stray", "cells"]',
                                                             "row has 6 cells, header has 4")]
