"""The keyword options of the library calls: the long options of the commands, one name end to end.

`max_attempts=3` is `--max-attempts 3` is `max_attempts = 3` in a job file; a call's option wins
over the job file, as a command-line option does. Each TypedDict is a group the commands share,
so a type checker flags a misspelt or misplaced option (`rows=` on `run`) before anything runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import TypedDict

#: a path as a str or any os.PathLike (pathlib.Path)
PathArg = str | PathLike[str]


class SendingOptions(TypedDict, total=False):
    """Where to send, how fast, with which credentials (every call that talks to the platform)."""

    base_url: str  #: the platform's base URL, e.g. https://iot-api.acceleronix.io
    region: str  #: "eu" or "cn": the documented base URL of that data center
    rate: float  #: most requests per second, retries included [5]
    concurrency: int  #: most requests in flight at once [4]
    max_attempts: int  #: attempts per row for transient failures [5]
    timeout_s: float  #: timeout of one request in seconds [30]
    settle_s: float  #: a share request whose answer was lost is looked up this long after it left [2 × timeout_s + 5]
    deadline: str | float  #: stop sending after this long: "90s", "20m", "2h" or seconds [none]
    max_retry_after: float  #: longest pause in seconds a Retry-After may impose [120]
    allow_insecure_http: bool  #: plain http to a non-loopback host (not recommended)
    token_file: PathArg  #: tokens saved by `sharebatch login` [SHAREBATCH_TOKEN from `env`]
    ca_bundle: PathArg  #: PEM file of extra CA certificates (a corporate TLS proxy)
    limiter: str  #: who shares each account's rate: "local" (this host), "redis://HOST:PORT/DB", "off" [local]
    #: owner accounts as "NAME=TOKEN_FILE" strings or {NAME: TOKEN_FILE} (`--account`; a job file's [accounts.NAME])
    account: Sequence[str] | Mapping[str, PathArg]


class RowOptions(TypedDict, total=False):
    """How the input's rows become requests, and the batch's name (validate, run, plan; a file or a frame)."""

    name: str  #: the batch's name in reports [the job file's or the input's name; `frame` for a frame]
    sheet: str  #: spreadsheet sheet to read [the first]
    columns: Mapping[str, str]  #: column -> header, e.g. {"dk": "IMEI"} (`--map dk=IMEI`)
    ignore_columns: Sequence[str]  #: headers kept out of the column mapping, carried through
    include_hidden: bool  #: send rows hidden or filtered out in the sheet too
    header_row: int  #: the spreadsheet row number of the header [the first non-empty row]
    encoding: str  #: CSV text encoding [utf-8, BOM allowed]
    timezone: str  #: IANA timezone for dates without an offset [UTC]
    expiry: str  #: expiry of rows whose expiry cell is empty, e.g. "30d" [permanent]
    cover_mark: int  #: cover mark of rows without one: 1, 2 or 3 [1]


class ReadingOptions(RowOptions, total=False):
    """Where the input file is, where the outputs go, and how to read it (validate, run, plan)."""

    input: PathArg  #: CSV, XLSX, XLS or ODS file of shares (or the job file's `input`)
    out: PathArg  #: output folder [out/<job or input name>]


class BatchOptions(TypedDict, total=False):
    """How much of a share batch to send, and how its report is made (run)."""

    skip_existing: bool  #: look each device up first; rows whose share is in place end success unsent
    limit: int  #: a canary: send at most this many more rows of the batch
    max_failures: int | str  #: stop cleanly after this many failed rows, or this share ("5%")
    mask_recipients: bool  #: report.html masks recipients (report.csv keeps them)


class PlanOptions(ReadingOptions, SendingOptions, total=False):
    """The options of `plan`: reading and sending."""


class RunOptions(PlanOptions, BatchOptions, total=False):
    """The options of `run`: reading, sending, and how much of the batch to send."""


class FramePlanOptions(RowOptions, SendingOptions, total=False):
    """`plan_frame`'s options: `plan`'s without `input` and `out` (the frame is the input, `out` is required)."""


class FrameRunOptions(FramePlanOptions, BatchOptions, total=False):
    """`run_frame`'s options: `run`'s without `input` and `out`."""


def job_overrides(options: Mapping[str, object]) -> dict[str, object]:
    """The options as job-spec overrides: paths as Path-able strings, sequences as lists."""
    overrides: dict[str, object] = {}
    for key, value in options.items():
        if isinstance(value, PathLike):
            value = os.fspath(value)
        elif key == "columns" and isinstance(value, Mapping):
            value = dict(value)
        elif key == "ignore_columns" and isinstance(value, Sequence) and not isinstance(value, str):
            value = list(value)
        elif key == "account" and isinstance(value, str):
            value = [value]  # one "NAME=TOKEN_FILE"
        elif key == "account" and isinstance(value, Mapping):
            value = [f"{name}={os.fspath(path)}" for name, path in value.items()]
        overrides[key] = value
    return overrides
