"""Every command explains itself, and `sharebatch --help` stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main

COMMANDS = ["demo", "extend", "login", "plan", "revoke", "run", "simulate", "status", "track", "validate"]


def test_the_group_lists_every_command_with_a_one_line_summary() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help_with_its_options(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: main {name}") or result.output.startswith(f"Usage: sharebatch {name}")
    assert "--help" in result.output
    assert len(result.output.splitlines()) > 5


def test_top_level_help_imports_neither_aiohttp_nor_pandas() -> None:
    code = ("import sys; from click.testing import CliRunner; from runner.cli import main; "
            "CliRunner().invoke(main, ['--help']); print(sorted({'aiohttp', 'pandas'} & set(sys.modules)))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_run_help_documents_the_exit_codes_and_the_token_variable() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    for fragment in ("SHAREBATCH_TOKEN", "130/143", "not_attempted", "resumes"):
        assert fragment in result.output.replace("\n", " ")


@pytest.mark.parametrize("name", ["plan", "track", "extend"])
def test_the_before_and_after_commands_help_imports_neither_aiohttp_nor_pandas(name: str) -> None:
    code = ("import sys; from click.testing import CliRunner; from runner.cli import main; "
            f"CliRunner().invoke(main, [{name!r}, '--help']); "
            "print(sorted({'aiohttp', 'pandas'} & set(sys.modules)))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_plan_help_lists_its_actions_and_exit_codes() -> None:
    result = CliRunner().invoke(main, ["plan", "--help"])
    text = result.output.replace("\n", " ")
    for fragment in ("create", "in_place", "change_expiry", "replaces", "no_permission", "--skip-existing",
                     "Exit codes"):
        assert fragment in text


def test_extend_help_says_it_cannot_make_a_share_permanent() -> None:
    result = CliRunner().invoke(main, ["extend", "--help"])
    assert "permanent" in result.output
    assert "--expiry" in result.output


def test_windows_is_refused_at_start_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    result = CliRunner().invoke(main, ["validate", "--input", str(tmp_path / "none.csv")])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "error: sharebatch runs on Linux and macOS, not on Windows (it needs POSIX file locks and signals): run it "
        "on a Linux or macOS machine, or in WSL"]
    monkeypatch.setattr(sys, "platform", "linux")
    elsewhere = CliRunner().invoke(main, ["validate", "--input", str(tmp_path / "none.csv")])
    assert "Windows" not in elsewhere.output
    assert "none.csv" in elsewhere.output
