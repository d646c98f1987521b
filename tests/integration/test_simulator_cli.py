"""`sharebatch simulate` as an operator runs it: a real process, a ready file, a signal to stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from runner.errors import ExitCode
from runner.simulator.cli import is_loopback, simulate

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE_S = 15.0


def read_ready_file(path: Path) -> dict[str, Any] | None:
    """The ready file's content, or None while it does not exist yet (it appears atomically)."""
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


async def wait_for_ready_file(path: Path, proc: asyncio.subprocess.Process) -> dict[str, Any]:
    """Poll until the process has written `path`, with a deadline; fail early if it died."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_DEADLINE_S
    while (info := read_ready_file(path)) is None:
        assert proc.returncode is None, "simulator exited before it was ready"
        assert loop.time() < deadline, f"no ready file after {STARTUP_DEADLINE_S} s"
        await asyncio.sleep(0.05)
    return info


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_simulate_serves_then_exits_cleanly_on_a_signal(tmp_path: Path, signum: signal.Signals) -> None:
    ready = tmp_path / "ready.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from runner.simulator.cli import simulate; simulate()",
        "--port", "0", "--seed", "1", "--devices", str(ROOT / "samples" / "devices.json"),
        "--ready-file", str(ready),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env=env,
    )
    try:
        info = await wait_for_ready_file(ready, proc)
        async with aiohttp.ClientSession() as http, http.post(
            info["base_url"] + "/v2/binding/enduserapi/shareByUid",
            params={"pk": "p11demo", "dk": "860000000000004", "shareUid": "C200001"},
            headers={"Authorization": info["access_token"]},
        ) as resp:
            body = await resp.json()
        proc.send_signal(signum)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), STARTUP_DEADLINE_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    assert body["code"] == 5360  # the sample file's unverified device
    assert proc.returncode == 0
    out = stdout.decode()
    assert info["base_url"] in out
    assert info["access_token"] in out
    assert info["refresh_token"] in out
    assert f"--base-url {info['base_url']}" in out
    assert "Traceback" not in stderr.decode()
    assert not ready.exists()  # removed at exit: its tokens belong to a stopped server


def test_simulate_help_explains_every_option() -> None:
    result = CliRunner().invoke(simulate, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--latency-ms", "--jitter-ms", "--rate-limit", "--fault-rate",
                   "--fault-kind", "--token-ttl", "--devices", "--seed", "--ready-file"):
        assert option in result.output
    params = [p for p in simulate.params if p.name != "help"]
    assert all(getattr(p, "help", None) for p in params)


def test_simulate_warns_about_a_non_loopback_host_and_reports_bind_errors() -> None:
    result = CliRunner().invoke(simulate, ["--host", "192.0.2.1", "--port", "0"])  # TEST-NET: not ours
    assert result.exit_code == ExitCode.USAGE
    assert "warning: binding 192.0.2.1" in result.stderr
    assert "Error:" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_simulate_refuses_a_bad_devices_file(tmp_path: Path) -> None:
    bad = tmp_path / "devices.json"
    bad.write_text('{"devices": [{"pk": "p"}]}', encoding="utf-8")
    result = CliRunner().invoke(simulate, ["--port", "0", "--devices", str(bad)])
    assert result.exit_code == ExitCode.USAGE
    assert '"dk"' in result.stderr


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.3.4.5", True), ("::1", True),
                                                 ("localhost", True), ("0.0.0.0", False), ("example.com", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
