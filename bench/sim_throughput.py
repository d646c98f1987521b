"""How many shareByUid requests per second the simulator answers at zero latency.

Starts `sharebatch simulate` in a subprocess (so client and server don't share one event loop),
fires N requests with a fixed number in flight from one aiohttp session, and prints req/s.

    .venv/bin/python bench/sim_throughput.py --requests 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
SHARE = "/v2/binding/enduserapi/shareByUid"


def start_simulator(ready_file: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-c", "from runner.simulator.cli import simulate; simulate()",
               "--port", "0", "--seed", "1", "--ready-file", str(ready_file)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def wait_ready(ready_file: Path, proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while not ready_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    return dict(json.loads(ready_file.read_text(encoding="utf-8")))


async def fire(info: dict[str, Any], requests: int, concurrency: int) -> tuple[float, dict[int, int], Any]:
    """Send `requests` shares with `concurrency` workers; return (seconds, codes seen, server stats)."""
    headers = {"Authorization": info["access_token"]}
    codes: dict[int, int] = {}
    counter = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(info["base_url"], connector=connector, headers=headers) as http:

        async def worker() -> None:
            for i in counter:
                params = {"pk": "bench", "dk": f"D{i % 1000}", "shareUid": f"C{i:07d}", "coverMark": "1"}
                async with http.post(SHARE, params=params) as resp:
                    code = (await resp.json())["code"]
                codes[code] = codes.get(code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        async with http.get("/_sim/stats") as resp:
            stats = await resp.json()
    return elapsed, codes, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ready_file = Path(tmp) / "ready.json"
        proc = start_simulator(ready_file)
        try:
            info = wait_ready(ready_file, proc)
            client_cpu = time.process_time()
            elapsed, codes, stats = asyncio.run(fire(info, args.requests, args.concurrency))
            client_cpu = time.process_time() - client_cpu
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{args.requests} shareByUid requests, {args.concurrency} in flight: {elapsed:.2f} s, "
          f"{args.requests / elapsed:,.0f} req/s")
    print(f"codes: {codes}; server saw {stats['total_requests']} requests, "
          f"max {stats['max_in_any_second']} in any second")
    print(f"CPU: server {server_cpu.ru_utime + server_cpu.ru_stime:.2f} s (start-up included), "
          f"client {client_cpu:.2f} s, on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
