"""Scenario 9 of run_bench.py: 10 owner accounts x 5 requests/s in one `sharebatch run` process.

Each account has its own token (the simulator's `--account UID`), its own token file and its own
`rate = 5` in the job file; the rows name their account in turn. Per account, from the
simulator's request log (which records the account whose token each request carried): the rate
achieved over its sending window ((requests - 1) / (last - first arrival)), which must be within
+-3 % of 5/s, and the most requests in any sliding second, which must not pass 5.
"""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness import SHAREBATCH, Simulator, expect_exit, measure

ACCOUNTS = 10
RATE = 5.0
ROWS_PER_ACCOUNT = 100  # 20 s of sending per account; --quick: 20


def _max_in_window(times: list[float], window_s: float = 1.0) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def write_job(folder: Path, sim: Simulator, uids: list[str], rows_per_account: int) -> Path:
    """Token files, rows naming the accounts in turn, and a job file with one [accounts.NAME] per uid."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ['input = "rows.csv"', f'base_url = "{sim.base_url}"', "limiter = \"local\"", ""]
    for index, uid in enumerate(uids):
        pair = sim.info["accounts"][uid]
        token = {"version": 1, "base_url": sim.base_url, "access_token": pair["access_token"],
                 "access_expires_at": pair["access_expires_at"], "refresh_token": pair["refresh_token"],
                 "refresh_expires_at": pair["refresh_expires_at"], "obtained_at": pair["access_expires_at"] - 7200}
        path = folder / f"a{index}.json"
        path.write_text(json.dumps(token), encoding="utf-8")
        os.chmod(path, 0o600)
        lines += [f"[accounts.a{index}]", f'token_file = "{path.name}"', f"rate = {RATE:g}", "concurrency = 4", ""]
    with (folder / "rows.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["pk", "dk", "recipient", "expiry", "cover_mark", "account"])
        for row in range(rows_per_account * len(uids)):
            writer.writerow(["p1bench", f"00A{row:010d}", f"U{row:09d}", "", "2", f"a{row % len(uids)}"])
    job = folder / "job.toml"
    job.write_text("\n".join(lines), encoding="utf-8")
    return job


def run_accounts(workdir: Path, *, quick: bool) -> dict[str, Any]:
    """One repetition: the whole process's figures and, per account, its rate and busiest second."""
    rows_per_account = ROWS_PER_ACCOUNT // 5 if quick else ROWS_PER_ACCOUNT
    workdir.mkdir(parents=True, exist_ok=True)
    uids = [f"C3{index:05d}" for index in range(ACCOUNTS)]
    extra = tuple(arg for uid in uids for arg in ("--account", uid))
    with Simulator(workdir, extra_args=extra) as sim:
        job = write_job(workdir / "accounts-job", sim, uids, rows_per_account)
        log = workdir / "accounts-run.log"
        env = {key: value for key, value in os.environ.items() if key != "SHAREBATCH_TOKEN"}
        env["XDG_STATE_HOME"] = str(workdir / "xdg-state")  # a budget of its own, not the user's
        measured = measure([*SHAREBATCH, "run", str(job), "--quiet"], log=log, env=env)
        expect_exit(measured, 0, "sharebatch run (10 accounts)", log)
        by_uid: dict[str, list[float]] = defaultdict(list)
        for request in sim.requests():
            if request.get("code") == 200:
                by_uid[str(request["uid"])].append(float(request["t"]))
    per_account = {}
    for uid in uids:
        times = sorted(by_uid[uid])
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        per_account[uid] = {"requests": len(times), "rate": (len(times) - 1) / span if span else 0.0,
                            "max_in_any_second": _max_in_window(times)}
    return {"wall_s": measured.wall_s, "cpu_s": measured.cpu_s, "rows": rows_per_account * ACCOUNTS,
            "per_account": per_account}
