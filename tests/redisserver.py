"""A real redis-server (Debian's `redis-server` package) on a free loopback port, for the Redis limiter.

`.ci/run` installs the package; without it the tests that need Redis skip and say why.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_START_DEADLINE_S = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_server(folder: Path) -> Iterator[str]:
    """Start redis-server with no persistence; yield its redis:// URL; stop it at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(3):  # another process may take the free port between the probe and the bind
        port = _free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_DEADLINE_S
        while process.poll() is None and not _answers_ping(port) and time.monotonic() < deadline:
            time.sleep(0.02)
        if process.poll() is None and _answers_ping(port):
            try:
                yield f"redis://127.0.0.1:{port}/0"
            finally:
                process.terminate()
                process.wait(timeout=10)
            return
        process.kill()
        process.wait(timeout=10)
    raise AssertionError("redis-server did not start on a free port")
