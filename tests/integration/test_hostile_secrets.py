"""Secrets are masked by value wherever text is written, whatever their shape (issue 13, case 5).

The hostile platform echoes the request's Authorization header in its `msg`, as a careless
gateway or a malicious one might; the tokens are opaque (not JWT-shaped), so only masking by
value can catch them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner

from runner.cli import main

from ..conftest import CsvWriter
from ..hostile import envelope, serve

pytestmark = pytest.mark.integration

ACCESS = "opaque-access-7Hq2mZ"
REFRESH = "opaque-refresh-Kp93xW"


async def echoing_platform(request: web.Request) -> web.Response:
    """Row 1's device is refused, row 2's answer is a lockout (the run stops): both echo the header."""
    echoed = request.headers.get("Authorization", "")
    if request.query.get("dk") == "DK-LOCK":
        return envelope(5147, f"account frozen; your header was {echoed}")
    return envelope(5041, f"no permission for {echoed} (token {echoed.removeprefix('Bearer ')})")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_an_echoed_token_is_masked_in_every_output_and_log(
    write_csv: CsvWriter, tmp_path: Path, capfd: pytest.CaptureFixture[str], log_format: str
):
    source = write_csv("rows.csv", [["pk", "dk", "recipient"], ["p1", "DK-1", "U1"], ["p1", "DK-LOCK", "U2"],
                                    ["p1", "DK-3", "U3"]])
    out = tmp_path / "o"
    with serve(echoing_platform) as base_url:
        result = CliRunner().invoke(
            main, ["run", "--input", str(source), "--base-url", base_url, "--out", str(out), "--concurrency", "1",
                   "--log-format", log_format, "--debug"],
            env={"SHAREBATCH_TOKEN": ACCESS, "SHAREBATCH_REFRESH_TOKEN": REFRESH}, catch_exceptions=False)
    assert result.exit_code == 3, result.output
    captured = capfd.readouterr()
    texts = {"cli output": result.output, "captured": captured.out + captured.err}
    for path in out.iterdir():
        texts[path.name] = path.read_bytes().decode("utf-8", errors="replace")
    assert {"report.csv", "failed.csv", "summary.json", "report.html", "journal.sqlite"} <= set(texts)
    for name, text in texts.items():
        assert ACCESS not in text, f"the access token leaked into {name}"
        assert REFRESH not in text, f"the refresh token leaked into {name}"
    assert "no permission for ***" in texts["report.csv"]
    assert "***" in texts["summary.json"]  # the stop reason quotes the lockout's message, masked


def test_a_password_in_the_base_url_is_refused_and_never_shown(write_csv: CsvWriter, tmp_path: Path):
    source = write_csv("rows.csv", [["pk", "dk", "recipient"], ["p1", "DK-1", "U1"]])
    for fmt in ("text", "json"):
        result = CliRunner().invoke(
            main, ["run", "--input", str(source), "--base-url", "https://ops:hunter2pass@example.invalid",
                   "--out", str(tmp_path / "o"), "--log-format", fmt], env={"SHAREBATCH_TOKEN": ACCESS})
        assert result.exit_code == 2, result.output
        assert "hunter2pass" not in result.output
        assert "https://***@example.invalid" in result.output
