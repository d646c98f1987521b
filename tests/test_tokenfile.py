"""save_tokens_somewhere: where a refreshed pair goes when the token file cannot take it."""

from __future__ import annotations

import logging
import stat
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
