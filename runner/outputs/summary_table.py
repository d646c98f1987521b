"""The end-of-run summary as a table on stdout, with where the outputs went.

Warnings and paths can hold text from the input (a pk, a file name): it is printed as plain
text, never as rich markup, with control characters escaped.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from runner.errors import describe_code
from runner.outputs.inert import escape_controls
from runner.redact import redact

if TYPE_CHECKING:
    from runner.batch import BatchResult


def plain(value: object) -> Text:
    """Outside text as a rich Text: no markup, no emoji codes, no control characters, no secrets."""
    return Text(escape_controls(redact(str(value))))


def print_summary(result: BatchResult, console: Console | None = None) -> None:
    console = console or Console(highlight=False, soft_wrap=True)
    summary = result.summary
    table = Table(title="sharebatch summary", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for label in ("total", "success", "failed", "invalid", "duplicate", "not_attempted"):
        table.add_row(label, str(getattr(summary, label)))
    for label in ("unknown", "hidden", "valid", "permanent", "revoked", "already_ended", "extended"):
        if getattr(summary, label):
            table.add_row(label, str(getattr(summary, label)))
    table.add_row("requests", str(summary.requests))
    table.add_row("retries", str(summary.retries))
    table.add_row("duration", f"{summary.duration_s:.1f} s")
    table.add_row("rate achieved", f"{summary.rate_achieved:.1f} req/s")
    for code, count in summary.by_code.items():
        label = describe_code(int(code)) if code.isdigit() else code
        table.add_row(plain(f"failed: {label}"), str(count))
    console.print(table)
    for warning in summary.warnings:
        console.print(plain(f"warning: {warning}"))
    if summary.stopped:
        print(f"stopped early: {escape_controls(redact(summary.stopped))}", file=sys.stderr)
    console.print(plain(f"report:  {result.report_path}"))
    if result.failed_path is not None:
        console.print(plain(f"failed:  {result.failed_path}"))
    console.print(plain(f"summary: {result.summary_path}"))
    if result.html_path is not None:
        console.print(plain(f"html:    {result.html_path}"))
