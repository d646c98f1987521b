"""Scale and memory targets of the durability issue, measured on whole processes.

    python bench/memory.py [--rows-validate 1000000] [--rows-run 100000]

1. `sharebatch validate` of a generated CSV (target: < 30 s, peak RSS < 400 MB);
2. `sharebatch run` of a generated CSV against the simulator in its own process
   (target: peak RSS < 300 MB), with rows/s.

Peak RSS is the child's ru_maxrss (Linux reports KiB). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHAREBATCH = [sys.executable, "-m", "runner"]


def write_rows(path: Path, count: int) -> None:
    """Valid, unique rows over many devices, recipients of every kind, a few expiry forms."""
    expiries = ["30d", "2030-01-31", "", "1924992000000", "2031-06-01T12:00:00+08:00"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pk", "dk", "recipient", "expiry", "cover_mark", "note"])
        for index in range(count):
            kind = index % 3
            recipient = (f"U{index:09d}" if kind == 0 else f"user{index}@example.com" if kind == 1
                         else f"+86138{index:08d}")
            writer.writerow(["p1bench", f"00B{index:010d}", recipient, expiries[index % 5], "2", f"row {index}"])


def run_measured(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one child process and return wall s, CPU s and peak RSS MB of that child alone."""
    started = time.monotonic()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stderr_tail": stderr[-300:],
    }


def start_simulator(workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    ready = workdir / "sim.json"
    process = subprocess.Popen([*SHAREBATCH, "simulate", "--port", "0", "--ready-file", str(ready)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    return process, json.loads(ready.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows-validate", type=int, default=1_000_000)
    parser.add_argument("--rows-run", type=int, default=100_000)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "memory.json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        big = workdir / "validate.csv"
        write_rows(big, args.rows_validate)
        results["validate"] = {"rows": args.rows_validate, **run_measured(
            [*SHAREBATCH, "validate", "--input", str(big), "--out", str(workdir / "out-validate")])}
        runnable = workdir / "run.csv"
        write_rows(runnable, args.rows_run)
        simulator, ready = start_simulator(workdir)
        try:
            env = {**os.environ, "SHAREBATCH_TOKEN": ready["access_token"]}
            measured = run_measured([*SHAREBATCH, "run", "--input", str(runnable), "--base-url", ready["base_url"],
                                     "--out", str(workdir / "out-run"), "--rate", "100000", "--concurrency", "64"], env)
        finally:
            simulator.send_signal(signal.SIGTERM)
            simulator.wait(timeout=30)
        measured["rows_per_s"] = round(args.rows_run / measured["wall_s"], 1)
        results["run"] = {"rows": args.rows_run, **measured}
    targets = {"validate": ("wall_s", 30, "peak_rss_mb", 400), "run": (None, None, "peak_rss_mb", 300)}
    print(f"{'scenario':<10}{'rows':>10}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}{'rows/s':>10}  targets")
    for name, figures in results.items():
        time_key, time_limit, _, rss_limit = targets[name]
        met = figures["peak_rss_mb"] < rss_limit and (time_key is None or figures[time_key] < time_limit)
        rows_per_s = figures.get("rows_per_s", round(figures["rows"] / figures["wall_s"], 1))
        print(f"{name:<10}{figures['rows']:>10}{figures['wall_s']:>9}{figures['cpu_s']:>8}{figures['peak_rss_mb']:>9}"
              f"{rows_per_s:>10}  {'met' if met else 'MISSED'} (exit {figures['exit_code']})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures: {args.json}")


if __name__ == "__main__":
    main()
