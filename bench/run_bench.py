"""`make bench`: sharebatch's speed, measured on whole processes, side by side with peers on identical work.

    python bench/run_bench.py [--repeat 3] [--scale-repeat 1] [--quick] [--only 1,4] [--no-install]

Scenarios (row counts /5 with --quick), each against `sharebatch simulate` in its own process,
started fresh per scenario and reset before every repetition:

1. overhead    20,000 rows, latency 0, no rate limit, 64 in flight: sharebatch vs a bare aiohttp loop
2. latency      5,000 rows, latency 50 ms, 64 in flight: wall vs the ideal rows x 0.05 / 64
3. rate         3,000 rows at --rate 300, 16 in flight: wall vs rows / rate, the server's max per second
4. peers        1,000 rows, latency 20 ms: Newman, xargs -P 64 + curl, a sequential Python loop, sharebatch
5. scale        validate 1,000,000 rows; run 100,000 rows (time, peak RSS)
6. start-up     `--help` wall time
7. xlsx         validate a 100,000-row XLSX (target <= 5 s), and 200,000 rows: peak RSS stays flat;
                a 100,000-row ODS (target <= 5 s)
8. one-row      a one-row `run` vs the floor (`python -c "import aiohttp"`)
9. accounts     10 owner accounts x 5 requests/s in one `run`: each account within +-3 % of 5/s (accounts.py)

Scenarios 1, 4 and 8 also run the tree before issue 16 (--before REV, installed by bench/before.py
into bench/.cache), interleaved with the working tree, and the run ends with issue 16's goals
table: before and after figures side by side, each with its ratio and whether it meets the goal.

Every measured thing runs --repeat times (scenario 5: --scale-repeat, default 1, because its
100,000-row run alone takes minutes; start-up: 5 times) and the table shows medians; ratios
compare medians of the same run. Wall is spawn to reap; CPU is user+sys of the measured child
(and the children it waited for) from os.wait4; peak RSS is its ru_maxrss. Every repetition is
checked on the server side: each row answered code 200 exactly once, else its timing is void.
All figures go to bench/results/bench-<UTC time>.json and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import accounts
import before as before_tree
import peers
from harness import (
    HERE,
    PYTHON,
    ROOT,
    SHAREBATCH,
    BenchError,
    Measured,
    Simulator,
    expect_exit,
    measure,
    sharebatch_run,
    sharebatch_validate,
    write_shares_csv,
    write_shares_ods,
    write_shares_xlsx,
)

NO_LIMIT = 1_000_000.0  # "no rate limit" for sharebatch: its gate then spaces requests ~1 µs apart
IN_FLIGHT = 64
RESULTS = HERE / "results"


@dataclass(frozen=True)
class Sizes:
    """Row counts per scenario; --quick divides them by 5."""

    overhead: int = 20_000
    latency: int = 5_000
    rate: int = 3_000
    peers: int = 1_000
    validate: int = 1_000_000
    scale_run: int = 100_000
    xlsx: int = 100_000

    def shrunk(self, factor: int) -> Sizes:
        return Sizes(**{name: max(1, value // factor) for name, value in asdict(self).items()})


@dataclass
class Figure:
    """One row of the table: a median (or a count), its target and whether it was met (None: no target)."""

    scenario: str
    what: str
    shown: str
    value: float | None = None
    target: str = "-"
    met: bool | None = None


@dataclass
class Bench:
    """What every scenario needs: options, a scratch folder, and where figures and raw data go."""

    repeat: int
    scale_repeat: int
    sizes: Sizes
    quick: bool
    install: bool
    workdir: Path
    before: list[str] | None = None  # the older tree's sharebatch command (None: not measured)
    before_label: str = ""  # "before (b74cc8f)", or why it is missing
    figures: list[Figure] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    _counter: int = 0

    def path(self, stem: str) -> Path:
        """A fresh path in the scratch folder (fresh --out dirs: sharebatch resumes an existing one)."""
        self._counter += 1
        return self.workdir / f"{self._counter:04d}-{stem}"

    def add(self, scenario: str, what: str, shown: str, value: float | None = None, target: str = "-",
            met: bool | None = None) -> None:
        self.figures.append(Figure(scenario, what, shown, value, target, met))

    def reps(self, label: str, times: int | None = None) -> Iterator[int]:
        """Repetition numbers (default --repeat), announced on stderr so a long run shows where it is."""
        times = self.repeat if times is None else times
        for rep in range(times):
            progress(f"{label}: repetition {rep + 1}/{times}")
            yield rep


def progress(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def column(reps: list[dict[str, Any]], key: str) -> list[float]:
    return [float(rep[key]) for rep in reps]


def within(value: float, ideal: float, tolerance: float) -> bool:
    return abs(value - ideal) <= tolerance * ideal


def on_simulator(sim: Simulator, rows: int, what: str, run: Callable[[], Measured]) -> dict[str, Any]:
    """One repetition on a freshly reset simulator: the child's figures, the server's CPU meanwhile, its stats.

    Raises BenchError unless every row was answered code 200 exactly once.
    """
    sim.reset()
    sim_cpu = sim.cpu_s()
    measured = run()
    sim_cpu = sim.cpu_s() - sim_cpu
    stats = sim.expect_all_ok(rows, what)
    return {**asdict(measured), "sim_cpu_s": sim_cpu, "total_requests": stats["total_requests"],
            "max_in_any_second": stats["max_in_any_second"]}


def run_sharebatch(bench: Bench, sim: Simulator, data: Path, rows: int, *, rate: float = NO_LIMIT,
                   concurrency: int = IN_FLIGHT, sharebatch: list[str] = SHAREBATCH) -> dict[str, Any]:
    """A measured `sharebatch run` in a fresh out dir; adds sharebatch's own rate_achieved."""
    summary: dict[str, Any] = {}

    def run() -> Measured:
        measured, found = sharebatch_run(sim, data, bench.path("out"), bench.path("run.log"), rate=rate,
                                         concurrency=concurrency, rows=rows, sharebatch=sharebatch)
        summary.update(found)
        return measured

    figures = on_simulator(sim, rows, "sharebatch run", run)
    return {**figures, "rate_achieved": summary.get("rate_achieved"), "duration_s": summary.get("duration_s")}


def run_client(bench: Bench, sim: Simulator, data: Path, rows: int, mode: str, concurrency: int) -> dict[str, Any]:
    """A measured bench/clients.py process (`bare` aiohttp loop or `sequential` urllib loop)."""
    command = [PYTHON, str(HERE / "clients.py"), mode, "--input", str(data), "--base-url", sim.base_url,
               "--concurrency", str(concurrency)]
    env = {**os.environ, "BENCH_TOKEN": sim.token}

    def run() -> Measured:
        log = bench.path(f"{mode}.log")
        measured = measure(command, log=log, env=env)
        expect_exit(measured, 0, f"clients.py {mode}", log)
        return measured

    return on_simulator(sim, rows, f"{mode} loop", run)


def validate_reps(bench: Bench, data: Path, label: str, times: int | None = None) -> list[dict[str, Any]]:
    """`sharebatch validate` of the run's file: an estimate of start-up + loading + report writing."""
    reps = []
    for _ in bench.reps(f"{label} validate", times):
        reps.append(asdict(sharebatch_validate(data, bench.path("validate-out"), bench.path("validate.log"))))
    return reps


def arrival_span(sim: Simulator) -> float:
    """First to last request arrival at the simulator: the sending window, free of client start-up."""
    times = sim.arrival_times()
    return max(times) - min(times) if len(times) > 1 else 0.0


# ---------------------------------------------------------------- scenario 1


def scenario_overhead(bench: Bench) -> None:
    """What sharebatch's safety (pacing, journal, report) costs per row, against the leanest Python client."""
    name, rows = "1 overhead", bench.sizes.overhead
    data = write_shares_csv(bench.path("overhead.csv"), rows)
    bare_reps, sb_reps, before_reps = [], [], []
    with Simulator(bench.workdir, latency_ms=0) as sim:
        extra = f", {bench.before_label}" if bench.before else ""
        for _ in bench.reps(f"{name} ({rows} rows, bare loop, sharebatch{extra})"):
            bare_reps.append(run_client(bench, sim, data, rows, "bare", IN_FLIGHT))
            sb_reps.append(run_sharebatch(bench, sim, data, rows))
            if bench.before:
                before_reps.append(run_sharebatch(bench, sim, data, rows, sharebatch=bench.before))
    bench.raw[name] = {"rows": rows, "bare": bare_reps, "sharebatch": sb_reps, "before": before_reps}
    bare_rps = rows / median(column(bare_reps, "wall_s"))
    sb_rps = rows / median(column(sb_reps, "wall_s"))
    ratio = sb_rps / bare_rps
    label = f"{rows} rows, lat 0, {IN_FLIGHT} in flight"
    bench.add(name, f"bare aiohttp loop rows/s ({label})", f"{bare_rps:,.0f} rows/s", bare_rps)
    bench.add(name, "sharebatch rows/s (whole process)", f"{sb_rps:,.0f} rows/s", sb_rps)
    bench.add(name, "sharebatch / bare loop rows/s", f"{ratio:.0%}", ratio, ">= 40%", ratio >= 0.40)
    if before_reps:
        old_rps = rows / median(column(before_reps, "wall_s"))
        bench.add(name, f"sharebatch {bench.before_label} rows/s", f"{old_rps:,.0f} rows/s", old_rps)
        bench.add(name, f"sharebatch {bench.before_label} / bare loop rows/s", f"{old_rps / bare_rps:.0%}",
                  old_rps / bare_rps)
    sb_own = median(column(sb_reps, "rate_achieved"))
    bench.add(name, "sharebatch rate_achieved (its summary: sending only)", f"{sb_own:,.0f} req/s", sb_own)
    for label_, reps in (("bare loop", bare_reps), ("sharebatch", sb_reps)):
        cpu_ms = median(column(reps, "cpu_s")) * 1000 / rows
        bench.add(name, f"{label_} CPU per row (client process)", f"{cpu_ms:.3f} ms", cpu_ms)
    for label_, reps in (("bare loop", bare_reps), ("sharebatch", sb_reps)):
        sim_cpu = median(column(reps, "sim_cpu_s"))
        share = sim_cpu / median(column(reps, "wall_s"))
        bench.add(name, f"simulator CPU while serving the {label_}", f"{sim_cpu:.1f} s ({share:.0%} of a core)",
                  sim_cpu)


# ---------------------------------------------------------------- scenario 2


def scenario_latency(bench: Bench) -> None:
    """With a slow platform, sharebatch's wall should be the ideal pipelining time plus its fixed costs."""
    name, rows, latency = "2 latency", bench.sizes.latency, 0.050
    ideal = rows * latency / IN_FLIGHT
    data = write_shares_csv(bench.path("latency.csv"), rows)
    reps = []
    with Simulator(bench.workdir, latency_ms=latency * 1000) as sim:
        for _ in bench.reps(f"{name} ({rows} rows, 50 ms, {IN_FLIGHT} in flight)"):
            rep = run_sharebatch(bench, sim, data, rows)
            reps.append({**rep, "arrival_span_s": arrival_span(sim)})
    validate = validate_reps(bench, data, name)
    bench.raw[name] = {"rows": rows, "ideal_s": ideal, "run": reps, "validate": validate}
    add_wall_figures(bench, name, reps, validate, ideal, 0.15, f"{rows} x 0.05 / {IN_FLIGHT}")
    window = median(column(reps, "arrival_span_s")) + latency
    bench.add(name, "sending window at the server (first..last arrival + 50 ms)", f"{window:.2f} s", window,
              f"ideal {ideal:.2f} s +-15%", within(window, ideal, 0.15))


def add_wall_figures(bench: Bench, name: str, reps: list[dict[str, Any]], validate: list[dict[str, Any]],
                     ideal: float, tolerance: float, formula: str) -> None:
    """Raw wall, the start-up estimate (validate of the same file) and the wall minus that estimate."""
    raw = median(column(reps, "wall_s"))
    fixed = median(column(validate, "wall_s"))
    adjusted = raw - fixed
    target = f"{formula} = {ideal:.2f} s +-{tolerance:.0%}"
    bench.add(name, "sharebatch run wall, raw (whole process)", f"{raw:.2f} s", raw, target,
              within(raw, ideal, tolerance))
    bench.add(name, "start-up+load+report: `validate` of the same file", f"{fixed:.2f} s", fixed)
    bench.add(name, "run wall minus that start-up (adjusted)", f"{adjusted:.2f} s", adjusted, target,
              within(adjusted, ideal, tolerance))


# ---------------------------------------------------------------- scenario 3


def scenario_rate(bench: Bench) -> None:
    """The rate limit is a promise to the platform: precise in total time, never exceeded in any second."""
    name, rows, rate, concurrency = "3 rate", bench.sizes.rate, 300.0, 16
    data = write_shares_csv(bench.path("rate.csv"), rows)
    reps = []
    with Simulator(bench.workdir, latency_ms=0) as sim:
        for _ in bench.reps(f"{name} ({rows} rows at --rate {rate:g}, {concurrency} in flight)"):
            rep = run_sharebatch(bench, sim, data, rows, rate=rate, concurrency=concurrency)
            reps.append({**rep, "arrival_span_s": arrival_span(sim)})
    validate = validate_reps(bench, data, name)
    bench.raw[name] = {"rows": rows, "rate": rate, "ideal_s": rows / rate, "run": reps, "validate": validate}
    add_wall_figures(bench, name, reps, validate, rows / rate, 0.03, f"{rows} / {rate:g}")
    span, span_ideal = median(column(reps, "arrival_span_s")), (rows - 1) / rate
    bench.add(name, "sending window at the server (first..last arrival)", f"{span:.2f} s", span,
              f"(rows-1)/rate = {span_ideal:.2f} s +-3%", within(span, span_ideal, 0.03))
    worst = max(column(reps, "max_in_any_second"))
    bench.add(name, "simulator max_in_any_second (worst repetition)", f"{worst:.0f}", worst, f"<= {rate:g}",
              worst <= rate)
    total = max(column(reps, "total_requests"))
    bench.add(name, "simulator total_requests (largest repetition)", f"{total:.0f}", total, f"= {rows}",
              total == rows)


# ---------------------------------------------------------------- scenario 4


@dataclass
class Peer:
    """A way to share the same file; `run` does one measured repetition on a reset simulator."""

    name: str
    run: Callable[[Simulator], dict[str, Any]] | None
    skipped: str = ""
    version: str = ""
    reps: list[dict[str, Any]] = field(default_factory=list)


def newman_peer(bench: Bench, data: Path, rows: int) -> Peer:
    newman, reason = peers.find_newman(bench.path("npm-install.log"), install=bench.install)
    if newman is None:
        return Peer("newman (sequential)", None, skipped=reason)
    collection = peers.write_collection(bench.path("collection.json"))

    def run(sim: Simulator) -> dict[str, Any]:
        command = peers.newman_command(newman, collection, data, sim.base_url, sim.token)
        log = bench.path("newman.log")
        return on_simulator(sim, rows, "newman", lambda: checked(measure(command, log=log), "newman", log))

    return Peer("newman (sequential)", run, version=f"newman {peers.newman_version(newman)}")


def curl_peer(bench: Bench, data: Path, rows: int) -> Peer:
    curl, reason = peers.find_curl(install=bench.install)
    if curl is None:
        return Peer(f"xargs -P {IN_FLIGHT} + curl", None, skipped=reason)

    def run(sim: Simulator) -> dict[str, Any]:
        urls = peers.write_url_file(data, sim.base_url, bench.path("urls.txt"))
        command = peers.xargs_curl_command(curl, sim.token, IN_FLIGHT)
        log = bench.path("curl.log")
        return on_simulator(sim, rows, "xargs+curl",
                            lambda: checked(measure(command, log=log, stdin=urls), "xargs+curl", log))

    return Peer(f"xargs -P {IN_FLIGHT} + curl", run, version=peers.curl_version(curl))


def checked(measured: Measured, what: str, log: Path) -> Measured:
    expect_exit(measured, 0, what, log)
    return measured


def scenario_peers(bench: Bench) -> None:
    """The same rows, the same 20 ms platform, four ways: what a team would otherwise reach for."""
    name, rows = "4 peers", bench.sizes.peers
    data = write_shares_csv(bench.path("peers.csv"), rows)
    contenders = [
        Peer(f"sharebatch ({IN_FLIGHT} in flight)", lambda sim: run_sharebatch(bench, sim, data, rows)),
        *([Peer(f"sharebatch {bench.before_label}",
                lambda sim: run_sharebatch(bench, sim, data, rows, sharebatch=before))]
          if (before := bench.before) else []),
        curl_peer(bench, data, rows),
        Peer("python sequential (urllib)", lambda sim: run_client(bench, sim, data, rows, "sequential", 1)),
        newman_peer(bench, data, rows),
    ]
    with Simulator(bench.workdir, latency_ms=20) as sim:
        for _ in bench.reps(f"{name} ({rows} rows, 20 ms, {len(contenders)} contenders)"):
            for peer in contenders:
                run_peer(peer, sim)
    bench.raw[name] = {"rows": rows, "latency_ms": 20, "peers": {
        peer.name: {"version": peer.version, "skipped": peer.skipped, "reps": peer.reps} for peer in contenders}}
    add_peer_figures(bench, name, rows, contenders)


def run_peer(peer: Peer, sim: Simulator) -> None:
    """One repetition of one peer; a peer that fails is dropped with its reason (sharebatch failing is fatal)."""
    if peer.run is None:
        return
    progress(f"  {peer.name}")
    try:
        peer.reps.append(peer.run(sim))
    except BenchError as exc:
        if peer.name.startswith("sharebatch ("):
            raise
        peer.run, peer.skipped = None, f"failed: {str(exc)[:300]}"


def add_peer_figures(bench: Bench, name: str, rows: int, contenders: list[Peer]) -> None:
    baseline = median(column(contenders[0].reps, "wall_s"))
    for peer in contenders:
        if not peer.reps or peer.skipped:
            bench.add(name, f"{peer.name}: SKIPPED", peer.skipped)
            continue
        wall, cpu = median(column(peer.reps, "wall_s")), median(column(peer.reps, "cpu_s"))
        bench.add(name, f"{peer.name}: wall ({rows} rows)", f"{wall:.2f} s", wall)
        bench.add(name, f"{peer.name}: CPU user+sys", f"{cpu:.2f} s", cpu)
        if peer is not contenders[0]:
            bench.add(name, f"{peer.name}: wall / sharebatch wall", f"{wall / baseline:.1f}x", wall / baseline)


# ---------------------------------------------------------------- scenario 5


def scenario_scale(bench: Bench) -> None:
    """Big files must stay fast to check and flat in memory (the input is streamed through the journal)."""
    name, sizes, full = "5 scale", bench.sizes, not bench.quick
    big = write_shares_csv(bench.path("validate.csv"), sizes.validate)
    validate = validate_reps(bench, big, f"{name} ({sizes.validate:,} rows)", bench.scale_repeat)
    big.unlink()
    runnable = write_shares_csv(bench.path("scale-run.csv"), sizes.scale_run)
    with Simulator(bench.workdir, latency_ms=0) as sim:
        runs = [run_sharebatch(bench, sim, runnable, sizes.scale_run)
                for _ in bench.reps(f"{name} run ({sizes.scale_run:,} rows)", bench.scale_repeat)]
    bench.raw[name] = {"validate_rows": sizes.validate, "validate": validate, "run_rows": sizes.scale_run,
                       "run": runs}
    wall, rss = median(column(validate, "wall_s")), median(column(validate, "peak_rss_kib")) / 1024
    bench.add(name, f"validate {sizes.validate:,} rows: wall", f"{wall:.1f} s", wall, *scale_target("< 30 s", full,
              wall < 30))
    bench.add(name, f"validate {sizes.validate:,} rows: peak RSS", f"{rss:.0f} MiB", rss,
              *scale_target("< 400 MB", full, rss < 400))
    wall, rss = median(column(runs, "wall_s")), median(column(runs, "peak_rss_kib")) / 1024
    rps = sizes.scale_run / wall
    bench.add(name, f"run {sizes.scale_run:,} rows: rows/s (wall {wall:.1f} s)", f"{rps:,.0f} rows/s", rps)
    bench.add(name, f"run {sizes.scale_run:,} rows: peak RSS", f"{rss:.0f} MiB", rss,
              *scale_target("< 300 MB", full, rss < 300))


def scale_target(target: str, full: bool, met: bool) -> tuple[str, bool | None]:
    """The scale targets are stated for the full sizes; a --quick run shows them without judging."""
    return (target, met) if full else (f"{target} (full size only)", None)


# ---------------------------------------------------------------- scenario 6


def scenario_startup(bench: Bench) -> None:
    """What every invocation pays before any work: interpreter, imports, click."""
    name, times = "6 start-up", 5
    console_script = Path(PYTHON).parent / "sharebatch"
    commands = [("python -c pass (interpreter floor)", [PYTHON, "-c", "pass"]),
                ("python -m runner --help", [*SHAREBATCH, "--help"])]
    if console_script.exists():
        commands.append((f"{console_script.relative_to(ROOT)} --help", [str(console_script), "--help"]))
    raw: dict[str, list[dict[str, Any]]] = {}
    progress(f"{name}: {len(commands)} commands x {times}")
    for label, command in commands:
        log = bench.path("help.log")
        raw[label] = [asdict(checked(measure(command, log=log), label, log)) for _ in range(times)]
        wall = median(column(raw[label], "wall_s"))
        bench.add(name, f"{label} (median of {times})", f"{wall * 1000:.0f} ms", wall)
    bench.raw[name] = raw


# ---------------------------------------------------------------- scenario 7


def scenario_xlsx(bench: Bench) -> None:
    """Reading a spreadsheet as the person sees it (formats, hidden rows, merges) must not make big
    sheets slow: validate an XLSX of `xlsx` rows, and one twice as long to see memory stay flat."""
    name, rows, full = "7 xlsx", bench.sizes.xlsx, not bench.quick
    figures: dict[int, list[dict[str, Any]]] = {}
    for count in (rows, 2 * rows):
        progress(f"{name}: writing a {count:,}-row XLSX")
        sheet = write_shares_xlsx(bench.path(f"shares-{count}.xlsx"), count)
        figures[count] = validate_reps(bench, sheet, f"{name} ({count:,} rows)")
        sheet.unlink()
    bench.raw[name] = {str(count): reps for count, reps in figures.items()}
    wall = median(column(figures[rows], "wall_s"))
    bench.add(name, f"validate {rows:,}-row XLSX: wall", f"{wall:.1f} s", wall,
              *scale_target("<= 5 s", full, wall <= 5))
    rss, rss_double = (median(column(figures[count], "peak_rss_kib")) / 1024 for count in (rows, 2 * rows))
    bench.add(name, f"validate {rows:,}-row XLSX: peak RSS", f"{rss:.0f} MiB", rss)
    growth = rss_double / rss
    bench.add(name, f"peak RSS at {2 * rows:,} rows / at {rows:,} rows", f"{growth:.2f}x", growth,
              *scale_target("<= 1.25x (flat)", full, growth <= 1.25))
    progress(f"{name}: writing a {rows:,}-row ODS")
    sheet = write_shares_ods(bench.path(f"shares-{rows}.ods"), rows)
    ods = validate_reps(bench, sheet, f"{name} ({rows:,} rows, .ods)")
    sheet.unlink()
    bench.raw[f"{name} ods"] = {str(rows): ods}
    wall = median(column(ods, "wall_s"))
    bench.add(name, f"validate {rows:,}-row ODS: wall", f"{wall:.1f} s", wall, *scale_target("<= 5 s", full, wall <= 5))


# ---------------------------------------------------------------- scenario 8


def scenario_one_row(bench: Bench) -> None:
    """What a cron job with one row pays: everything but the sending, next to the least any aiohttp client pays."""
    name, times = "8 one-row", max(bench.repeat, 5)
    data = write_shares_csv(bench.path("one-row.csv"), 1)
    floor_command = [PYTHON, "-c", "import aiohttp"]
    reps: dict[str, list[dict[str, Any]]] = {"floor": [], "sharebatch": [], "before": []}
    with Simulator(bench.workdir, latency_ms=0) as sim:
        for _ in bench.reps(f"{name} (floor, sharebatch{', ' + bench.before_label if bench.before else ''})", times):
            log = bench.path("floor.log")
            reps["floor"].append(asdict(checked(measure(floor_command, log=log), "floor", log)))
            reps["sharebatch"].append(run_sharebatch(bench, sim, data, 1))
            if bench.before:
                reps["before"].append(run_sharebatch(bench, sim, data, 1, sharebatch=bench.before))
    bench.raw[name] = reps
    floor = median(column(reps["floor"], "wall_s"))
    bench.add(name, f'floor: python -c "import aiohttp" (median of {times})', f"{floor:.3f} s", floor)
    for key, label in (("sharebatch", "sharebatch"), ("before", f"sharebatch {bench.before_label}")):
        if reps[key]:
            wall = median(column(reps[key], "wall_s"))
            bench.add(name, f"{label}: one-row run wall", f"{wall:.3f} s ({wall / floor:.2f}x the floor)", wall,
                      *(("<= 2x the floor", wall <= 2 * floor) if key == "sharebatch" else ("-", None)))


# ---------------------------------------------------------------- issue 16's goals


@dataclass(frozen=True)
class Goal:
    """One line of issue 16's table: what is compared with what, and the ratio it must reach."""

    what: str
    peer: str
    unit: str
    target: str
    met: Callable[[float], bool]
    full_size_only: bool = True


GOALS = [
    Goal("wall, {peers} rows, 20 ms latency", "Newman", "s", ">= 25x", lambda r: r >= 25),
    Goal("CPU, same rows", f"xargs -P {IN_FLIGHT} + curl", "s", ">= 5x", lambda r: r >= 5),
    Goal("throughput, {overhead} rows, no latency", "bare aiohttp loop", "rows/s", ">= 0.5", lambda r: r >= 0.5),
    Goal("one-row run", "the floor", "s", "<= 2x", lambda r: r <= 2, full_size_only=False),
]


def _peer_medians(raw: dict[str, Any], prefix: str, key: str) -> float | None:
    for name, peer in raw.get("4 peers", {}).get("peers", {}).items():
        if name.startswith(prefix) and peer["reps"] and not peer["skipped"]:
            return median(column(peer["reps"], key))
    return None


def goal_figures(bench: Bench) -> list[tuple[float | None, float | None, float | None]]:
    """(before, after, peer) medians for each of GOALS, None where not measured."""
    raw, before = bench.raw, f"sharebatch {bench.before_label}"
    overhead, one_row = raw.get("1 overhead", {}), raw.get("8 one-row", {})

    def rows_per_s(reps: list[dict[str, Any]] | None) -> float | None:
        return overhead["rows"] / median(column(reps, "wall_s")) if reps else None

    def wall(reps: list[dict[str, Any]] | None) -> float | None:
        return median(column(reps, "wall_s")) if reps else None

    return [
        (_peer_medians(raw, before, "wall_s"), _peer_medians(raw, "sharebatch (", "wall_s"),
         _peer_medians(raw, "newman", "wall_s")),
        (_peer_medians(raw, before, "cpu_s"), _peer_medians(raw, "sharebatch (", "cpu_s"),
         _peer_medians(raw, "xargs", "cpu_s")),
        (rows_per_s(overhead.get("before")), rows_per_s(overhead.get("sharebatch")), rows_per_s(overhead.get("bare"))),
        (wall(one_row.get("before")), wall(one_row.get("sharebatch")), wall(one_row.get("floor"))),
    ]


def render_goals(bench: Bench) -> str:
    """Issue 16's table, before and after side by side, from this run's medians."""
    header = ("measured in this run", bench.before_label or "before", "after (this tree)", "peer",
              "ratio before", "ratio after", "goal", "met before?", "met after?")
    rows = []
    for goal, (old, new, peer) in zip(GOALS, goal_figures(bench), strict=True):
        what = goal.what.format(peers=f"{bench.sizes.peers:,}", overhead=f"{bench.sizes.overhead:,}")
        judged = not (goal.full_size_only and bench.quick)

        def ratio(value: float | None, goal: Goal = goal, peer: float | None = peer) -> float | None:
            if value is None or peer is None or value == 0:
                return None
            # throughput is ours over the peer's; times are the peer's over ours, except the floor (ours over it)
            return value / peer if goal.unit == "rows/s" or goal.peer == "the floor" else peer / value

        def shown(value: float | None, goal: Goal = goal) -> str:
            if value is None:
                return "not run"
            return f"{value:,.0f} rows/s" if goal.unit == "rows/s" else f"{value:.2f} s"

        def met(value: float | None, goal: Goal = goal, judged: bool = judged) -> str:
            if value is None:
                return "-"
            return ("yes" if goal.met(value) else "NO") if judged else "(full size only)"

        old_ratio, new_ratio = ratio(old), ratio(new)
        fmt = "{:.2f}" if goal.unit == "rows/s" else "{:.1f}x"
        rows.append((what, shown(old), shown(new), f"{goal.peer} {shown(peer)}",
                     "-" if old_ratio is None else fmt.format(old_ratio),
                     "-" if new_ratio is None else fmt.format(new_ratio), goal.target, met(old_ratio), met(new_ratio)))
        bench.raw.setdefault("goals", []).append({"what": what, "before": old, "after": new, "peer": peer,
                                                  "ratio_before": old_ratio, "ratio_after": new_ratio,
                                                  "goal": goal.target, "judged": judged})
    return table(header, rows)


# ---------------------------------------------------------------- the run


def warm_up(bench: Bench) -> None:
    """One unmeasured tiny run and validate first.

    Others edit runner/ while benches run: the first process after an edit recompiles .pyc files,
    and a cold page cache slows the first imports; neither belongs in the first repetition.
    """
    progress("warm-up (not measured)")
    # Bytecode as an installed package has it (pip compiles it; the older tree is pip-installed): with
    # PYTHONDONTWRITEBYTECODE set, as in this machine's sessions, every process would compile runner/ again.
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "runner")], check=True, cwd=ROOT)
    data = write_shares_csv(bench.path("warmup.csv"), 20)
    with Simulator(bench.workdir) as sim:
        for sharebatch in [SHAREBATCH, *([bench.before] if bench.before else [])]:
            sharebatch_run(sim, data, bench.path("warmup-out"), bench.path("warmup.log"), rate=NO_LIMIT,
                           concurrency=IN_FLIGHT, rows=20, sharebatch=sharebatch)
            sim.reset()
    sharebatch_validate(data, bench.path("warmup-validate-out"), bench.path("warmup-validate.log"))


# ---------------------------------------------------------------- scenario 9


def scenario_accounts(bench: Bench) -> None:
    """Several accounts in one process: each gets its own rate, none waits for another (bench/accounts.py)."""
    name = "9 accounts"
    reps = [accounts.run_accounts(bench.path("accounts"), quick=bench.quick)
            for _ in bench.reps(f"{name} ({accounts.ACCOUNTS} accounts x {accounts.RATE:g}/s)")]
    bench.raw[name] = {"accounts": accounts.ACCOUNTS, "rate": accounts.RATE, "run": reps}
    rates = [figures["rate"] for rep in reps for figures in rep["per_account"].values()]
    low, high = min(rates), max(rates)
    ok = all(within(rate, accounts.RATE, 0.03) for rate in rates)
    bench.add(name, f"rate per account, lowest..highest of {len(rates)} (sending window at the server)",
              f"{low:.2f}..{high:.2f}/s", low, f"{accounts.RATE:g}/s +-3%", ok)
    worst = max(figures["max_in_any_second"] for rep in reps for figures in rep["per_account"].values())
    bench.add(name, "most requests of one account in any sliding second", f"{worst}", worst,
              f"<= {accounts.RATE:g}", worst <= accounts.RATE)
    wall = median(column(reps, "wall_s"))
    rows = reps[0]["rows"]
    bench.add(name, f"whole process, {rows} rows ({rows / accounts.ACCOUNTS:.0f} per account)", f"{wall:.2f} s",
              wall, f"~ {rows / accounts.ACCOUNTS / accounts.RATE:.0f} s (each account's rows / 5)")
    bench.add(name, "CPU of the process", f"{median(column(reps, 'cpu_s')):.2f} s")


SCENARIOS: dict[str, Callable[[Bench], None]] = {
    "1": scenario_overhead, "2": scenario_latency, "3": scenario_rate,
    "4": scenario_peers, "5": scenario_scale, "6": scenario_startup, "7": scenario_xlsx,
    "8": scenario_one_row, "9": scenario_accounts,
}


def machine() -> dict[str, Any]:
    """Enough about the host to judge whether two result files are comparable."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": os.getloadavg(), "git": git_revision()}


def git_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def reproduce_command(argv: list[str]) -> str:
    make = "make bench" + (f" ARGS={shlex.quote(' '.join(argv))}" if argv else "")
    direct = " ".join(shlex.quote(part) for part in [".venv/bin/python", "bench/run_bench.py", *argv])
    return f"{make}   (or: {direct})"


def render_table(figures: list[Figure]) -> str:
    header = ("scenario", "what", "median", "target", "met?")
    rows = [(f.scenario, f.what, f.shown, f.target, "-" if f.met is None else "yes" if f.met else "NO")
            for f in figures]
    return table(header, rows)


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def write_results(document: dict[str, Any], stamp: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"bench-{stamp}.json"
    text = json.dumps(document, indent=2) + "\n"
    target.write_text(text, encoding="utf-8")
    (RESULTS / "latest.json").write_text(text, encoding="utf-8")
    return target


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measured thing; medians are shown")
    parser.add_argument("--scale-repeat", type=int, default=1,
                        help="runs of scenario 5 (1M-row validate, 100k-row run: minutes each); default 1")
    parser.add_argument("--quick", action="store_true", help="row counts / 5: a smoke run")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios to run, e.g. 1,4 (default: all)")
    parser.add_argument("--no-install", dest="install", action="store_false",
                        help="do not npm-install Newman or apt-get curl when missing (skip that peer)")
    parser.add_argument("--before", default=before_tree.BEFORE_REV,
                        help=f"git revision to time next to the working tree in scenarios 1, 4 and 8 (default "
                        f"{before_tree.BEFORE_REV}, the tree before issue 16); 'none' to skip")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.scale_repeat < 1:
        parser.error("--repeat and --scale-repeat must be >= 1")
    unknown = set(args.only.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started, stamp = time.monotonic(), datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    host, command = machine(), reproduce_command(argv)
    heading = (f"sharebatch bench {stamp}{' (--quick)' if args.quick else ''}: {host['nproc']} CPUs, "
               f"{host['cpu_model']}, Python {host['python']}, git {host['git']}, "
               f"load {host['loadavg_at_start'][0]:.2f}\nreproduce: {command}")
    print(heading, flush=True)
    sizes = Sizes().shrunk(5) if args.quick else Sizes()
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="sharebatch-bench-") as tmp:
        bench = Bench(args.repeat, args.scale_repeat, sizes, args.quick, args.install, Path(tmp))
        if args.before != "none":
            progress(f"installing the tree at {args.before} for the before figures (once, into bench/.cache)")
            bench.before, reason = before_tree.prepare(args.before, bench.path("before-install.log"))
            bench.before_label = f"before ({args.before})" if bench.before else f"before: SKIPPED, {reason}"
            if not bench.before:
                progress(bench.before_label)
        warm_up(bench)
        for key in args.only.split(","):
            try:
                SCENARIOS[key](bench)
            except BenchError as exc:
                errors[key] = str(exc)
                bench.add(key, "FAILED", str(exc).splitlines()[0][:200])
                progress(f"scenario {key} failed: {exc}")
    elapsed = time.monotonic() - started
    load = os.getloadavg()
    print(f"\n{render_table(bench.figures)}\n\nissue 16's goals (medians of this run; ratios: peer / sharebatch "
          f"for time, sharebatch / peer for throughput and the one-row run):\n{render_goals(bench)}\n\n"
          f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (at the start "
          f"{host['loadavg_at_start'][0]:.2f}) on {host['nproc']} CPUs\n"
          f"total bench time {elapsed:.0f} s; medians of {args.repeat} "
          f"repetitions (scenario 5: {args.scale_repeat}, start-up: 5); wall = spawn..reap of the whole "
          "process; CPU = user+sys of that process and its waited-for children (os.wait4)", flush=True)
    document = {"stamp": stamp, "command": command, "args": vars(args), "machine": host, "sizes": asdict(sizes),
                "elapsed_s": elapsed, "figures": [asdict(f) for f in bench.figures], "raw": bench.raw,
                "errors": errors}
    print(f"figures: {write_results(document, stamp).relative_to(ROOT)} (and bench/results/latest.json)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
