"""Process-level measurement for run_bench.py: time a child, read its rusage, run the simulator as a child.

Why whole processes: what an operator waits for is the command, start-up and report writing
included. Why os.wait4: its rusage is the measured child's own CPU and peak RSS (plus the
descendants it waited for, e.g. every curl under xargs), so the simulator, which shares the same
cores, never leaks into a client's figures.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
SHAREBATCH = [PYTHON, "-m", "runner"]
SHARE_PATH = "/v2/binding/enduserapi/shareByUid"
CSV_HEADER = ["pk", "dk", "recipient", "expiry", "cover_mark"]


class BenchError(RuntimeError):
    """A measured thing did not do its work (wrong exit code, rows not all answered 200): its timing is void."""


@dataclass(frozen=True)
class Measured:
    """One run of one child process."""

    wall_s: float
    cpu_s: float  # user + sys of the child and the descendants it waited for
    peak_rss_kib: int  # ru_maxrss: KiB on Linux; the largest single process, not a sum
    exit_code: int


def write_shares_csv(path: Path, rows: int) -> Path:
    """The benchmark input: one share per device (unique dk), permanent, cover mark 2 (add alongside)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(("p1bench", f"00B{index:010d}", f"U{index:09d}", "", "2") for index in range(rows))
    return path


def write_shares_xlsx(path: Path, rows: int) -> Path:
    """The benchmark rows as an XLSX sheet (openpyxl, streaming): the dk and recipient as text cells,
    the cover mark a number cell, the way a sheet made from the CSV holds them."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Shares")
    sheet.append(CSV_HEADER)
    for index in range(rows):
        sheet.append(["p1bench", f"00B{index:010d}", f"U{index:09d}", None, 2])
    book.save(path)
    return path


_ODS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content '
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">'
    '<office:body><office:spreadsheet><table:table table:name="Shares">'
    '<table:table-column table:number-columns-repeated="5"/>'
)
_ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
)


def _ods_cell(value: object) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, int):
        return (f'<table:table-cell office:value-type="float" office:value="{value}"><text:p>{value}</text:p>'
                "</table:table-cell>")
    return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'


def write_shares_ods(path: Path, rows: int) -> Path:
    """The benchmark rows as an .ods sheet laid out as LibreOffice writes one (a string cell is a
    `<text:p>`, a number keeps its value beside the text, each row ends with a repeated empty run)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", _ODS_MANIFEST)
        # streamed into the archive: a big string here would raise this process's RSS, which the
        # child sharebatch inherits at fork and ru_maxrss would then report as its own
        with archive.open("content.xml", "w") as content:
            content.write("".join([_ODS_HEAD, "<table:table-row>", *map(_ods_cell, CSV_HEADER),
                                   "</table:table-row>"]).encode())
            for index in range(rows):
                cells = "".join(map(_ods_cell, ["p1bench", f"00B{index:010d}", f"U{index:09d}", None, 2]))
                content.write(f'<table:table-row>{cells}<table:table-cell table:number-columns-repeated="1019"/>'
                              "</table:table-row>".encode())
            content.write(b'<table:table-row table:number-rows-repeated="1048575"><table:table-cell '
                           b'table:number-columns-repeated="1024"/></table:table-row>'
                           b"</table:table></office:spreadsheet></office:body></office:document-content>")
    return path


def measure(cmd: list[str], *, log: Path, env: dict[str, str] | None = None, stdin: Path | None = None) -> Measured:
    """Run `cmd` to completion with output to `log`; wall from spawn to reap, CPU and RSS from wait4."""
    with log.open("wb") as out, (stdin or Path(os.devnull)).open("rb") as inp:
        started = time.perf_counter()
        process = subprocess.Popen(cmd, stdin=inp, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, process.returncode)


def expect_exit(measured: Measured, expected: int, what: str, log: Path) -> None:
    """Raise with the end of the child's output when it did not finish as expected."""
    if measured.exit_code != expected:
        tail = log.read_text(encoding="utf-8", errors="replace")[-600:]
        raise BenchError(f"{what} exited {measured.exit_code} (expected {expected}); output ends:\n{tail}")


def log_tail(log: Path, chars: int = 300) -> str:
    """The last characters of a child's output, for a skip or failure reason."""
    return log.read_text(encoding="utf-8", errors="replace")[-chars:].strip() if log.exists() else ""


class Simulator:
    """`sharebatch simulate` in its own process (so it does not share an event loop with the client).

    Started per scenario so latency and state are fresh; `reset()` before each repetition so every
    measured run meets an empty share store and request log (stats then describe that run alone).
    """

    def __init__(self, workdir: Path, *, latency_ms: float = 0.0, extra_args: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.latency_ms = latency_ms
        self.extra_args = extra_args  # e.g. --account UID (scenario 9)
        self.ready_file = workdir / f"sim-ready-{latency_ms:g}ms.json"
        self.process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self, timeout_s: float = 30.0) -> None:
        """Start and wait for the ready file, which the simulator writes atomically once listening."""
        self.ready_file.unlink(missing_ok=True)
        command = [*SHAREBATCH, "simulate", "--port", "0", "--seed", "1", "--ready-file", str(self.ready_file),
                   "--latency-ms", f"{self.latency_ms:g}", *self.extra_args]
        with (self.workdir / "simulator.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout_s
        while not self.ready_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"the simulator did not start: {log_tail(self.workdir / 'simulator.log')}")
            time.sleep(0.05)
        self.info = json.loads(self.ready_file.read_text(encoding="utf-8"))

    def stop(self) -> None:
        """SIGTERM, the simulator's clean stop; SIGKILL only if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    @property
    def token(self) -> str:
        return self.info["access_token"]

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.base_url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        """Forget shares and the request log (tokens stay valid)."""
        self._call("POST", "/_sim/reset")

    def stats(self) -> dict[str, Any]:
        """GET /_sim/stats: total_requests, by_code, max_in_any_second, ..."""
        return dict(self._call("GET", "/_sim/stats"))

    def requests(self) -> list[dict[str, Any]]:
        """GET /_sim/requests: every API request since the last reset (t, params, uid, code, ...)."""
        return list(self._call("GET", "/_sim/requests"))

    def arrival_times(self) -> list[float]:
        """Arrival time (s, simulator clock) of every API request since the last reset."""
        return [float(record["t"]) for record in self._call("GET", "/_sim/requests")]

    def cpu_s(self) -> float:
        """The simulator's CPU so far (utime + stime from /proc), to show how busy the server side was."""
        if self.process is None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def expect_all_ok(self, rows: int, what: str) -> dict[str, Any]:
        """Every row must have been answered code 200 exactly once, else the timing measured something else."""
        stats = self.stats()
        ok = int(stats.get("by_code", {}).get("200", 0))
        if ok != rows:
            raise BenchError(f"{what}: the simulator answered {ok} of {rows} rows with code 200 "
                             f"(total requests {stats.get('total_requests')}, codes {stats.get('by_code')})")
        return stats


def sharebatch_run(sim: Simulator, csv_path: Path, out: Path, log: Path, *, rate: float, concurrency: int,
                   rows: int, sharebatch: list[str] = SHAREBATCH) -> tuple[Measured, dict[str, Any]]:
    """`sharebatch run` of `csv_path` into a fresh `out` (it would resume otherwise); returns its summary too.

    `sharebatch` is the command to run: the working tree's by default, or an older tree's (bench/before.py).
    """
    command = [*sharebatch, "run", "--input", str(csv_path), "--base-url", sim.base_url, "--out", str(out),
               "--rate", f"{rate:g}", "--concurrency", str(concurrency)]
    measured = measure(command, log=log, env={**os.environ, "SHAREBATCH_TOKEN": sim.token})
    expect_exit(measured, 0, "sharebatch run", log)
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    if summary.get("success") != rows:
        raise BenchError(f"sharebatch run: {summary.get('success')} of {rows} rows succeeded: {summary}")
    return measured, summary


def sharebatch_validate(csv_path: Path, out: Path, log: Path, sharebatch: list[str] = SHAREBATCH) -> Measured:
    """`sharebatch validate`: the same start-up, loading and report writing as `run`, without the network."""
    measured = measure([*sharebatch, "validate", "--input", str(csv_path), "--out", str(out)], log=log)
    expect_exit(measured, 0, "sharebatch validate", log)
    return measured
