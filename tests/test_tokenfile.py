"""save_tokens_somewhere: where a refreshed pair goes when the token file cannot take it."""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.platform.auth import tokenfile
from runner.platform.auth.api import TokenPair
from runner.platform.auth.tokenfile import fallback_paths, load_tokens, save_tokens, save_tokens_somewhere
from runner.redact import Secret

PAIR = TokenPair(Secret("Bearer access-1"), 2e9, Secret("Bearer refresh-1"), 2e9, 1.7e9)
URL = "http://127.0.0.1:1"


def test_a_failed_save_everywhere_keeps_running_and_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(path: Path, pair: TokenPair, *, base_url: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tokenfile, "save_tokens", refuse)
    with caplog.at_level(logging.ERROR, logger="runner.platform.auth.tokenfile"):
        assert save_tokens_somewhere(tmp_path / "token.json", PAIR, base_url=URL) is None
    (message,) = [r.getMessage() for r in caplog.records]
    assert "No space left on device" in message
    assert f"sharebatch login --token-file {tmp_path / 'token.json'}" in message
    assert "refresh-1" not in message


def test_the_fallback_beside_the_file_is_private_and_the_newer_pair_wins(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    save_tokens(path, PAIR, base_url=URL)
    newer = TokenPair(Secret("Bearer access-2"), 2e9, Secret("Bearer refresh-2"), 2e9, PAIR.obtained_at + 5)
    beside = fallback_paths(path)[0]
    save_tokens(beside, newer, base_url=URL)
    assert beside.name == "token.json.unsaved"
    assert stat.S_IMODE(beside.stat().st_mode) == 0o600
    pair, base_url = load_tokens(path)
    assert pair.refresh_token.reveal() == "Bearer refresh-2"
    assert base_url == URL
    assert not beside.exists()  # moved back into token.json
    assert load_tokens(path)[0].refresh_token.reveal() == "Bearer refresh-2"


def test_a_fallback_for_another_data_center_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    save_tokens(path, PAIR, base_url=URL)
    other = TokenPair(Secret("Bearer a"), 2e9, Secret("Bearer r"), 2e9, PAIR.obtained_at + 5)
    save_tokens(fallback_paths(path)[1], other, base_url="https://elsewhere.example")
    assert load_tokens(path)[0].refresh_token.reveal() == "Bearer refresh-1"


@pytest.mark.parametrize(("make", "says"), [
    (lambda path: path.mkdir(), "is a folder, not a token file; give the token file's own path"),
    (lambda path: None, "token file not found; log in to save one there: `sharebatch login --token-file"),
    (lambda path: path.write_text("{half", encoding="utf-8") and path.chmod(0o600), "cannot read the token file"),
])
def test_an_accounts_unusable_token_file_names_the_account_and_the_file_in_one_line(
    tmp_path: Path, make: Callable[[Path], object], says: str
) -> None:
    from click.testing import CliRunner

    from runner.cli import main

    save_tokens(tmp_path / "acme.json", PAIR, base_url=URL)
    make(tmp_path / "beta.json")
    (tmp_path / "rows.csv").write_text("pk,dk,recipient,account\np1,D1,U1,acme\np1,D2,U2,beta\n", encoding="utf-8")
    (tmp_path / "job.toml").write_text(f'input = "rows.csv"\nbase_url = "{URL}"\nlimiter = "off"\n'
                                       '[accounts.acme]\ntoken_file = "acme.json"\n'
                                       '[accounts.beta]\ntoken_file = "beta.json"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["run", str(tmp_path / "job.toml"), "--quiet"], env={"SHAREBATCH_TOKEN": ""})
    assert result.exit_code == 2, result.output
    [line] = result.output.splitlines()
    assert line.startswith(f'error: account "beta": {tmp_path / "beta.json"}: ')
    assert says in line
    assert "chmod" not in line  # a folder's mode is not the problem
