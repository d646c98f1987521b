"""report.csv, failed.csv / failed.xlsx and summary.json: contents, order, formula guard, atomic writes."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from runner.models import RowOutcome, RowStatus
from runner.outputs.atomic import atomic_writer
from runner.outputs.report import (
    REPORT_COLUMNS,
    Summary,
    guard_cell,
    write_failed_rows,
    write_report,
    write_summary,
)

HEADERS = ["pk", "dk", "recipient", "expiry"]


def outcome(row: int, status: RowStatus, message: str = "", **fields: object) -> RowOutcome:
    return RowOutcome(row=row, status=status, message=message, **fields)  # type: ignore[arg-type]


@pytest.fixture
def rows() -> list[tuple[list[str], RowOutcome]]:
    """Five input rows in input order, one per status the report can hold after a run."""
    return [
        (["p1", "00123", "ops@example.org", ""],
         outcome(2, RowStatus.SUCCESS, code=200, share_code="SC-1", attempts=1, http_status=200, latency_ms=41,
                 finished_at="2026-11-25T20:00:00.000Z", expiry_sent="permanent", recipient_kind="email")),
        (["p1", "d2", "+8613800138000", "2027-01-01"],
         outcome(3, RowStatus.FAILED, "code 5360 (device binding not verified, cannot be shared)", code=5360,
                 attempts=1, http_status=200)),
        (["p1", "d3", "not-an-email", ""], outcome(4, RowStatus.INVALID, 'column "recipient": not an email')),
        (["p1", "00123", "ops@example.org", ""], outcome(5, RowStatus.DUPLICATE, "duplicate of row 2")),
        (["p2", "d9", "C200001", ""], outcome(6, RowStatus.NOT_ATTEMPTED, "stopped: code 5325")),
    ]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- formula guard -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+8613800138000", "-5", "@SUM(A1:A2)", "=", "+"])
def test_guard_cell_prefixes_what_a_spreadsheet_would_run(text: str) -> None:
    assert guard_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["", "00123", "ops@example.org", "C200001", "2027-01-01", "'quoted", "a=b", "5-3"])
def test_guard_cell_leaves_everything_else_alone(text: str) -> None:
    assert guard_cell(text) == text


# --- report.csv --------------------------------------------------------------------------------------


def test_report_has_the_original_columns_then_the_outcome_columns(
    tmp_path: Path, rows: list[tuple[list[str], RowOutcome]]
) -> None:
    path = tmp_path / "report.csv"
    write_report(path, HEADERS, rows)
    header, *body = read_csv(path)
    assert header == [*HEADERS, *REPORT_COLUMNS]
    assert REPORT_COLUMNS[:3] == ("row", "status", "code")
    assert [line[:4] for line in body] == [
        ["p1", "00123", "ops@example.org", ""],
        ["p1", "d2", "'+8613800138000", "2027-01-01"],
        ["p1", "d3", "not-an-email", ""],
        ["p1", "00123", "ops@example.org", ""],
        ["p2", "d9", "C200001", ""],
    ]
    assert [(line[4], line[5]) for line in body] == [
        ("2", "success"), ("3", "failed"), ("4", "invalid"), ("5", "duplicate"), ("6", "not_attempted")]


def test_report_writes_every_outcome_field_and_leaves_missing_ones_empty(
    tmp_path: Path, rows: list[tuple[list[str], RowOutcome]]
) -> None:
    path = tmp_path / "report.csv"
    write_report(path, HEADERS, rows)
    header, first, second, *_ = read_csv(path)
    success = dict(zip(header, first, strict=True))
    assert {key: success[key] for key in REPORT_COLUMNS} == {
        "row": "2", "status": "success", "code": "200", "message": "", "share_code": "SC-1", "attempts": "1",
        "http_status": "200", "latency_ms": "41", "finished_at": "2026-11-25T20:00:00.000Z",
        "expiry_sent": "permanent", "recipient_kind": "email"}
    failed = dict(zip(header, second, strict=True))
    assert failed["code"] == "5360"
    assert failed["share_code"] == ""
    assert failed["latency_ms"] == ""


def test_report_keeps_commas_quotes_and_newlines_in_a_message_in_one_cell(tmp_path: Path) -> None:
    message = 'code 5134: "adding failed", try again\nlater'
    path = tmp_path / "report.csv"
    write_report(path, ["dk"], [(["d1"], outcome(2, RowStatus.FAILED, message))])
    [_, line] = read_csv(path)
    assert line[4] == message


def test_report_is_written_without_leaving_a_temporary_file(
    tmp_path: Path, rows: list[tuple[list[str], RowOutcome]]
) -> None:
    write_report(tmp_path / "report.csv", HEADERS, rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]


def test_report_that_fails_midway_leaves_the_previous_report_intact(
    tmp_path: Path, rows: list[tuple[list[str], RowOutcome]]
) -> None:
    path = tmp_path / "report.csv"
    path.write_text("the previous report\n", encoding="utf-8")

    def broken() -> Iterator[tuple[list[str], RowOutcome]]:
        yield rows[0]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_report(path, HEADERS, broken())
    assert path.read_text(encoding="utf-8") == "the previous report\n"
    assert leftovers(tmp_path) == []


def test_atomic_writer_creates_the_folder_and_replaces_the_file_in_one_step(tmp_path: Path) -> None:
    path = tmp_path / "new" / "summary.json"
    with atomic_writer(path) as handle:
        handle.write("{}")
        assert not path.exists()  # nothing visible until the write is complete
    assert path.read_text(encoding="utf-8") == "{}"


# --- failed rows -------------------------------------------------------------------------------------


def test_failed_csv_holds_every_row_still_to_do_with_an_error_column(
    tmp_path: Path, rows: list[tuple[list[str], RowOutcome]]
) -> None:
    path = write_failed_rows(tmp_path, "csv", HEADERS, rows)
    assert path == tmp_path / "failed.csv"
    assert read_csv(path) == [
        [*HEADERS, "error"],
        ["p1", "d2", "'+8613800138000", "2027-01-01", "code 5360 (device binding not verified, cannot be shared)"],
        ["p1", "d3", "not-an-email", "", 'column "recipient": not an email'],
        ["p2", "d9", "C200001", "", "stopped: code 5325"],
    ]
    assert leftovers(tmp_path) == []


def test_failed_csv_carries_the_doubt_of_rows_that_may_have_been_applied(tmp_path: Path) -> None:
    rows = [
        (["p1", "d1", "C1", ""], outcome(2, RowStatus.UNKNOWN, "lost", in_doubt_since_ms=1_764_000_000_123)),
        (["p1", "d2", "C2", ""], outcome(3, RowStatus.FAILED, "code 5360")),
    ]
    path = write_failed_rows(tmp_path, "csv", HEADERS, rows)
    assert path is not None
    assert read_csv(path) == [
        [*HEADERS, "error", "in_doubt_since"],
        ["p1", "d1", "C1", "", "lost", "2025-11-24T16:00:00.123Z"],
        ["p1", "d2", "C2", "", "code 5360", ""],
    ]


def test_failed_csv_replaces_an_error_column_the_input_already_had(tmp_path: Path) -> None:
    headers = ["dk", "error", "recipient"]
    rows = [(["d1", "old problem", "C2"], outcome(2, RowStatus.FAILED, "code 5864"))]
    path = write_failed_rows(tmp_path, "csv", headers, rows)
    assert path is not None
    assert read_csv(path) == [["dk", "error", "recipient"], ["d1", "code 5864", "C2"]]


def test_failed_row_without_a_message_gets_its_status_as_the_error(tmp_path: Path) -> None:
    path = write_failed_rows(tmp_path, "csv", ["dk"], [(["d1"], outcome(2, RowStatus.FAILED))])
    assert path is not None
    assert read_csv(path)[1] == ["d1", "failed"]


def test_failed_xlsx_for_an_xlsx_input_keeps_every_cell_as_text(
    tmp_path: Path, rows: list[tuple[list[str], RowOutcome]]
) -> None:
    path = write_failed_rows(tmp_path, "xlsx", HEADERS, [*rows, (["p3", "00123", "=cmd()", "1e5"],
                                                                 outcome(7, RowStatus.FAILED, "code 5041"))])
    assert path == tmp_path / "failed.xlsx"
    assert not (tmp_path / "failed.csv").exists()
    sheet = load_workbook(path, read_only=True).worksheets[0]
    values = [list(line) for line in sheet.iter_rows(values_only=True)]
    assert values[0] == [*HEADERS, "error"]
    assert [line[1] for line in values[1:]] == ["d2", "d3", "d9", "00123"]
    assert values[4] == ["p3", "00123", "'=cmd()", "1e5", "code 5041"]
    assert values[1][2] == "'+8613800138000"
    cells = load_workbook(path).worksheets[0]
    assert {cell.data_type for line in cells.iter_rows(min_row=2) for cell in line if cell.value is not None} == {"s"}
    assert leftovers(tmp_path) == []


def test_no_failed_rows_means_no_failed_file_and_a_stale_one_is_removed(
    tmp_path: Path, rows: list[tuple[list[str], RowOutcome]]
) -> None:
    stale = tmp_path / "failed.csv"
    stale.write_text("dk,error\nd1,from an earlier run\n", encoding="utf-8")
    good = [pair for pair in rows if pair[1].status in (RowStatus.SUCCESS, RowStatus.DUPLICATE)]
    assert write_failed_rows(tmp_path, "csv", HEADERS, good) is None
    assert not stale.exists()


def test_no_failed_rows_for_an_xlsx_input_removes_a_stale_failed_xlsx(tmp_path: Path) -> None:
    stale = tmp_path / "failed.xlsx"
    stale.write_bytes(b"old")
    assert write_failed_rows(tmp_path, "xlsx", ["dk"], [(["d1"], outcome(2, RowStatus.SUCCESS))]) is None
    assert not stale.exists()


# --- summary.json ------------------------------------------------------------------------------------


def test_summary_counts_each_status_and_the_total() -> None:
    summary = Summary()
    for status in [RowStatus.SUCCESS, RowStatus.SUCCESS, RowStatus.FAILED, RowStatus.INVALID, RowStatus.DUPLICATE,
                   RowStatus.NOT_ATTEMPTED, RowStatus.VALID]:
        summary.count(status)
    assert (summary.total, summary.success, summary.failed, summary.invalid, summary.duplicate,
            summary.not_attempted, summary.valid) == (7, 2, 1, 1, 1, 1, 1)


def test_summary_json_holds_every_field(tmp_path: Path) -> None:
    summary = Summary(total=3, success=1, failed=1, not_attempted=1, by_code={"5360": 1}, requests=4, retries=1,
                      started_at="2026-11-25T20:00:00.000Z", finished_at="2026-11-25T20:00:02.000Z",
                      duration_s=2.0, rate_achieved=3.5, stopped="stopped: code 5325", warnings=["cover mark 1"])
    path = tmp_path / "summary.json"
    write_summary(path, summary)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {
        "total": 3, "success": 1, "failed": 1, "invalid": 0, "duplicate": 0, "not_attempted": 1, "unknown": 0,
        "hidden": 0, "permanent": 0, "valid": 0, "revoked": 0, "already_ended": 0, "extended": 0,
        "by_code": {"5360": 1}, "requests": 4, "retries": 1, "started_at": "2026-11-25T20:00:00.000Z",
        "finished_at": "2026-11-25T20:00:02.000Z", "duration_s": 2.0, "rate_achieved": 3.5,
        "stopped": "stopped: code 5325", "held_back": 0, "warnings": ["cover mark 1"],
    }
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert leftovers(tmp_path) == []


# --- column names and the input's dialect -------------------------------------------------------------


def test_result_columns_are_renamed_only_when_the_input_has_one_of_their_names() -> None:
    from runner.outputs.report import REPORT_COLUMNS, report_tail, result_columns

    assert result_columns(["pk", "dk", "note"]) == REPORT_COLUMNS
    renamed = result_columns(["pk", "Status"])
    assert renamed == tuple(f"sharebatch_{name}" for name in REPORT_COLUMNS)
    assert result_columns(["row", "sharebatch_row"])[0] == "sharebatch_sharebatch_row"
    assert report_tail(["pk", *renamed]) == renamed
    assert report_tail(["pk", *REPORT_COLUMNS]) == REPORT_COLUMNS
    assert report_tail(["pk", "row", "status"]) is None


def test_a_utf16_input_gets_a_utf16_failed_file(tmp_path: Path) -> None:
    from runner.models import FileDialect
    from runner.outputs.report import write_failed_rows

    dialect = FileDialect("csv", delimiter="\t", encoding="utf-16", line_ending="\n")
    outcome = RowOutcome(row=2, status=RowStatus.INVALID, message="dk is empty")
    path = write_failed_rows(tmp_path, dialect, ["pk", "dk"], [(["p", ""], outcome)])
    assert path is not None
    assert path.read_bytes() == "pk\tdk\terror\np\t\tdk is empty\n".encode("utf-16")


def test_a_report_of_the_version_before_is_still_read_back(tmp_path: Path) -> None:
    from runner.batches.reportfile import RunReport
    from runner.outputs.report import LEGACY_REPORT_COLUMNS

    path = tmp_path / "report.csv"
    path.write_text(",".join(["pk", "dk", *LEGACY_REPORT_COLUMNS]) + "\n"
                    "p1,d1,2,success,200,,SC-1,1,200,5,2026-11-25T20:00:00.000Z\n", encoding="utf-8")
    report = RunReport(path)
    [row] = list(report.rows())
    assert (report.headers, row.cells, row.share_code) == (["pk", "dk"], ["p1", "d1"], "SC-1")


def test_report_html_is_given_every_row_still_to_do_and_decides_itself_how_many_to_show(tmp_path: Path) -> None:
    from runner.batches.results import write_outputs as _write_outputs
    from runner.outputs.htmlreport import MAX_FAILED_ROWS

    rows = [([f"d{i}"], outcome(i + 2, RowStatus.FAILED, "code 5360")) for i in range(MAX_FAILED_ROWS + 120)]
    result = _write_outputs(tmp_path, ["dk"], "csv", iter(rows), Summary())
    assert len(result.failed_rows) == MAX_FAILED_ROWS + 120  # not cut at 501 by the batch layer
    assert result.failed_rows[-1] == ({"dk": f"d{MAX_FAILED_ROWS + 119}"}, rows[-1][1])
    assert result.exit_code == 1
