"""Preflight: each account's token expiry and the host clock against the platform's Date header."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.platform.auth.api import TokenPair
from runner.platform.auth.tokenfile import save_tokens
from runner.platform.preflight import (
    SKEW_WARN_S,
    Credential,
    on_this_host,
    read_clock_skew,
    skew_from_date,
    skew_warning,
    token_warnings,
)
from runner.redact import Secret

from .conftest import ThreadedSimulator

NOW = 1_800_000_000.0
URL = "http://127.0.0.1:9"


def _token_file(path: Path, *, access_in_s: float, refresh_in_s: float, now: float = NOW) -> Path:
    save_tokens(path, TokenPair(Secret("Bearer a.b.c"), now + access_in_s, Secret("Bearer r.s.t"), now + refresh_in_s,
                                now - 60), base_url=URL)
    return path


def test_a_dead_refresh_token_says_nothing_can_be_sent_and_how_to_log_in(tmp_path: Path) -> None:
    path = _token_file(tmp_path / "acme.json", access_in_s=-10, refresh_in_s=-5)
    [line] = token_warnings(Credential('account "acme"', URL, token_file=path), NOW)
    assert line.startswith('account "acme": its refresh token expired at 2027-01-15T07:59:55Z, so nothing can be sent')
    assert f"sharebatch login --token-file {path}" in line


def test_a_refresh_token_ending_within_days_is_a_warning_and_a_fresh_one_is_silent(tmp_path: Path) -> None:
    soon = _token_file(tmp_path / "soon.json", access_in_s=-10, refresh_in_s=5 * 3600)
    [line] = token_warnings(Credential("the default token", URL, token_file=soon), NOW)
    assert "expires at" in line
    assert "(5 h from now)" in line
    fresh = _token_file(tmp_path / "fresh.json", access_in_s=-10, refresh_in_s=20 * 86400)
    assert token_warnings(Credential("the default token", URL, token_file=fresh), NOW) == []


def test_an_expired_access_token_without_refresh_token_from_the_environment() -> None:
    import base64
    import json

    claims = base64.urlsafe_b64encode(json.dumps({"uid": "C1", "exp": int(NOW) - 1}).encode()).decode().rstrip("=")
    [line] = token_warnings(Credential("the default token", URL, access_token=f"Bearer h.{claims}.s"), NOW)
    assert "its access token expired" in line
    assert "SHAREBATCH_TOKEN" in line


def test_skew_is_measured_from_the_middle_of_the_request_and_warned_past_the_threshold() -> None:
    header = email.utils.formatdate(NOW + 100, usegmt=True)
    assert skew_from_date(header, NOW - 1, NOW + 1) == pytest.approx(100)
    assert skew_from_date("yesterday", NOW, NOW) is None
    assert skew_warning(URL, SKEW_WARN_S) is None
    warning = skew_warning(URL, -(SKEW_WARN_S + 10))
    assert warning is not None
    assert f"{SKEW_WARN_S + 10:.0f} s ahead of the platform's" in warning


@pytest.fixture
def skewed_server() -> Iterator[str]:
    """A server whose Date header runs 120 s ahead of this host (stdlib: its Date is easy to set)."""

    class Handler(BaseHTTPRequestHandler):
        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(time.time() + 120, usegmt=True)

        def do_HEAD(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_the_platforms_clock_is_read_from_a_head_requests_date_header(skewed_server: str) -> None:
    skew, problem = read_clock_skew(skewed_server)
    assert problem is None
    assert skew == pytest.approx(120, abs=2)
    skew, problem = read_clock_skew("http://127.0.0.1:9")
    assert skew is None
    assert problem is not None
    assert "could not read the platform's clock at http://127.0.0.1:9" in problem


def test_a_server_on_this_host_shares_its_clock_and_is_not_asked() -> None:
    assert on_this_host("http://127.0.0.1:8080")
    assert on_this_host("http://localhost:8080")
    assert not on_this_host("https://iot-api.acceleronix.io")


def test_validate_and_status_warn_about_tokens_and_clock_before_anything_is_sent(
    tmp_path: Path, skewed_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runner.platform.preflight.on_this_host", lambda url: False)  # as if it were the platform
    now = time.time()
    _token_file(tmp_path / "acme.json", access_in_s=600, refresh_in_s=3600, now=now)
    (tmp_path / "rows.csv").write_text("pk,dk,recipient,account\np1,D1,U1,acme\n", encoding="utf-8")
    (tmp_path / "job.toml").write_text(f'input = "rows.csv"\nbase_url = "{skewed_server}"\n'
                                       '[accounts.acme]\ntoken_file = "acme.json"\n', encoding="utf-8")
    for command in ("validate", "status"):
        result = CliRunner().invoke(main, [command, str(tmp_path / "job.toml")], env={"SHAREBATCH_TOKEN": ""})
        assert 'account "acme": its refresh token expires at' in result.output, (command, result.output)
        assert "s behind the platform's" in result.output, (command, result.output)


def test_run_warns_about_a_token_near_its_end_and_still_sends(sim_thread: ThreadedSimulator, tmp_path: Path) -> None:
    now = time.time()
    token_file = tmp_path / "token.json"
    save_tokens(token_file, TokenPair(Secret(sim_thread.running.access_token), now + 3600,
                                      Secret(sim_thread.running.refresh_token), now + 7200, now),
                base_url=sim_thread.base_url)
    source = tmp_path / "rows.csv"
    source.write_text("pk,dk,recipient\np1,D1,U1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "--input", str(source), "--base-url", sim_thread.base_url,
                                       "--token-file", str(token_file), "--out", str(tmp_path / "out")],
                                env={"SHAREBATCH_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert "the default token: its refresh token expires at" in result.output
    assert "(2 h from now)" in result.output
    assert "behind the platform's" not in result.output
    assert "ahead of the platform's" not in result.output
