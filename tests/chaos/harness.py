"""Seeded chaos episodes: run, resume, extend and revoke under mixed faults, checked against the simulator's truth.

One episode, from its seed alone: a fresh simulator (`sharebatch simulate --seed SEED`), a small
input (some devices repeated, cover mark 1 or 2), a mix of faults (late apply, drop after apply,
5xx, resets, slow answers, a clock offset, latency), and the CLI as a subprocess, killed with
SIGKILL at random instants; one kill in three is a power cut, where the journal also loses every
write not yet fsynced (tests/chaos/powercut.py, read from an strace of the run). After the share
phase, and again after extend and revoke, the simulator's own record is the judge:

- no (device, recipient) was applied twice;
- every `success` row's share code is a share the platform made for that row, and live (unless a
  later row of the same device replaced it under cover mark 1, as asked);
- every other row is true: a row not in doubt has no share on the platform;
- after `revoke` of the report has finished, nothing is live.

`python -m tests.chaos.harness --seed 1 --episodes 200` (`make chaos`) prints one line per episode
and the seed of each failing one; `--seed N --episodes 1` replays it. The short profile runs in
`make test` (tests/chaos/test_chaos.py).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import powercut

#: short timeouts keep an episode to seconds; late applies land within the settle window, as the guarantee assumes
TIMEOUT_S, SETTLE_S = 0.5, 1.6
LATE_APPLY_S = [0.6, 1.1]
FAULT_KINDS = ["late_apply", "drop_after_apply", "server_error", "reset_before_apply", "slow_after_apply"]
CLI = [sys.executable, "-m", "runner"]
#: the share of kills that are a power cut (tests/chaos/powercut.py): the journal's unsynced writes are lost too
POWER_CUT_SHARE = 1 / 3
#: a run is killed at a random instant (True), once a condition on the platform holds, or not at all
KillAt = bool | Callable[[], bool]
#: what a row held back by batches/coverorder.py says
HELD_FOR_ORDER = "later in the file, already shared this device"


@dataclass
class Episode:
    seed: int
    folder: Path
    log: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.log.append(text)


class Simulator:
    """`sharebatch simulate` in its own process, seeded like the episode."""

    def __init__(self, seed: int, folder: Path) -> None:
        ready = folder / "sim.json"
        self.process = subprocess.Popen([*CLI, "simulate", "--port", "0", "--ready-file", str(ready), "--seed",
                                         str(seed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start")
            time.sleep(0.02)
        info = json.loads(ready.read_text())
        self.base_url, self.token = info["base_url"], info["access_token"]

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # nosec B310  # loopback test server
            return json.load(response)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def write_rows(path: Path, rng: random.Random) -> tuple[list[list[str]], int]:
    count = rng.randint(4, 10)
    devices = rng.randint(max(2, count // 2), count)
    cover = rng.choice([1, 2])
    rows = [["pk", "dk", "recipient", "expiry", "cover_mark"]]
    rows += [["p1test", f"00D{i % devices:06d}", f"U{i:07d}", "30d", str(cover)] for i in range(count)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return rows, cover


def cli(sim: Simulator, args: list[str], episode: Episode, rng: random.Random, *, kill: KillAt, journal_dir: Path,
        power_cut: bool | None = None) -> int | None:
    """One CLI run; with `kill`, SIGKILL (None: it was killed), in a power cut if `power_cut` (None: one kill in
    three): the run is traced and the writes to the journal in `journal_dir` not yet fsynced are lost."""
    env = {**os.environ, "SHAREBATCH_TOKEN": sim.token}
    common = ["--base-url", sim.base_url, "--timeout-s", str(TIMEOUT_S), "--rate", "300", "--concurrency", "3",
              "--max-attempts", "3"]
    if power_cut is None:  # drawn whether or not strace is here, so that a seed makes the same choices everywhere
        power_cut = bool(kill) and rng.random() < POWER_CUT_SHARE
    power_cut = power_cut and powercut.strace_available()
    command = [*CLI, *args, *common]
    trace = episode.folder / f"trace-{len(episode.log)}.txt"
    sizes = {name: (journal_dir / name).stat().st_size for name in powercut.MODELLED if (journal_dir / name).exists()}
    process = subprocess.Popen(powercut.traced(command, trace) if power_cut else command, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        if outlived(process, rng, kill):
            kill_group(process)
            episode.say(f"{args[0]}: killed" + (cut_power(journal_dir, trace, sizes, episode) if power_cut else ""))
            return None
        code = process.wait(timeout=300)
    finally:
        if process.poll() is None:
            kill_group(process)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    if "Traceback" in stderr:
        episode.violations.append(f"{args[0]}: a traceback: {stderr[-600:]}")
    episode.say(f"{args[0]}: exit {code}")
    return code


def outlived(process: subprocess.Popen[bytes], rng: random.Random, kill: KillAt) -> bool:
    """Whether the run was still going when its kill came: at a random instant (True), or once `kill()` holds."""
    if kill is False:
        return False
    if kill is True:
        try:
            process.wait(timeout=rng.uniform(0.3, 2.5))
        except subprocess.TimeoutExpired:
            return True
        return False
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if kill():
            return True
        time.sleep(0.02)  # polls the platform, with a deadline
    return process.poll() is None


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the run's process group. Under strace the traced CLI goes first: strace then records how each call
    it had out ended and exits by itself (killed first, strace would detach the CLI, which could write untraced)."""
    traced: list[str] = []
    if isinstance(process.args, list) and process.args[0] == "strace":
        with contextlib.suppress(OSError):
            traced = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    for pid in traced:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10 if traced else 0)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def cut_power(journal_dir: Path, trace: Path, sizes: dict[str, int], episode: Episode) -> str:
    """The power cut after a traced kill: what the journal lost, for the episode's log."""
    try:
        # no trace file: strace was killed before it started the CLI, which wrote nothing
        lost = powercut.cut_power(journal_dir, trace.read_text(errors="replace") if trace.exists() else "", sizes)
    except powercut.UnmodelledWrite as exc:
        episode.violations.append(f"the power cut cannot be modelled: {exc}")
        return ""
    return (f", power cut: {lost.get(powercut.WAL, 0)} unsynced WAL bytes lost, "
            f"{lost.get(powercut.DATABASE, 0)} of the database")


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def check_share_truth(sim: Simulator, out: Path, cover: int, episode: Episode) -> None:
    """The report against the simulator's record of every share it made."""
    shares = sim.call("/_sim/shares")
    made = Counter((share["dk"], share["share_uid"]) for share in shares)
    for target, times in made.items():
        if times > 1:
            episode.violations.append(f"{target} applied {times} times")
    by_code = {share["share_code"]: share for share in shares}
    report = read_csv(out / "report.csv")
    doubt = {(line["dk"], line["recipient"]) for line in read_csv(out / "failed.csv") if line.get("in_doubt_since")}
    for index, line in enumerate(report):
        target = (line["dk"], line["recipient"])
        if line["status"] == "success":
            share = by_code.get(line["share_code"])
            if share is None or (share["dk"], share["share_uid"]) != target:
                episode.violations.append(f"row {line['row']}: success with a share the platform did not make for it")
                continue
            replaced_by_later = cover == 1 and share["state"] == "replaced" and any(
                later["dk"] == line["dk"] for later in report[index + 1:])
            if share["state"] != "valid" and not replaced_by_later:
                episode.violations.append(f"row {line['row']}: success with share {share['state']}")
        elif line["status"] in ("failed", "not_attempted") and target not in doubt and made.get(target):
            episode.violations.append(f"row {line['row']}: {line['status']} without doubt, but the platform holds a "
                                      "share for it")


def only_held_for_order(out: Path) -> bool:
    """Every row not done is one a resume must not send under cover mark 1 (batches/coverorder.py)."""
    left = [line for line in read_csv(out / "report.csv") if line["status"] != "success"]
    return bool(left) and all(HELD_FOR_ORDER in line["message"] for line in left)


def share_phase(sim: Simulator, episode: Episode, rng: random.Random) -> tuple[Path, int] | None:
    source, out = episode.folder / "rows.csv", episode.folder / "out"
    _, cover = write_rows(source, rng)
    kinds = rng.sample(FAULT_KINDS, rng.randint(1, len(FAULT_KINDS)))
    config = {"fault_rate": rng.choice([0.0, 0.2, 0.4, 0.6]), "fault_kinds": kinds, "late_apply_s": LATE_APPLY_S,
              "slow_fault_s": 1.0, "clock_offset_s": rng.choice([0, 0, 3, -90, 90]),
              "latency_ms": rng.choice([0, 0, 30, 150])}
    episode.say(f"rows cover {cover}, faults {config}")
    sim.call("/_sim/config", config)
    args = ["run", "--input", str(source), "--out", str(out), "--settle-s", str(SETTLE_S)]
    for _ in range(rng.randint(1, 3)):  # runs and resumes under faults, some killed
        code = cli(sim, args, episode, rng, kill=rng.random() < 0.5, journal_dir=out)
        if code is not None:
            check_share_truth(sim, out, cover, episode)
    sim.call("/_sim/config", {"fault_rate": 0.0, "latency_ms": 0})
    for _ in range(4):  # the platform answers again: resume until every row is done (or held for its order)
        if cli(sim, args, episode, rng, kill=False, journal_dir=out) == 0 or only_held_for_order(out):
            break
    else:
        episode.violations.append("the batch did not finish once the faults stopped")
        return None
    time.sleep(max(LATE_APPLY_S))  # a request a killed run left held at the platform lands (test aid, not a wait)
    check_share_truth(sim, out, cover, episode)
    return out, cover


def follow_up(sim: Simulator, episode: Episode, rng: random.Random, out: Path, cover: int) -> None:
    report = str(out / "report.csv")
    if rng.random() < 0.5:
        args, journal_dir = ["extend", report, "--expiry", "90d"], out / "extend"
        if cli(sim, args, episode, rng, kill=rng.random() < 0.5, journal_dir=journal_dir) != 0 and cli(
                sim, args, episode, rng, kill=False, journal_dir=journal_dir) != 0:
            episode.violations.append("extend did not finish")
        check_share_truth(sim, out, cover, episode)
    args, journal_dir = ["revoke", report], out / "revoke"
    if cli(sim, args, episode, rng, kill=rng.random() < 0.5, journal_dir=journal_dir) != 0 and cli(
            sim, args, episode, rng, kill=False, journal_dir=journal_dir) != 0:
        episode.violations.append("revoke did not finish")
    live = [share["share_code"] for share in sim.call("/_sim/shares") if share["state"] == "valid"]
    if live:
        episode.violations.append(f"live after revoke: {live}")


def run_episode(seed: int, root: Path) -> Episode:
    episode = Episode(seed, root / f"episode-{seed}")
    episode.folder.mkdir(parents=True)
    rng = random.Random(seed)  # nosec B311  # a test's reproducible choices
    sim = Simulator(seed, episode.folder)
    if not powercut.strace_available():
        episode.say("no power cuts in this episode: strace is not installed (or may not trace here)")
    try:
        shared = share_phase(sim, episode, rng)
        if shared is not None:
            follow_up(sim, episode, rng, *shared)
    finally:
        sim.close()
    return episode


def power_cut_episode(seed: int, root: Path) -> Episode:
    """A power cut right after requests left: the platform applies every share and holds its answer, the traced
    run is killed once it holds three, its journal loses what was not fsynced, and the resumes must find
    those shares instead of sending them again (with the in-flight mark not yet on disk, they would not)."""
    episode = Episode(seed, root / f"power-cut-{seed}")
    episode.folder.mkdir(parents=True)
    rng = random.Random(seed)  # nosec B311  # a test's reproducible choices
    sim = Simulator(seed, episode.folder)
    try:
        source, out = episode.folder / "rows.csv", episode.folder / "out"
        _, cover = write_rows(source, rng)
        sim.call("/_sim/config", {"fault_rate": 1.0, "fault_kinds": ["slow_after_apply"], "slow_fault_s": 30.0})
        args = ["run", "--input", str(source), "--out", str(out), "--settle-s", str(SETTLE_S)]
        if cli(sim, args, episode, rng, kill=lambda: len(sim.call("/_sim/shares")) >= 3, journal_dir=out,
               power_cut=True) is not None:
            episode.violations.append("the run ended before the platform held three of its shares")
        sim.call("/_sim/config", {"fault_rate": 0.0})
        for _ in range(4):
            if cli(sim, args, episode, rng, kill=False, journal_dir=out) == 0 or only_held_for_order(out):
                break
        check_share_truth(sim, out, cover, episode)
    finally:
        sim.close()
    return episode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="the first episode's seed; episode i uses seed + i")
    parser.add_argument("--episodes", type=int, default=200)
    options = parser.parse_args(argv)
    failed: list[int] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sharebatch-chaos-") as root:
        for seed in range(options.seed, options.seed + options.episodes):
            episode = run_episode(seed, Path(root))
            verdict = "ok" if not episode.violations else "VIOLATION: " + "; ".join(episode.violations)
            print(f"episode seed={seed}: {verdict} ({'; '.join(episode.log)})", flush=True)
            if episode.violations:
                failed.append(seed)
    print(f"{options.episodes} episodes in {time.monotonic() - started:.0f} s, {len(failed)} with violations"
          + (f"; replay one with: make chaos SEED=<seed> EPISODES=1; failing seeds: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
