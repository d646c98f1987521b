"""report.html through the CLI: which file, platform, who and when; a resumed batch; --mask-recipients."""

from __future__ import annotations

import getpass
import hashlib
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main

from ..conftest import CsvWriter, ThreadedSimulator, good_rows

pytestmark = pytest.mark.integration


def run_cli(args: list[str], token: str) -> Result:
    return CliRunner().invoke(main, args, env={"SHAREBATCH_TOKEN": token}, catch_exceptions=False)


def email_rows(count: int) -> list[list[str]]:
    rows = good_rows(count, cover_mark="2")
    for index, row in enumerate(rows[1:]):
        row[2] = f"person{index}@example.org"
    rows[2][1] = "UNV0001"  # one failure, so the page lists a row with its recipient
    return rows


def test_the_report_names_the_input_its_digest_the_platform_the_user_and_the_host(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("shares.csv", email_rows(3))
    out = tmp_path / "o"
    result = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out),
                      "--rate", "500"], sim_thread.token)
    assert result.exit_code == 1, result.output
    page = (out / "report.html").read_text(encoding="utf-8")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert f"shares.csv (SHA-256 {digest[:12]}…" in page
    assert "127.0.0.1 (a base URL of its own)" in page
    assert f"{getpass.getuser()} on {socket.gethostname()}" in page
    assert "First start" in page
    assert "Last finish" in page
    assert "resumed the batch" not in page
    assert "person1@example.org" in page  # not masked unless asked


def test_a_resumed_batch_says_so_and_keeps_batch_and_run_figures_apart(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("shares.csv", good_rows(6, cover_mark="2"))
    out = tmp_path / "o"
    args = ["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(out), "--rate", "500"]
    assert run_cli([*args, "--limit", "2"], sim_thread.token).exit_code == 0
    assert run_cli(args, sim_thread.token).exit_code == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "resumed the batch at" in page
    batch = page[page.index('id="batch-figures"'):page.index('id="run-figures"')]
    run = page[page.index('id="run-figures"'):]
    assert '<td class="num" data-key="success">6</td>' in batch
    assert '<td class="num" data-key="requests">4</td>' in run[:run.index("</table>")]


def test_mask_recipients_keeps_recipients_out_of_the_html_but_in_the_csv(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    source = write_csv("shares.csv", email_rows(3))
    job = tmp_path / "mail.toml"
    job.write_text(f'input = "shares.csv"\nbase_url = "{sim_thread.base_url}"\nmask_recipients = true\n',
                   encoding="utf-8")
    result = run_cli(["run", str(job)], sim_thread.token)
    assert result.exit_code == 1, result.output
    out = tmp_path / "out" / "mail"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "person1@example.org" not in page
    assert "p***@example.org" in page
    assert "recipients are masked for mailing" in page
    assert "person1@example.org" in (out / "report.csv").read_text(encoding="utf-8")
    flag = run_cli(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(tmp_path / "f"),
                    "--mask-recipients"], sim_thread.token)
    assert flag.exit_code == 1, flag.output
    assert "person1@example.org" not in (tmp_path / "f" / "report.html").read_text(encoding="utf-8")
