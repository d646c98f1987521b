"""What each command imports: the guard on start-up cost, by module count, never by a clock.

A small batch's time was mostly imports (matplotlib, aiohttp, rich, ...) that the command did
not need; bench/README.md has the figures. Each case runs the real command in a fresh interpreter
(`python -m runner ...`) and lists the top-level packages in sys.modules when it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.conftest import CsvWriter, ThreadedSimulator, good_rows

#: heavy packages and what needs them: none of them may be loaded by a command that does not
PLOTTING = {"matplotlib", "numpy", "PIL"}
XLSX = {"pandas", "openpyxl", "xlrd"}
SENDING = {"aiohttp", "yarl", "multidict"}
LATE = {"tenacity", "cryptography", "rich", "jinja2"}  # first retry, a login, a terminal, writing report.html

_PROBE = """
import json, runpy, sys
target, sys.argv = sys.argv[1], ["sharebatch", *sys.argv[2:]]
code = 0
try:
    runpy.run_module("runner", run_name="__main__")
except SystemExit as stop:
    code = stop.code
with open(target, "w") as handle:
    json.dump({"exit": code, "modules": sorted({name.split(".")[0] for name in sys.modules})}, handle)
"""


def _imported(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """(exit code, top-level packages imported) of `sharebatch ARGS` in a fresh interpreter, stdout a pipe."""
    target = tmp_path / "modules.json"
    clean = {name: value for name, value in os.environ.items()
             if name not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS")}
    subprocess.run([sys.executable, "-c", _PROBE, str(target), *args], capture_output=True, check=False,
                   env={**clean, **(env or {})}, cwd=Path(__file__).resolve().parent.parent, timeout=120)
    found = json.loads(target.read_text(encoding="utf-8"))
    return int(found["exit"] or 0), set(found["modules"])


def test_help_imports_click_and_little_else(tmp_path: Path) -> None:
    code, modules = _imported(tmp_path, "--help")
    assert code == 0
    assert "click" in modules
    assert modules.isdisjoint(PLOTTING | XLSX | SENDING | LATE | {"asyncio"})


def test_validate_of_a_csv_imports_nothing_for_sending_plotting_or_xlsx(tmp_path: Path, write_csv: CsvWriter) -> None:
    data = write_csv("shares.csv", good_rows(3))
    code, modules = _imported(tmp_path, "validate", "--input", str(data), "--out", str(tmp_path / "out"))
    assert code == 0
    assert list((tmp_path / "out").rglob("report.csv"))  # it did the work, not just start
    assert modules.isdisjoint(PLOTTING | XLSX | SENDING | LATE)


def test_validate_of_an_xlsx_is_what_brings_in_openpyxl(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["pk", "dk", "recipient", "expiry", "cover_mark"], ["p1", "00B0000000001", "U000000001", "", "2"]]:
        sheet.append(row)
    data = tmp_path / "shares.xlsx"
    book.save(data)
    code, modules = _imported(tmp_path, "validate", "--input", str(data), "--out", str(tmp_path / "out"))
    assert code == 0
    assert "openpyxl" in modules  # the guard sees an import when there is one
    assert modules.isdisjoint({"matplotlib", "pandas"} | SENDING | LATE)  # PIL may come with openpyxl


@pytest.mark.integration
def test_a_run_imports_aiohttp_and_jinja2_but_no_plotting_retry_or_terminal_library(
    tmp_path: Path, write_csv: CsvWriter, sim_thread: ThreadedSimulator
) -> None:
    data = write_csv("shares.csv", good_rows(1))
    out = tmp_path / "out"
    code, modules = _imported(tmp_path, "run", "--input", str(data), "--base-url", sim_thread.base_url,
                              "--out", str(out), env={"SHAREBATCH_TOKEN": sim_thread.token})
    assert code == 0
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["success"] == 1
    assert (out / "report.html").exists()
    assert {"aiohttp", "jinja2"} <= modules
    assert modules.isdisjoint(PLOTTING | XLSX | {"tenacity", "cryptography", "rich"})


def test_the_command_line_never_imports_pandas_even_with_the_extra_installed(
    tmp_path: Path, write_csv: CsvWriter
) -> None:
    """pandas is the `pandas` extra's, for runner.api's frame functions: a command never pays its import."""
    data = write_csv("shares.csv", good_rows(2))
    for args in (["--help"], ["validate", "--input", str(data), "--out", str(tmp_path / "out")],
                 ["status", "--out", str(tmp_path / "out")]):
        _, modules = _imported(tmp_path, *args)
        assert "click" in modules  # the probe saw the command's imports
        assert "pandas" not in modules, args


def test_importing_the_library_surface_does_not_import_pandas(tmp_path: Path) -> None:
    probe = "import sys, runner.api; print(sorted({name.split('.')[0] for name in sys.modules}))"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120,
                           cwd=Path(__file__).resolve().parent.parent)
    modules = set(json.loads(found.stdout.replace("'", '"')))
    assert "runner" in modules
    assert modules.isdisjoint({"pandas", "numpy"} | SENDING)
