"""Column mapping through the CLI: what the simulator receives, or that it receives nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import ThreadedSimulator

pytestmark = pytest.mark.integration

EXPIRY_MS = 1_830_297_599_999  # 2027-12-31T23:59:59.999Z, the end of the day the sheets below say


def run_cli(args: list[str], token: str) -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def shares_sent(sim: ThreadedSimulator) -> list[dict[str, str]]:
    return [record["params"] for record in sim.get("/_sim/requests") if record["path"].endswith("/shareByUid")]


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_args(sim: ThreadedSimulator, source: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--input", str(source), "--base-url", sim.base_url, "--out", str(out), "--rate", "500", *extra]


def test_an_unmapped_expiry_header_stops_the_file_and_nothing_is_sent(sim_thread: ThreadedSimulator, tmp_path: Path):
    source = write(tmp_path, "pk,dk,uid,Ablaufdatum\np1test,00D000001,U1,2027-12-31\n")
    result = run_cli(run_args(sim_thread, source, tmp_path / "out"), sim_thread.token)
    assert result.exit_code == 2, result.output
    assert 'column "Ablaufdatum" looks like an expiry date' in result.output
    assert "--map expiry=Ablaufdatum" in result.output
    assert "--ignore-column Ablaufdatum" in result.output
    assert sim_thread.get("/_sim/requests") == []


def test_validate_stops_on_an_unmapped_valid_until_column_too(tmp_path: Path):
    source = write(tmp_path, "pk,dk,uid,Gültig bis\np1test,00D000001,U1,2027-12-31\n")
    result = CliRunner().invoke(main, ["validate", "--input", str(source), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert '--map expiry="Gültig bis"' in result.output


def test_map_sends_the_expiry_and_the_kind_the_headers_name(sim_thread: ThreadedSimulator, tmp_path: Path):
    source = write(tmp_path, "Product Key,IMEI,Phone Number,Ablaufdatum,Type\np1test,00D000001,07700900123,"
                             "2027-12-31,sensor\n")
    result = run_cli(run_args(sim_thread, source, tmp_path / "out", "--map", "expiry=Ablaufdatum"), sim_thread.token)
    assert result.exit_code == 0, result.output
    assert shares_sent(sim_thread) == [{"pk": "p1test", "dk": "00D000001", "phone": "07700900123",
                                         "sharingExpireAt": str(EXPIRY_MS), "coverMark": "1"}]
    with (tmp_path / "out" / "report.csv").open(encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["Type"] == "sensor"  # a device type is carried through, not read as recipient_type


def test_ignore_column_settles_two_recipient_columns(sim_thread: ThreadedSimulator, tmp_path: Path):
    source = write(tmp_path, "pk,dk,uid,Email\np1test,00D000001,U1,old@example.com\n")
    clash = run_cli(run_args(sim_thread, source, tmp_path / "a"), sim_thread.token)
    assert clash.exit_code == 2
    assert "--ignore-column Email" in clash.output
    result = run_cli(run_args(sim_thread, source, tmp_path / "b", "--ignore-column", "Email"), sim_thread.token)
    assert result.exit_code == 0, result.output
    assert shares_sent(sim_thread) == [{"pk": "p1test", "dk": "00D000001", "shareUid": "U1", "coverMark": "1"}]


def test_a_title_row_is_named_and_header_row_reads_below_it(sim_thread: ThreadedSimulator, tmp_path: Path):
    source = write(tmp_path, "Shares for March,,\n,,\ndk,pk,recipient\n00D000001,p1test,U1\n")
    hint = run_cli(run_args(sim_thread, source, tmp_path / "a"), sim_thread.token)
    assert hint.exit_code == 2
    assert "row 3 (dk, pk, recipient) looks like the header: pass --header-row 3" in hint.output
    assert sim_thread.get("/_sim/requests") == []
    result = run_cli(run_args(sim_thread, source, tmp_path / "b", "--header-row", "3"), sim_thread.token)
    assert result.exit_code == 0, result.output
    assert shares_sent(sim_thread) == [{"pk": "p1test", "dk": "00D000001", "shareUid": "U1", "coverMark": "1"}]
    with (tmp_path / "b" / "report.csv").open(encoding="utf-8", newline="") as handle:
        assert [row["row"] for row in csv.DictReader(handle)] == ["4"]


def test_job_file_maps_ignores_and_sets_the_header_row(sim_thread: ThreadedSimulator, tmp_path: Path):
    write(tmp_path, "Export 2027-03\npk,Gerät,Kunde,Valid until,Last update\n"
                    "p1test,00D000001,ops@example.com,2027-12-31,2027-01-01\n", "shares.csv")
    job = tmp_path / "job.toml"
    job.write_text('input = "shares.csv"\nheader_row = 2\nignore_columns = ["Last update"]\n'
                   '[columns]\ndk = "Gerät"\n', encoding="utf-8")
    result = run_cli(["run", str(job), "--base-url", sim_thread.base_url, "--out", str(tmp_path / "o"),
                      "--map", "recipient=Kunde"], sim_thread.token)
    assert result.exit_code == 0, result.output
    assert shares_sent(sim_thread) == [{"pk": "p1test", "dk": "00D000001", "email": "ops@example.com",
                                         "sharingExpireAt": str(EXPIRY_MS), "coverMark": "1"}]


def test_a_value_that_contradicts_the_header_kind_is_invalid_and_not_sent(sim_thread: ThreadedSimulator,
                                                                          tmp_path: Path):
    source = write(tmp_path, "pk,dk,uid\np1test,00D000001,ops@example.com\np1test,00D000002,U2\n")
    result = run_cli(run_args(sim_thread, source, tmp_path / "out"), sim_thread.token)
    assert result.exit_code == 1
    assert shares_sent(sim_thread) == [{"pk": "p1test", "dk": "00D000002", "shareUid": "U2", "coverMark": "1"}]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["success"], summary["invalid"]) == (1, 1)
    with (tmp_path / "out" / "report.csv").open(encoding="utf-8", newline="") as handle:
        first = next(csv.DictReader(handle))
    assert first["message"] == ('column "recipient": recipient "ops@example.com" looks like an email address, '
                                'not a user id (the column is "uid")')
