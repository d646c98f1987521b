"""A batch of three owner accounts against the simulator: each row as its account, each account its own budget."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.platform.auth.api import TokenPair
from runner.platform.auth.tokenfile import save_tokens
from runner.redact import Secret
from runner.simulator.traffic import max_in_window

from ..conftest import REPO, ProcessSimulator, start_sim_process

pytestmark = pytest.mark.integration

#: job name -> (simulator uid, rate)
ACCOUNTS = {"acme": ("C200001", 6.0), "beta": ("C200002", 9.0), "gamma": ("C200003", 12.0)}
ROWS_EACH = 15
#: the rate_scale of the tests that are not about the accounts' rates (the first test keeps the real ones)
FAST = 5.0


@pytest.fixture
def sim_accounts(tmp_path: Path) -> Iterator[ProcessSimulator]:
    args = [arg for uid, _ in ACCOUNTS.values() for arg in ("--account", uid)]
    yield from start_sim_process(tmp_path, *args)


def _job(tmp_path: Path, sim: ProcessSimulator, *, rate_scale: float = 1.0) -> Path:
    """Token files for the three accounts, an input whose rows name them in turn, and a job file.

    `rate_scale` multiplies each account's rate: the tests that are not about the rates run faster."""
    lines = []
    for name, (uid, rate) in ACCOUNTS.items():
        pair = sim.accounts[uid]
        save_tokens(tmp_path / f"{name}.json", TokenPair(Secret(pair["access_token"]), pair["access_expires_at"],
                                                         Secret(pair["refresh_token"]), pair["refresh_expires_at"],
                                                         pair["access_expires_at"] - 7200), base_url=sim.base_url)
        lines += [f"[accounts.{name}]", f'token_file = "{name}.json"', f"rate = {rate * rate_scale}",
                  "concurrency = 3", ""]
    with (tmp_path / "rows.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pk", "dk", "recipient", "expiry", "Account"])
        for index in range(ROWS_EACH * len(ACCOUNTS)):
            name = list(ACCOUNTS)[index % len(ACCOUNTS)]
            writer.writerow(["p1test", f"{name}-D{index:05d}", f"U{index:07d}", "30d", name])
    job = tmp_path / "job.toml"
    job.write_text("\n".join(['input = "rows.csv"', f'base_url = "{sim.base_url}"', "limiter = \"local\"", "",
                              *lines]), encoding="utf-8")
    return job


def _run(job: Path, *options: str) -> subprocess.CompletedProcess[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHAREBATCH_")}
    return subprocess.run([sys.executable, "-m", "runner", "run", str(job), "--quiet", *options], cwd=REPO, env=env,
                          capture_output=True, timeout=120, check=False)


def _report(job: Path) -> list[dict[str, str]]:
    with (job.parent / "out" / "job" / "report.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.alone
def test_three_accounts_each_send_their_rows_with_their_token_at_their_rate(
    sim_accounts: ProcessSimulator, tmp_path: Path
):
    job = _job(tmp_path, sim_accounts)
    done = _run(job)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    report = _report(job)
    assert Counter(row["status"] for row in report) == {"success": ROWS_EACH * len(ACCOUNTS)}
    assert {row["Account"] for row in report} == set(ACCOUNTS)  # each row shows its account
    requests = sim_accounts.get("/_sim/requests")
    assert len(requests) == ROWS_EACH * len(ACCOUNTS)
    by_uid: dict[str, list[float]] = defaultdict(list)
    for request in requests:
        account = request["params"]["dk"].split("-")[0]
        assert request["uid"] == ACCOUNTS[account][0]  # the row's account's token, nobody else's
        by_uid[request["uid"]].append(request["t"])
    for uid, rate in ACCOUNTS.values():
        times = sorted(by_uid[uid])
        assert max_in_window(times) <= rate, uid
    # the three budgets ran side by side, not one after the other: the slowest account sets the pace
    slowest = (ROWS_EACH - 1) / min(rate for _, rate in ACCOUNTS.values())
    everything = sorted(t for times in by_uid.values() for t in times)
    assert everything[-1] - everything[0] < slowest * 1.3


def test_a_blocked_account_stops_its_own_rows_and_the_others_finish(sim_accounts: ProcessSimulator, tmp_path: Path):
    job = _job(tmp_path, sim_accounts, rate_scale=FAST)
    sim_accounts.post("/_sim/config", {"blocked_accounts": [ACCOUNTS["beta"][0]]})
    done = _run(job)
    assert done.returncode == 1, done.stderr.decode(errors="replace")[-2000:]
    report = _report(job)
    by_account = {name: Counter(row["status"] for row in report if row["Account"] == name) for name in ACCOUNTS}
    assert by_account["acme"] == by_account["gamma"] == {"success": ROWS_EACH}
    blocked = by_account["beta"]
    assert blocked["success"] == 0
    assert 1 <= blocked["failed"] <= 3  # those in flight when the block came (its concurrency)
    assert blocked["failed"] + blocked["not_attempted"] == ROWS_EACH
    messages = {row["message"] for row in report if row["Account"] == "beta" and row["status"] == "not_attempted"}
    assert len(messages) == 1
    assert 'account "beta" was stopped' in messages.pop()
    summary = json.loads((job.parent / "out" / "job" / "summary.json").read_text(encoding="utf-8"))
    assert summary["by_code"] == {"5325": blocked["failed"]}


def test_a_blocked_account_during_skip_existing_look_ups_stops_only_its_own_rows(
    sim_accounts: ProcessSimulator, tmp_path: Path
):
    job = _job(tmp_path, sim_accounts, rate_scale=FAST)
    sim_accounts.post("/_sim/config", {"blocked_accounts": [ACCOUNTS["beta"][0]]})
    done = _run(job, "--skip-existing")
    assert done.returncode == 1, done.stderr.decode(errors="replace")[-2000:]
    report = _report(job)
    by_account = {name: Counter(row["status"] for row in report if row["Account"] == name) for name in ACCOUNTS}
    assert by_account["acme"] == by_account["gamma"] == {"success": ROWS_EACH}
    assert by_account["beta"] == {"not_attempted": ROWS_EACH}  # nothing of beta's was sent, nothing failed
    messages = {row["message"] for row in report if row["Account"] == "beta"}
    assert len(messages) == 1
    message = messages.pop()
    assert 'account "beta" was stopped' in message
    assert "--skip-existing" in message
    assert "5325" in message
    sent = [request for request in sim_accounts.get("/_sim/requests") if request["path"].endswith("/shareByUid")]
    assert {request["uid"] for request in sent} == {ACCOUNTS["acme"][0], ACCOUNTS["gamma"][0]}


def test_plan_with_a_blocked_account_names_the_account_that_stopped(sim_accounts: ProcessSimulator, tmp_path: Path):
    job = _job(tmp_path, sim_accounts, rate_scale=FAST)
    sim_accounts.post("/_sim/config", {"blocked_accounts": [ACCOUNTS["beta"][0]]})
    planned = _follow_up(["plan", str(job)])
    assert planned.returncode == 3, planned.stderr.decode(errors="replace")[-2000:]
    assert b'stopped early: account "beta": stopped: code 5325' in planned.stderr
    with (job.parent / "out" / "job" / "plan" / "plan.csv").open(encoding="utf-8", newline="") as handle:
        actions = Counter((row["Account"], row["action"]) for row in csv.DictReader(handle))
    assert actions == {("acme", "create"): ROWS_EACH, ("gamma", "create"): ROWS_EACH,
                       ("beta", "lookup_failed"): ROWS_EACH}


def _follow_up(args: list[str], token: str = "") -> subprocess.CompletedProcess[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHAREBATCH_")}
    return subprocess.run([sys.executable, "-m", "runner", *args], cwd=REPO, env={**env, "SHAREBATCH_TOKEN": token},
                          capture_output=True, timeout=120, check=False)


def test_plan_track_and_revoke_use_each_rows_account(sim_accounts: ProcessSimulator, tmp_path: Path):
    job = _job(tmp_path, sim_accounts, rate_scale=FAST)
    assert _run(job).returncode == 0
    report = job.parent / "out" / "job" / "report.csv"
    accounts = [arg for name in ACCOUNTS for arg in ("--account", f"{name}={tmp_path / (name + '.json')}")]
    base = ["--base-url", sim_accounts.base_url, "--rate", "100"]
    seen = len(sim_accounts.get("/_sim/requests"))

    refused = _follow_up(["revoke", str(report), *base], token=sim_accounts.token)  # the default token alone
    assert refused.returncode == 2
    assert b"its rows were shared by the accounts acme, beta, gamma, which this command was not given" in (
        refused.stderr)
    assert len(sim_accounts.get("/_sim/requests")) == seen  # nothing was sent

    planned = _follow_up(["plan", str(job)])
    assert planned.returncode == 1, planned.stderr.decode(errors="replace")[-2000:]  # 30d counts from today now
    with (job.parent / "out" / "job" / "plan" / "plan.csv").open(encoding="utf-8", newline="") as handle:
        actions = Counter(row["action"] for row in csv.DictReader(handle))
    assert actions == {"change_expiry": ROWS_EACH * len(ACCOUNTS)}  # every device found in its account's list
    tracked = _follow_up(["track", str(report), *base, *accounts])
    assert tracked.returncode == 0, tracked.stderr.decode(errors="replace")[-2000:]
    revoked = _follow_up(["revoke", str(report), *base, *accounts])
    assert revoked.returncode == 0, revoked.stderr.decode(errors="replace")[-2000:]
    for request in sim_accounts.get(f"/_sim/requests?since={seen}"):
        assert request["code"] == 200, request
        if request["path"].endswith("/deviceShareUserList"):
            assert request["uid"] == ACCOUNTS[request["params"]["dk"].split("-")[0]][0]
    shares = sim_accounts.get("/_sim/shares")
    assert {share["state"] for share in shares} == {"revoked"}
    assert len(shares) == ROWS_EACH * len(ACCOUNTS)
