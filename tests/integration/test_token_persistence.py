"""A refreshed pair is never lost: unwritable token files, symlinks, open modes, broken tokens.

The platform spends the old refresh token on every refresh, so these tests check the one thing
that matters: after a run whose save failed, the next run still refreshes without `login`.

A read-only folder has to hold for root too (CI runs the suite as root, and root ignores mode
bits), so `read_only_folder` uses, in this order: `chattr +i` (an immutable folder: not even root
may create or rename files in it); else, not being root, mode 0500; else it makes the folder
refuse writes at the OS boundary (`tempfile.mkstemp`, which every atomic write goes through,
raises EROFS for it), which is what a read-only mount does.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.platform.auth.tokenfile import fallback_paths
from runner.simulator import SimulatorConfig
from runner.simulator.config import DEMO_USER_DOMAIN_SECRET

from ..conftest import CsvWriter, ThreadedSimulator, good_rows
from ..fsfaults import make_read_only

pytestmark = pytest.mark.integration

LOGIN_ENV = {"SHAREBATCH_PASSWORD": "Sharebatch1", "SHAREBATCH_USER_DOMAIN_SECRET": DEMO_USER_DOMAIN_SECRET,
             "SHAREBATCH_TOKEN": "", "SHAREBATCH_REFRESH_TOKEN": ""}


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, args, env=env or {"SHAREBATCH_TOKEN": ""}, catch_exceptions=False)


def login(sim: ThreadedSimulator, token_file: Path) -> None:
    result = invoke(["login", "--email", "owner@example.com", "--user-domain", "E.DM.SIM.1", "--base-url",
                     sim.base_url, "--token-file", str(token_file)], LOGIN_ENV)
    assert result.exit_code == 0, result.output


def expire_access_token(path: Path) -> None:
    """Make the saved access token look expired, so the next run must refresh before its first share."""
    content = json.loads(path.read_text())
    content["access_expires_at"] = 0.0
    path.write_text(json.dumps(content))
    os.chmod(path, 0o600)


def statuses(out: Path) -> Counter[str]:
    with (out / "report.csv").open(encoding="utf-8", newline="") as handle:
        return Counter(row["status"] for row in csv.DictReader(handle))


def refresh_codes(sim: ThreadedSimulator) -> list[int]:
    return [r["code"] for r in sim.get("/_sim/requests") if r["path"].endswith("/refreshToken")]


@pytest.fixture
def read_only_folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], str]]:
    """Make a folder refuse new files; returns how (for the test's record)."""
    undo: list[Callable[[], None]] = []

    def make(folder: Path) -> str:
        restore = make_read_only(folder)
        if restore is not None:
            undo.append(restore)
            return "chattr +i or chmod 0500"
        real_mkstemp = tempfile.mkstemp

        def refusing_mkstemp(*args: Any, **kwargs: Any) -> Any:
            if Path(kwargs.get("dir") or "").resolve() == folder.resolve():
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(folder))
            return real_mkstemp(*args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refusing_mkstemp)
        return "EROFS at mkstemp"

    yield make
    for step in reversed(undo):
        step()


def test_a_token_file_in_a_read_only_folder_loses_no_refresh_token(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path,
    read_only_folder: Callable[[Path], str], private_state_folder: Path,
):
    sim = sim_thread_factory(SimulatorConfig(seed=21))
    folder = tmp_path / "cfg"
    token_file = folder / "token.json"
    login(sim, token_file)
    expire_access_token(token_file)
    how = read_only_folder(folder)
    source = write_csv("rows.csv", good_rows(4))
    first = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--token-file", str(token_file),
                    "--out", str(tmp_path / "o1")])
    assert first.exit_code == 0, (how, first.output)
    assert statuses(tmp_path / "o1") == Counter({"success": 4})
    assert "could not write the new tokens" in first.output
    if how != "EROFS at mkstemp":  # a real read-only folder is seen before the refresh spends the token
        assert "in a folder this run cannot write" in first.output
    beside, in_state = fallback_paths(token_file)
    assert not beside.exists()  # the folder refused it too
    assert in_state.is_relative_to(private_state_folder)
    assert stat.S_IMODE(in_state.stat().st_mode) == 0o600
    assert refresh_codes(sim) == [200]  # the refresh token in token.json is now spent
    # The next run finds the fallback and refreshes with it, without `login`.
    expire_access_token(in_state)
    second = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--token-file", str(token_file),
                     "--out", str(tmp_path / "o2")])
    assert second.exit_code == 0, (how, second.output)
    assert statuses(tmp_path / "o2") == Counter({"success": 4})
    assert refresh_codes(sim) == [200, 200]  # the newest refresh token was used, not the spent one
    assert sim.get("/_sim/stats")["logins"] == 1


def test_a_writable_token_file_takes_back_a_fallback_and_the_fallback_goes(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path,
):
    sim = sim_thread_factory(SimulatorConfig(seed=22))
    token_file = tmp_path / "token.json"
    beside = fallback_paths(token_file)[0]
    login(sim, beside)  # what an earlier run saved when it could not write token.json
    expire_access_token(beside)
    login(sim, token_file)
    spent = json.loads(token_file.read_text())
    spent.update(refresh_token="Bearer spent-refresh-token", access_expires_at=0.0,
                 obtained_at=json.loads(beside.read_text())["obtained_at"] - 60)
    token_file.write_text(json.dumps(spent))
    source = write_csv("rows.csv", good_rows(2))
    result = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--token-file", str(token_file),
                     "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert refresh_codes(sim) == [200]  # refreshed with the fallback's token, not the spent one
    assert not beside.exists()
    saved = json.loads(token_file.read_text())
    assert saved["refresh_token"] != spent["refresh_token"]
    assert saved["access_expires_at"] > 0


def test_a_symlinked_token_file_is_updated_through_the_link(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path,
):
    sim = sim_thread_factory(SimulatorConfig(seed=23))
    real = tmp_path / "vault" / "token.json"
    login(sim, real)
    expire_access_token(real)
    link = tmp_path / "token.json"
    link.symlink_to(real)
    before = json.loads(real.read_text())["refresh_token"]
    source = write_csv("rows.csv", good_rows(2))
    result = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--token-file", str(link),
                     "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert json.loads(real.read_text())["refresh_token"] != before
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


def test_a_token_file_open_to_others_is_refused_in_one_line(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path,
):
    token_file = tmp_path / "token.json"
    login(sim_thread, token_file)
    token_file.chmod(0o644)
    source = write_csv("rows.csv", good_rows(2))
    result = invoke(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--token-file",
                     str(token_file), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "chmod 600" in result.output
    assert "0644" in result.output
    assert sim_thread.get("/_sim/stats")["by_endpoint"].get("shareByUid") is None


@pytest.mark.parametrize("token", ["abc\r\nX-Injected: 1", "abc\nmore"], ids=["crlf-inside", "lf-inside"])
def test_a_token_with_a_line_break_is_one_line_and_exit_2(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path, token: str,
):
    source = write_csv("rows.csv", good_rows(2))
    result = invoke(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--out", str(tmp_path / "o")],
                    {"SHAREBATCH_TOKEN": "Bearer " + token})
    assert result.exit_code == 2, result.output
    assert "SHAREBATCH_TOKEN contains a line break" in result.output
    assert "abc" not in result.output
