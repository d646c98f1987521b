"""The end-of-run summary as a table on stdout, with where the outputs went.

Warnings and paths can hold text from the input (a pk, a file name): it is printed as plain
text, never as rich markup, with control characters escaped.

On a terminal rich draws the table. Off a terminal (cron's mail, a log file) the same bytes are
written without importing rich, which cost a small run about a twentieth of its time: rich's
output there is a plain box table, which `plain_table` reproduces exactly whenever that is
certain (ASCII text, no colour or width forced by the environment, a UTF-8 stdout, narrower than
rich's 80 columns). Anything else still goes through rich.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from runner.outputs.inert import escape_controls
from runner.platform.codes import describe_code
from runner.redact import redact

if TYPE_CHECKING:
    from rich.console import Console

    from runner.batches.results import BatchResult

TITLE = "sharebatch summary"
#: rich's width for a console that is not a terminal
RICH_PLAIN_WIDTH = 80
#: environment variables that change what rich writes off a terminal (colour, width, terminal detection)
_RICH_ENVIRONMENT = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "JUPYTER_COLUMNS",
                     "VSCODE_COLUMNS", "JUPYTER_LINES", "FORCE_TERMINAL")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


def plain(value: object) -> str:
    """Outside text made inert: no control characters, no secrets (printed as text, never as markup)."""
    return escape_controls(redact(str(value)))


#: the rows a validate knows of: it sends nothing, so requests, retries and rate mean nothing there
_VALIDATE_LABELS = ("total", "valid", "invalid", "duplicate")


def summary_rows(result: BatchResult) -> list[tuple[str, str]]:
    """(label, value) of every row of the table."""
    summary = result.summary
    if result.kind == "validate":
        rows = [(label, str(getattr(summary, label))) for label in _VALIDATE_LABELS]
        rows += [(label, str(getattr(summary, label))) for label in ("hidden", "permanent") if getattr(summary, label)]
        return [*rows, ("duration", f"{summary.duration_s:.1f} s")]
    rows = [(label, str(getattr(summary, label)))
            for label in ("total", "success", "failed", "invalid", "duplicate", "not_attempted")]
    counted = ("unknown", "hidden", "valid", "permanent", "revoked", "already_ended", "extended")  # shown when not 0
    rows += [(label, str(getattr(summary, label))) for label in counted if getattr(summary, label)]
    if summary.held_back:
        rows.append(("held back by --limit", str(summary.held_back)))
    rows += [("requests", str(summary.requests)), ("retries", str(summary.retries)),
             ("duration", f"{summary.duration_s:.1f} s"), ("rate achieved", f"{summary.rate_achieved:.1f} req/s")]
    for code, count in summary.by_code.items():
        label = describe_code(int(code)) if code.isdigit() else code
        rows.append((plain(f"failed: {label}"), str(count)))
    return rows


def output_lines(result: BatchResult) -> list[str]:
    """The lines after the table: warnings, then where the outputs are."""
    lines = [plain(f"warning: {warning}") for warning in result.summary.warnings]
    lines.append(plain(f"report:  {result.report_path}"))
    if result.failed_path is not None:
        lines.append(plain(f"failed:  {result.failed_path}"))
    lines.append(plain(f"summary: {result.summary_path}"))
    if result.html_path is not None:
        lines.append(plain(f"html:    {result.html_path}"))
    lines.append(plain(summary_line(result)))
    return lines


def summary_line(result: BatchResult, now: datetime | None = None) -> str:
    """One line for a log that collects every night's runs: UTC time, job, input, then the outcome."""
    s = result.summary
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = f"{stamp} job {result.job or '-'} input {result.input_path or '-'}: exit {int(result.exit_code)}"
    if result.kind == "validate":
        return f"{head}; validate: {s.total} rows, {s.valid} valid, {s.invalid} invalid, {s.duplicate} duplicate"
    if result.kind == "revoke":
        counts = f"{s.revoked} revoked, {s.already_ended} already ended, {s.failed} failed"
    elif result.kind == "extend":
        counts = f"{s.extended} extended, {s.failed} failed"
    else:
        counts = f"{s.success} success, {s.failed} failed, {s.invalid} invalid, {s.duplicate} duplicate"
    counts += f", {s.not_attempted} not attempted"
    if s.held_back:
        counts += f" ({s.held_back} held back by --limit)"
    if s.unknown:
        counts += f", {s.unknown} unknown"
    stopped = f"; stopped early: {s.stopped}" if s.stopped else ""
    return (f"{head}; {s.total} rows: {counts}; {s.requests} requests in {s.duration_s:.1f} s{stopped}; "
            f"report {result.report_path}")


def print_summary(result: BatchResult, console: Console | None = None) -> None:
    rows, lines = summary_rows(result), output_lines(result)
    warnings = len(result.summary.warnings)
    if console is None and plain_is_identical(rows, lines, sys.stdout, os.environ):
        out = sys.stdout
        out.write(plain_table(rows) + "".join(line + "\n" for line in lines[:warnings]))
        out.flush()
        _print_stopped(result)
        out.write("".join(line + "\n" for line in lines[warnings:]))
        out.flush()
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console(highlight=False, soft_wrap=True)
    table = Table(title=TITLE, show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in rows:
        table.add_row(Text(label), value)  # Text: a label from outside is never read as markup
    console.print(table)
    for line in lines[:warnings]:
        console.print(Text(line))
    _print_stopped(result)
    for line in lines[warnings:]:
        console.print(Text(line))


def _print_stopped(result: BatchResult) -> None:
    if result.summary.stopped:
        print(f"stopped early: {plain(result.summary.stopped)}", file=sys.stderr)


def plain_table(rows: Sequence[tuple[str, str]]) -> str:
    """The table as rich draws it off a terminal: the title, then a box with a right-aligned value column."""
    left = max(len(label) for label, _ in rows)
    right = max(len(value) for _, value in rows)
    body = [f"│ {label.ljust(left)} │ {value.rjust(right)} │" for label, value in rows]
    top = f"┌{'─' * (left + 2)}┬{'─' * (right + 2)}┐"
    bottom = f"└{'─' * (left + 2)}┴{'─' * (right + 2)}┘"
    return "\n".join([TITLE, top, *body, bottom]) + "\n"


def plain_is_identical(rows: Sequence[tuple[str, str]], lines: Sequence[str], stream: IO[str],
                       environment: Mapping[str, str]) -> bool:
    """Whether plain_table and plain lines are byte for byte what rich would write to `stream`."""
    if stream.isatty() or any(name in environment for name in _RICH_ENVIRONMENT):
        return False
    if not (getattr(stream, "encoding", None) or "").lower().replace("-", "").startswith("utf"):
        return False  # rich draws an ASCII box on other encodings
    if not all(_PRINTABLE_ASCII.fullmatch(text) for text in [*(cell for row in rows for cell in row), *lines]):
        return False  # wide or combining characters: rich measures cells, not characters
    width = max(len(label) for label, _ in rows) + max(len(value) for _, value in rows) + 7
    return len(TITLE) <= width <= RICH_PLAIN_WIDTH
