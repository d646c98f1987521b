"""The option groups several `sharebatch` commands share, each written once so they read the same everywhere.

Split from cli.py, which applies them; like it, this module imports nothing that runs a command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from runner.outputs.logsetup import LOG_FORMATS

F = TypeVar("F", bound=Callable[..., Any])


def output_options(func: F) -> F:
    """Options of `run`, `validate`, `demo`, `plan`, `track` and `extend` that choose what goes to stderr."""
    options = [
        click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
                     help="json: one JSON object per event on stderr (run_started, progress, retry, row_failed, "
                     "run_finished, error, ...) and nothing on stdout, for log collectors."),
        click.option("--quiet", is_flag=True,
                     help="Only warnings, errors and the final summary: no progress bar or progress lines."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def sending_options(func: F) -> F:
    """Options of every command that talks to the platform: where to send, how fast, with which credentials."""
    options = [
        click.option("--base-url", help="Platform base URL, e.g. https://iot-api.acceleronix.io."),
        click.option("--region", type=click.Choice(["eu", "cn"]),
                     help="Shortcut for the documented EU or CN base URL."),
        click.option("--rate", type=float, help="Most requests per second, retries included, in any one-second window. "
                     "[default: 5]"),
        click.option("--concurrency", type=int, help="Most requests in flight at once. [default: 4]"),
        click.option("--max-attempts", type=int, help="Attempts per row for transient failures. [default: 5]"),
        click.option("--timeout-s", type=float, help="Timeout of one request in seconds. [default: 30]"),
        click.option("--settle-s", type=float, help="A share request whose answer was lost is looked up this long "
                     "after it left, once it can no longer be applied; more than --timeout-s. "
                     "[default: twice the timeout + 5]"),
        click.option("--deadline", help="Stop sending after this long, e.g. 90s, 20m or 2h: rows not sent are "
                     "reported not_attempted, every output is written, exit 3; the next run sends them. "
                     "[default: none]"),
        click.option("--max-retry-after", type=float, help="Longest pause in seconds a Retry-After from the "
                     "platform may impose on the run. [default: 120]"),
        click.option("--allow-insecure-http", is_flag=True, default=None,
                     help="Allow plain http to a non-loopback host (not recommended)."),
        click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False),
                     help="Tokens saved by `sharebatch login`; refreshed during the run and written back. "
                     "[default: SHAREBATCH_TOKEN / SHAREBATCH_REFRESH_TOKEN from the environment]"),
        click.option("--account", "account", multiple=True, metavar="NAME=TOKEN_FILE",
                     help="An owner account that rows name in their account column, with the token file "
                          "`sharebatch login` saved for it; repeatable (job file: [accounts.NAME])."),
        click.option("--limiter", metavar="local|off|redis://HOST:PORT/DB",
                     help="Who shares each account's --rate: local = every sharebatch process on this host (a "
                          "state file), redis://... = processes on every host using that Redis, off = this "
                          "process alone. [default: local]"),
        click.option("--ca-bundle", type=click.Path(path_type=Path, dir_okay=False),
                     help="PEM file of extra CA certificates (a corporate TLS proxy). "
                     "Certificates are always verified."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def fresh_option(func: F) -> F:
    """`--fresh` of the journaled commands (run, revoke, extend)."""
    return click.option("--fresh", is_flag=True,
                        help="Start the batch again instead of resuming: the old journal and outputs move to "
                        "OUT/history/, nothing is deleted. Rows are sent anew.")(func)


def job_options(func: F) -> F:
    """Options shared by `run` and `validate`: where the input is and how to read it."""
    options = [
        click.argument("job", required=False, type=click.Path(path_type=Path, dir_okay=False)),
        click.option("--input", "input_path", type=click.Path(path_type=Path),
                     help="CSV, XLSX, XLS or ODS file of shares."),
        click.option("--out", type=click.Path(path_type=Path, file_okay=False),
                     help="Output folder. [default: out/<job or input name>]"),
        click.option("--sheet", help="Spreadsheet sheet to read (a hidden one only by name). [default: the sheet the "
                     "workbook opens on, else the first visible one]"),
        click.option("--map", "column_map", multiple=True, metavar="COLUMN=HEADER",
                     help="Read a column from this header, e.g. --map dk=IMEI --map expiry=\"Valid until\" "
                     "(repeatable; adds to the job file's [columns]). Columns: pk, dk, recipient, expiry, "
                     "recipient_type, cover_mark, auth_key."),
        click.option("--ignore-column", "ignore_columns", multiple=True, metavar="HEADER",
                     help="Keep this header out of the column mapping; it is carried through untouched "
                     "(repeatable; job key ignore_columns)."),
        click.option("--include-hidden", is_flag=True, default=None,
                     help="Send rows that are hidden or filtered out in the sheet too. [default: they are "
                     "reported as hidden and not sent]"),
        click.option("--header-row", type=int,
                     help="The spreadsheet row number of the header, when a title sits above it. "
                     "[default: the first non-empty row]"),
        click.option("--encoding", help="CSV text encoding, e.g. latin-1 or gbk. [default: utf-8, BOM allowed]"),
        click.option("--timezone", help="IANA timezone for dates without an offset. [default: UTC]"),
        click.option("--expiry", help="Expiry for rows whose expiry cell is empty, e.g. 30d or 2027-12-31. "
                     "[default: none, a permanent share]"),
        click.option("--cover-mark", type=int,
                     help="Cover mark for rows without one: 1 replace earlier share, 2 add alongside, "
                     "3 replace only if later. [default: 1]"),
        click.option("--debug", is_flag=True, help="Show tracebacks and debug logging."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
