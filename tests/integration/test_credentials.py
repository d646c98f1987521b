"""Credentials for unattended batches: login, token file, refresh in flight, no secret leaks, TLS."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import ssl
import stat
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.errors import ExitCode
from runner.simulator import SimulatorConfig, start_simulator
from runner.simulator.config import DEMO_USER_DOMAIN_SECRET

from ..conftest import CsvWriter, ThreadedSimulator, good_rows

pytestmark = pytest.mark.integration

PASSWORD = "Sharebatch1"
LOGIN_ENV = {"SHAREBATCH_PASSWORD": PASSWORD, "SHAREBATCH_USER_DOMAIN_SECRET": DEMO_USER_DOMAIN_SECRET,
             "SHAREBATCH_TOKEN": "", "SHAREBATCH_REFRESH_TOKEN": ""}


def invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def login(sim: ThreadedSimulator, token_file: Path) -> Result:
    return invoke(["login", "--email", "owner@example.com", "--user-domain", "E.DM.SIM.1", "--base-url",
                   sim.base_url, "--token-file", str(token_file)], LOGIN_ENV)


def statuses(out: Path) -> Counter[str]:
    with (out / "report.csv").open(encoding="utf-8", newline="") as handle:
        return Counter(row["status"] for row in csv.DictReader(handle))


def test_login_writes_a_private_token_file_that_run_can_use(
    sim_thread: ThreadedSimulator, write_csv: CsvWriter, tmp_path: Path
):
    token_file = tmp_path / "cfg" / "token.json"
    result = login(sim_thread, token_file)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = json.loads(token_file.read_text())
    assert saved["access_token"].startswith("Bearer ")
    assert saved["base_url"] == sim_thread.base_url
    source = write_csv("rows.csv", good_rows(3))
    run = invoke(["run", "--input", str(source), "--base-url", sim_thread.base_url, "--token-file", str(token_file),
                  "--out", str(tmp_path / "o")], {"SHAREBATCH_TOKEN": ""})
    assert run.exit_code == 0, run.output


def test_a_wrong_password_is_refused_once_with_attempts_left_and_never_retried(
    sim_thread: ThreadedSimulator, tmp_path: Path
):
    result = invoke(["login", "--email", "owner@example.com", "--user-domain", "E.DM.SIM.1", "--base-url",
                     sim_thread.base_url, "--token-file", str(tmp_path / "t.json")],
                    {**LOGIN_ENV, "SHAREBATCH_PASSWORD": "wrong-password"})
    assert result.exit_code == ExitCode.REFUSED == 5
    assert "4 attempts left" in result.output
    assert sim_thread.get("/_sim/stats")["by_endpoint"].get("emailPwdLogin") == 1
    assert not (tmp_path / "t.json").exists()


def test_a_login_that_reaches_no_platform_is_stopped_early_not_refused(tmp_path: Path):
    result = invoke(["login", "--email", "owner@example.com", "--user-domain", "E.DM.SIM.1", "--base-url",
                     "http://127.0.0.1:9", "--token-file", str(tmp_path / "t.json")], LOGIN_ENV)
    assert result.exit_code == ExitCode.ABORTED
    assert "cannot reach the platform's auth endpoint" in result.output
    assert not (tmp_path / "t.json").exists()


def test_a_wrong_domain_secret_says_what_to_check(sim_thread: ThreadedSimulator, tmp_path: Path):
    result = invoke(["login", "--phone", "13800000000", "--user-domain", "E.DM.SIM.1", "--base-url",
                     sim_thread.base_url, "--token-file", str(tmp_path / "t.json")],
                    {**LOGIN_ENV, "SHAREBATCH_USER_DOMAIN_SECRET": "not-the-secret"})
    assert result.exit_code == ExitCode.REFUSED
    assert "SHAREBATCH_USER_DOMAIN_SECRET" in result.output


def test_a_batch_outliving_its_access_token_refreshes_in_flight_and_saves_the_newest_tokens(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path
):
    # When and how often RefreshingTokens refreshes is tested on a fake clock (tests/test_tokens.py);
    # this checks the whole path: a 1 s token, 12 rows paced at 8/s (1.375 s at least), the token file.
    sim = sim_thread_factory(SimulatorConfig(seed=2, token_ttl_s=1.0))
    token_file = tmp_path / "token.json"
    assert login(sim, token_file).exit_code == 0
    first_tokens = json.loads(token_file.read_text())
    source = write_csv("rows.csv", good_rows(12, devices=12))
    result = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--token-file", str(token_file),
                     "--out", str(tmp_path / "o"), "--rate", "8", "--concurrency", "2"], {"SHAREBATCH_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert statuses(tmp_path / "o") == Counter({"success": 12})
    refresh_codes = [r["code"] for r in sim.get("/_sim/requests") if r["path"].endswith("/refreshToken")]
    assert len(refresh_codes) >= 1
    assert refresh_codes == [200] * len(refresh_codes)  # no stampede: no refresh token was used twice
    newest = json.loads(token_file.read_text())
    assert newest["refresh_token"] != first_tokens["refresh_token"]
    assert newest["access_expires_at"] > first_tokens["access_expires_at"]
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # the newest refresh token in the file is the live one: the simulator accepts it
    assert invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--token-file", str(token_file),
                   "--out", str(tmp_path / "o2"), "--rate", "500"], {"SHAREBATCH_TOKEN": ""}).exit_code == 0


def test_a_dead_refresh_token_stops_with_exit_3_and_a_login_lets_the_next_run_finish(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path
):
    sim = sim_thread_factory(SimulatorConfig(seed=4, token_ttl_s=2.0, refresh_ttl_s=1.0))
    token_file = tmp_path / "token.json"
    assert login(sim, token_file).exit_code == 0
    source = write_csv("rows.csv", good_rows(30, cover_mark="2"))
    args = ["run", "--input", str(source), "--base-url", sim.base_url, "--token-file", str(token_file),
            "--out", str(tmp_path / "o"), "--rate", "8", "--concurrency", "2"]
    stopped = invoke(args, {"SHAREBATCH_TOKEN": ""})
    assert stopped.exit_code == 3, stopped.output
    assert "sharebatch login" in stopped.output
    first = statuses(tmp_path / "o")
    assert first["not_attempted"] > 0
    assert first["success"] > 0
    assert login(sim, token_file).exit_code == 0
    finished = invoke([*args, "--rate", "500"], {"SHAREBATCH_TOKEN": ""})
    assert finished.exit_code == 0, finished.output
    assert statuses(tmp_path / "o") == Counter({"success": 30})
    created = Counter((s["dk"], s["share_uid"]) for s in sim.get("/_sim/shares"))
    assert set(created.values()) == {1}
    assert len(created) == 30


def test_environment_tokens_are_refreshed_in_memory_after_a_rejection(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path
):
    sim = sim_thread_factory(SimulatorConfig(seed=5, token_ttl_s=1.0))
    source = write_csv("rows.csv", good_rows(20))
    env = {"SHAREBATCH_TOKEN": sim.running.access_token, "SHAREBATCH_REFRESH_TOKEN": sim.running.refresh_token}
    result = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--out", str(tmp_path / "o"),
                     "--rate", "8", "--concurrency", "2"], env)
    assert result.exit_code == 0, result.output
    assert statuses(tmp_path / "o") == Counter({"success": 20})
    assert sim.get("/_sim/stats")["refreshes"] >= 1


def test_no_token_or_secret_appears_in_outputs_or_captured_output(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
):
    sim = sim_thread_factory(SimulatorConfig(seed=6, token_ttl_s=2.0, fault_rate=0.2))
    token_file = tmp_path / "token.json"
    logged_in = login(sim, token_file)
    source = write_csv("rows.csv", [*good_rows(20), ["p1test", "UNV1", "FAM1", "", ""]])
    run = invoke(["run", "--input", str(source), "--base-url", sim.base_url, "--token-file", str(token_file),
                  "--out", str(tmp_path / "o"), "--rate", "10", "--timeout-s", "1", "--settle-s", "1.5", "--debug"],
                 {"SHAREBATCH_TOKEN": ""})
    status = invoke(["status", "--out", str(tmp_path / "o")], {})
    secrets = {PASSWORD, DEMO_USER_DOMAIN_SECRET, sim.running.access_token, sim.running.refresh_token}
    saved = json.loads(token_file.read_text())
    secrets |= {saved["access_token"], saved["refresh_token"]}
    secrets |= {s.split(" ", 1)[1] for s in list(secrets) if s.startswith("Bearer ")}
    captured = capfd.readouterr()
    texts = {"login": logged_in.output, "run": run.output, "status": status.output,
             "captured": captured.out + captured.err}
    for path in (tmp_path / "o").iterdir():
        texts[path.name] = path.read_bytes().decode("utf-8", errors="replace")
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {name}"
    assert run.exit_code == 1  # the UNV/FAM row fails; the point is that it ran


@pytest.fixture
def https_simulator(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A simulator serving HTTPS with a self-signed certificate for 127.0.0.1; yields url, token, cert path."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sharebatch test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    sim = asyncio.run_coroutine_threadsafe(start_simulator(SimulatorConfig(seed=1), ssl_context=context),
                                           loop).result(10)
    yield sim.base_url, sim.access_token, cert_path
    asyncio.run_coroutine_threadsafe(sim.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_a_self_signed_https_simulator_is_refused_without_ca_bundle_and_accepted_with_it(
    https_simulator: tuple[str, str, Path], write_csv: CsvWriter, tmp_path: Path
):
    base_url, token, cert = https_simulator
    assert base_url.startswith("https://")
    source = write_csv("rows.csv", good_rows(3))
    refused = invoke(["run", "--input", str(source), "--base-url", base_url, "--out", str(tmp_path / "a")],
                     {"SHAREBATCH_TOKEN": token})
    assert refused.exit_code == 3
    assert "--ca-bundle" in refused.output
    accepted = invoke(["run", "--input", str(source), "--base-url", base_url, "--out", str(tmp_path / "b"),
                       "--ca-bundle", str(cert)], {"SHAREBATCH_TOKEN": token})
    assert accepted.exit_code == 0, accepted.output


def test_a_dead_refresh_token_with_login_settings_logs_in_again_and_finishes(
    sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator], write_csv: CsvWriter, tmp_path: Path
):
    sim = sim_thread_factory(SimulatorConfig(seed=9, token_ttl_s=2.0, refresh_ttl_s=1.0))
    token_file = tmp_path / "token.json"
    assert login(sim, token_file).exit_code == 0
    write_csv("rows.csv", good_rows(30, cover_mark="2"))
    job = tmp_path / "job.toml"
    job.write_text(
        f'input = "rows.csv"\nbase_url = "{sim.base_url}"\nrate = 8\nconcurrency = 2\n'
        f'[auth]\ntoken_file = "token.json"\nemail = "owner@example.com"\nuser_domain = "E.DM.SIM.1"\n'
    )
    result = invoke(["run", str(job), "--out", str(tmp_path / "o")], {**LOGIN_ENV})
    assert result.exit_code == 0, result.output
    assert statuses(tmp_path / "o") == Counter({"success": 30})
    assert sim.get("/_sim/stats")["logins"] >= 2  # the first login, then at least one by the run
    assert json.loads(token_file.read_text())["access_expires_at"] > 0
