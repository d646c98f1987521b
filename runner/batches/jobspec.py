"""Job files and command-line overrides, merged into one validated `JobSpec`.

A job file is declarative TOML whose top-level keys mirror the long flags of `sharebatch run`
(`max_attempts` is `--max-attempts`); flags win over the file. Every check lives here so that a
bad value in a file and the same value on the command line get the same message (the base URL's
and the region's in baseurl.py).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.batches.baseurl import base_url_of
from runner.batches.jobaccounts import (
    AccountSpec,
    anchor_account_files,
    job_accounts,
    limiter,
    parse_account_options,
    same_account,
)
from runner.errors import UsageError
from runner.input.columns import CANONICAL_COLUMNS
from runner.input.editorfiles import editor_file_kind, real_document, user_path
from runner.input.expiry import load_timezone
from runner.models import COVER_MARKS

DEFAULT_RATE = 5.0
DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_COVER_MARK = 1
DEFAULT_MAX_RETRY_AFTER_S = 120.0
#: the settle window's default: twice the request timeout plus this (engine/settle.py, README "Exactly once"):
#: 65 s with the default 30 s timeout, beyond the timeout + 30 s a proxy was seen to hold requests (issue 19)
DEFAULT_SETTLE_MARGIN_S = 5.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h)?")
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class JobSpec:
    """Everything a run needs to know, validated; paths from a job file are relative to its folder."""

    name: str
    input: Path
    out: Path
    base_url: str | None = None
    rate: float = DEFAULT_RATE
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_s: float = DEFAULT_TIMEOUT_S
    #: a share request whose answer was lost is looked up only this long after it left; None: 2 × timeout + 5 s
    settle_s: float | None = None
    cover_mark: int = DEFAULT_COVER_MARK
    expiry: str | None = None
    timezone: str = "UTC"
    sheet: str | None = None
    encoding: str = "utf-8"
    retry_codes: frozenset[int] = frozenset()
    allow_insecure_http: bool = False
    columns: dict[str, str] = field(default_factory=dict)
    ignore_columns: tuple[str, ...] = ()  # headers kept out of the column mapping, carried through
    header_row: int | None = None  # the header's spreadsheet row number; None = the first non-empty row
    include_hidden: bool = False  # send rows hidden or filtered out in the sheet too
    token_file: Path | None = None
    ca_bundle: Path | None = None  # extra CA certificates (a corporate proxy); the system store otherwise
    #: [auth] login settings for re-login when the refresh token is dead (secrets come from the environment)
    login: dict[str, str] = field(default_factory=dict)
    #: stop sending after this many seconds (--deadline); None: no deadline
    deadline_s: float | None = None
    #: the longest pause a Retry-After may impose on the whole run
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S
    #: run: look each device up first and leave out the rows whose share is already in place
    skip_existing: bool = False
    #: a canary (--limit): send at most this many more rows of the batch; None: every row
    limit: int | None = None
    #: a resumed run re-sends every failed row, not only those whose failure may pass (--retry-failed)
    retry_failed: bool = False
    #: the brake (--max-failures): stop once this many rows failed, or this share of those finished
    max_failures: int | None = None
    max_failure_share: float | None = None
    #: report.html for mailing: recipients' emails, phones and uids masked (report.csv keeps them)
    mask_recipients: bool = False
    #: who shares the account's rate: local (this host's processes), redis://HOST:PORT/DB (several hosts), off
    limiter: str = "local"
    #: the owner accounts rows may name in their account column, by name
    accounts: dict[str, AccountSpec] = field(default_factory=dict)

    @property
    def settle_window_s(self) -> float:
        """How long after an attempt in doubt began its look-up waits (engine/settle.py)."""
        return self.settle_s if self.settle_s is not None else 2 * self.timeout_s + DEFAULT_SETTLE_MARGIN_S

    def require_base_url(self) -> str:
        """The base URL, for a command that calls the platform: a UsageError when none was given."""
        if self.base_url is None:
            raise UsageError("no base URL: give --base-url URL or --region eu|cn (or set it in the job file)")
        return self.base_url


AUTH_KEYS = ("token_file", "email", "phone", "international_code", "user_domain")

# key -> (accepted python types, description used in messages)
_KEY_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "a string"),
    "input": ((str, Path), "a path string"),
    "out": ((str, Path), "a path string"),
    "base_url": ((str,), "a URL string"),
    "region": ((str,), '"eu" or "cn"'),
    "rate": ((int, float), "a number"),
    "concurrency": ((int,), "a whole number"),
    "max_attempts": ((int,), "a whole number"),
    "timeout_s": ((int, float), "a number of seconds"),
    "settle_s": ((int, float), "a number of seconds, more than timeout_s"),
    "cover_mark": ((int,), "1, 2 or 3"),
    "expiry": ((str,), "an expiry string such as 30d or 2027-12-31"),
    "timezone": ((str,), "an IANA timezone name such as Europe/Berlin"),
    "sheet": ((str,), "a sheet name"),
    "encoding": ((str,), "an encoding name"),
    "retry_codes": ((list,), "a list of platform codes"),
    "allow_insecure_http": ((bool,), "true or false"),
    "columns": ((dict,), "a table"),
    "ignore_columns": ((list,), "a list of header names"),
    "header_row": ((int,), "a row number (1 for the first row)"),
    "include_hidden": ((bool,), "true or false"),
    "auth": ((dict,), "a table"),
    "token_file": ((str, Path), "a path string"),
    "ca_bundle": ((str, Path), "a path string"),
    "deadline": ((str, int, float), "a duration such as 90s, 20m or 2h"),
    "max_retry_after": ((int, float), "a number of seconds"),
    "skip_existing": ((bool,), "true or false"),
    "limit": ((int,), "a whole number of rows"),
    "mask_recipients": ((bool,), "true or false"),
    "retry_failed": ((bool,), "true or false"),
    "max_failures": ((int, str), 'a number of rows such as 10, or a share such as "5%"'),
    "limiter": ((str,), '"local", "off" or a redis://HOST:PORT/DB URL'),
    "accounts": ((dict,), "[accounts.NAME] tables"),
}



def load_job_spec(job_file: Path | None, overrides: dict[str, Any]) -> JobSpec:
    """Read the job file (if any), apply flag overrides (None values are ignored) and validate."""
    if "account" in overrides:  # --account NAME=TOKEN_FILE, repeatable
        overrides = {**overrides, "accounts": parse_account_options(overrides["account"] or ())}
        del overrides["account"]
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    where = "option"
    if job_file is not None:
        raw = _read_toml(job_file)
        base_dir = job_file.resolve().parent
        where = str(job_file)
    _check_keys(raw, where)
    file_paths: set[str] = {key for key in ("input", "out", "ca_bundle") if key in raw}
    anchor_account_files(raw, base_dir)
    auth = _auth(raw.pop("auth", {}), where)
    if "token_file" in auth:
        raw.setdefault("token_file", auth.pop("token_file"))
        file_paths.add("token_file")
    from_flags = {key for key, value in overrides.items() if value is not None}
    for key in from_flags:
        raw[key] = _merged(key, raw.get(key), overrides[key])
        file_paths.discard(key)
    _check_keys(raw, where)

    def at(key: str) -> str:
        """Where a value came from, for the message: the flag that set it, else the job file."""
        return f"option --{key.replace('_', '-')}" if key in from_flags else where

    def resolve(key: str) -> Path | None:
        if key not in raw:
            return None
        path = user_path(raw[key])
        return base_dir / path if key in file_paths and not path.is_absolute() else path

    input_path = resolve("input")
    if input_path is None:
        raise UsageError(f"{where}: no input file: give --input PATH or set `input` in the job file")
    if (editor_kind := editor_file_kind(input_path.name)) is not None and not any(c in input_path.name for c in "*?["):
        raise UsageError(f"{input_path}: this is {editor_kind}, not a sheet to share; give "
                         f"{input_path.with_name(real_document(input_path.name))} instead")
    name = raw.get("name") or (job_file.stem if job_file is not None else input_path.stem)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise UsageError(f"{where}: `name` {name!r} must be a plain name, not a path (use `out` for a folder)")
    # Beside the job file, so cron, `status` and `revoke` find the same out dir from any folder.
    out = resolve("out") or (base_dir / "out" / name if job_file is not None else Path("out") / name)
    return JobSpec(
        name=name,
        input=input_path,
        out=out,
        base_url=base_url_of(raw, at("region") if "region" in from_flags else at("base_url")),
        rate=_positive_number(raw, "rate", DEFAULT_RATE, at("rate")),
        deadline_s=_duration(raw, "deadline", at("deadline")),
        max_retry_after_s=_positive_number(raw, "max_retry_after", DEFAULT_MAX_RETRY_AFTER_S, at("max_retry_after")),
        limit=_at_least(raw, "limit", 1, 1, at("limit")) if "limit" in raw else None,
        mask_recipients=bool(raw.get("mask_recipients", False)),
        **_max_failures(raw, at("max_failures")),
        concurrency=_at_least(raw, "concurrency", DEFAULT_CONCURRENCY, 1, at("concurrency")),
        max_attempts=_at_least(raw, "max_attempts", DEFAULT_MAX_ATTEMPTS, 1, at("max_attempts")),
        timeout_s=_positive_number(raw, "timeout_s", DEFAULT_TIMEOUT_S, at("timeout_s")),
        settle_s=_settle_s(raw, at("settle_s")),
        cover_mark=_cover_mark(raw, at("cover_mark")),
        expiry=raw.get("expiry") or None,
        timezone=_timezone(raw, at("timezone")),
        sheet=raw.get("sheet"),
        encoding=raw.get("encoding", "utf-8"),
        retry_codes=_retry_codes(raw, where),
        allow_insecure_http=bool(raw.get("allow_insecure_http", False)),
        columns=_columns(raw, where),
        ignore_columns=_ignore_columns(raw, at("ignore_columns")),
        header_row=_header_row(raw, at("header_row")),
        include_hidden=bool(raw.get("include_hidden", False)),
        token_file=resolve("token_file"),
        ca_bundle=resolve("ca_bundle"),
        login=auth,
        skip_existing=bool(raw.get("skip_existing", False)),
        retry_failed=bool(raw.get("retry_failed", False)),
        limiter=limiter(raw, at("limiter")),
        accounts=job_accounts(raw, at("accounts")),
    )


def _settle_s(raw: dict[str, Any], where: str) -> float | None:
    """`settle_s` must outlast the request timeout: an attempt can land until it has timed out, and later."""
    if "settle_s" not in raw:
        return None
    settle = _positive_number(raw, "settle_s", DEFAULT_SETTLE_MARGIN_S, where)
    timeout = _positive_number(raw, "timeout_s", DEFAULT_TIMEOUT_S, where)
    if settle <= timeout:
        raise UsageError(f"{where}: `settle_s` ({settle:g}) must be more than the request timeout `timeout_s` "
                         f"({timeout:g}): a request can be applied until it times out, and a proxy can hold it longer")
    return settle


def _read_toml(job_file: Path) -> dict[str, Any]:
    try:
        with job_file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"{job_file}: job file not found") from None
    except IsADirectoryError:
        raise UsageError(f"{job_file}: is a directory, not a job file") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{job_file}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{job_file}: not valid TOML: the file is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{job_file}: cannot read the job file: {exc.strerror}") from None


def _check_keys(raw: dict[str, Any], where: str) -> None:
    for key, value in raw.items():
        if key not in _KEY_TYPES:
            known = ", ".join(sorted(_KEY_TYPES))
            raise UsageError(f"{where}: unknown key `{key}` (known keys: {known})")
        types, description = _KEY_TYPES[key]
        # bool is an int in Python; a `true` where a number belongs is still a mistake
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise UsageError(f"{where}: `{key}` must be {description}, not {value!r}")


def _positive_number(raw: dict[str, Any], key: str, default: float, where: str) -> float:
    value = float(raw.get(key, default))
    if not value > 0 or value != value or value == float("inf"):
        raise UsageError(f"{where}: `{key}` must be greater than 0, not {raw[key]!r}")
    return value


def _at_least(raw: dict[str, Any], key: str, default: int, minimum: int, where: str) -> int:
    value = int(raw.get(key, default))
    if value < minimum:
        raise UsageError(f"{where}: `{key}` must be at least {minimum}, not {value}")
    return value


def _cover_mark(raw: dict[str, Any], where: str) -> int:
    value = int(raw.get("cover_mark", DEFAULT_COVER_MARK))
    if value not in COVER_MARKS:
        raise UsageError(
            f"{where}: `cover_mark` must be 1 (replace), 2 (add alongside) or 3 (replace if later), not {value}"
        )
    return value


def _timezone(raw: dict[str, Any], where: str) -> str:
    name = raw.get("timezone", "UTC")
    try:
        load_timezone(name)
    except ValueError:
        raise UsageError(f"{where}: `timezone` {name!r} is not a known IANA timezone (e.g. Asia/Shanghai)") from None
    return str(name)


def _retry_codes(raw: dict[str, Any], where: str) -> frozenset[int]:
    codes = raw.get("retry_codes", [])
    if not all(isinstance(code, int) and not isinstance(code, bool) for code in codes):
        raise UsageError(f"{where}: `retry_codes` must be a list of whole numbers such as [5134]")
    from runner.platform.codes import ErrorClass, classify_code

    for code in codes:
        if classify_code(code) is not ErrorClass.ROW:
            raise UsageError(f"{where}: `retry_codes` may list only codes that fail a row, not {code} "
                             f"({classify_code(code).value}: sharebatch already handles it)")
    return frozenset(codes)


def _columns(raw: dict[str, Any], where: str) -> dict[str, str]:
    columns = raw.get("columns", {})
    for key, header in columns.items():
        if key not in CANONICAL_COLUMNS:
            raise UsageError(
                f"{where}: [columns] has unknown column `{key}` (known: {', '.join(CANONICAL_COLUMNS)})"
            )
        if not isinstance(header, str) or not header:
            raise UsageError(f"{where}: [columns] `{key}` must be a header name string")
    return dict(columns)


def _merged(key: str, from_file: Any, from_flag: Any) -> Any:
    """A flag replaces the file's value, except mappings and ignored columns, which add to it."""
    if key == "columns" and isinstance(from_file, dict) and isinstance(from_flag, dict):
        return {**from_file, **from_flag}
    if key == "ignore_columns" and isinstance(from_file, list) and isinstance(from_flag, list):
        return [*from_file, *from_flag]
    if key == "accounts" and isinstance(from_file, dict) and isinstance(from_flag, dict):
        merged = {name: dict(table) if isinstance(table, dict) else table for name, table in from_file.items()}
        for flag_name, table in from_flag.items():  # --account NAME=FILE replaces only that account's token file
            name = same_account(flag_name, merged)
            merged[name] = {**merged.get(name, {}), **table} if isinstance(merged.get(name), dict) else table
        return merged
    return from_flag


def parse_column_map(values: tuple[str, ...] | list[str]) -> dict[str, str] | None:
    """`--map dk=IMEI --map expiry="Valid until"` -> {"dk": "IMEI", "expiry": "Valid until"}."""
    mapping: dict[str, str] = {}
    for value in values:
        column, equals, header = value.partition("=")
        column = column.strip()
        if not equals or not header.strip():
            raise UsageError(f'option --map: "{value}" must be COLUMN=HEADER, e.g. --map dk=IMEI')
        if column not in CANONICAL_COLUMNS:
            raise UsageError(f'option --map: unknown column "{column}" (known: {", ".join(CANONICAL_COLUMNS)})')
        if column in mapping and mapping[column] != header:
            raise UsageError(f"option --map: {column} is mapped twice")
        mapping[column] = header
    return mapping or None


def _ignore_columns(raw: dict[str, Any], where: str) -> tuple[str, ...]:
    headers = raw.get("ignore_columns", [])
    if not all(isinstance(header, str) and header.strip() for header in headers):
        raise UsageError(f'{where}: `ignore_columns` must be a list of header names such as ["Type"]')
    return tuple(headers)


def _header_row(raw: dict[str, Any], where: str) -> int | None:
    value = raw.get("header_row")
    if value is not None and value < 1:
        raise UsageError(f"{where}: `header_row` must be 1 or more (the spreadsheet's row number), not {value}")
    return None if value is None else int(value)


def _auth(section: dict[str, Any], where: str) -> dict[str, str]:
    for key, value in section.items():
        if key not in AUTH_KEYS:
            raise UsageError(f"{where}: [auth] has unknown key `{key}` (known: {', '.join(AUTH_KEYS)}; the password "
                             "and domain secret come from SHAREBATCH_PASSWORD and SHAREBATCH_USER_DOMAIN_SECRET)")
        if not isinstance(value, str) or not value:
            raise UsageError(f"{where}: [auth] `{key}` must be a non-empty string")
    return dict(section)


def _max_failures(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """`10` (rows) or `"5%"` (of the rows finished so far) -> the JobSpec fields; none when not set."""
    value = raw.get("max_failures")
    if value is None:
        return {}
    text = str(value).strip()
    problem = f"{where}: `max_failures` must be a number of rows such as 10 or a share such as 5%, not {value!r}"
    if text.endswith("%"):
        try:
            share = float(text[:-1]) / 100
        except ValueError:
            raise UsageError(problem) from None
        if not 0 < share <= 1:
            raise UsageError(problem)
        return {"max_failure_share": share}
    if not text.isdigit() or int(text) < 1:
        raise UsageError(problem)
    return {"max_failures": int(text)}


def _duration(raw: dict[str, Any], key: str, where: str) -> float | None:
    """`90s`, `20m`, `2h` or a number of seconds; None when the key is not set."""
    value = raw.get(key)
    if value is None:
        return None
    match = _DURATION.fullmatch(str(value).strip().lower())
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"] if match else 0.0
    if seconds <= 0:
        raise UsageError(f"{where}: `{key}` {value!r} is not a duration such as 90s, 20m or 2h")
    return seconds
