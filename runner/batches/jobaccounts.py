"""The job's owner accounts (`[accounts.NAME]`, `--account NAME=TOKEN_FILE`) and its `limiter` (issue 24).

Kept beside jobspec.py, which merges and validates everything else; the value checks it shares
(numbers, base URLs, key types) are jobspec's own, so a bad value reads the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runner.batches.baseurl import base_url_of
from runner.errors import UsageError
from runner.input.editorfiles import user_path
from runner.redact import redact, register_secret

ACCOUNT_KEYS = ("token_file", "region", "base_url", "rate", "concurrency")
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class AccountSpec:
    """One owner account of a job (`[accounts.NAME]`, `--account NAME=TOKEN_FILE`); None: the job's own value."""

    name: str
    token_file: Path
    base_url: str | None = None
    rate: float | None = None
    concurrency: int | None = None



def parse_account_options(values: tuple[str, ...] | list[str]) -> dict[str, dict[str, Any]] | None:
    """`--account acme=acme.json --account beta=beta.json` -> {"acme": {"token_file": "acme.json"}, ...}."""
    accounts: dict[str, dict[str, Any]] = {}
    given: dict[str, str] = {}  # casefolded name -> the option as given: rows name accounts case-blind
    for value in values:
        name, equals, path = value.partition("=")
        if not equals or not name.strip() or not path.strip():
            raise UsageError(f'option --account: "{value}" must be NAME=TOKEN_FILE, e.g. --account acme=acme.json')
        earlier = given.setdefault(name.strip().casefold(), value)
        if earlier != value:  # which token would its rows go with? never a silent last-one-wins
            raise UsageError(f'option --account: account "{name.strip()}" is given twice ("{earlier}" and '
                             f'"{value}"; names are matched ignoring case): give each account once')
        accounts[name.strip()] = {"token_file": path.strip()}
    return accounts or None


def same_account(name: str, names: Any) -> str:
    """The name among `names` that is `name` ignoring case (rows match accounts so), else `name` itself."""
    return next((known for known in names if str(known).casefold() == name.casefold()), name)


def anchor_account_files(raw: dict[str, Any], base_dir: Path) -> None:
    """A job file's account token files are relative to the job file's folder, as its other paths are."""
    for table in (raw.get("accounts") or {}).values() if isinstance(raw.get("accounts"), dict) else ():
        if isinstance(table, dict) and isinstance(table.get("token_file"), str):
            path = user_path(table["token_file"])
            table["token_file"] = str(path if path.is_absolute() else base_dir / path)


def job_accounts(raw: dict[str, Any], where: str) -> dict[str, AccountSpec]:
    accounts: dict[str, AccountSpec] = {}
    for name, table in (raw.get("accounts") or {}).items():
        at = f"{where}: [accounts.{name}]"
        if (twin := same_account(name, accounts)) != name:
            raise UsageError(f"{at} and [accounts.{twin}] are one account (a row's account is matched ignoring "
                             "case): keep one of them")
        if not _ACCOUNT_NAME.fullmatch(name):
            raise UsageError(f"{where}: account name {name!r} must be letters, digits, '.', '_' or '-' (at most 64)")
        if not isinstance(table, dict):
            raise UsageError(f"{at} must be a table with token_file = PATH")
        unknown = sorted(set(table) - set(ACCOUNT_KEYS))
        if unknown:
            raise UsageError(f"{at} has unknown key `{unknown[0]}` (known: {', '.join(ACCOUNT_KEYS)})")
        from runner.batches.jobspec import _at_least, _check_keys, _positive_number

        _check_keys(table, at)
        if not table.get("token_file"):
            raise UsageError(f"{at} needs token_file = PATH (the tokens `sharebatch login --token-file PATH` saves)")
        rate = _positive_number(table, "rate", 1.0, at) if "rate" in table else None
        concurrency = _at_least(table, "concurrency", 1, 1, at) if "concurrency" in table else None
        url_fields = {**table, "allow_insecure_http": raw.get("allow_insecure_http", False)}
        accounts[name] = AccountSpec(name=name, token_file=user_path(table["token_file"]),
                                     base_url=base_url_of(url_fields, at), rate=rate, concurrency=concurrency)
    return accounts


def limiter(raw: dict[str, Any], where: str) -> str:
    """`local`, `off` or `redis://[:PASSWORD@]HOST[:PORT][/DB]` (rediss:// for TLS)."""
    value = str(raw.get("limiter", "local")).strip()
    if value in ("local", "off"):
        return value
    parts = urlsplit(value)
    if parts.password:
        register_secret(parts.password)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number in 0-65535
        port_ok = False
    if (parts.scheme not in ("redis", "rediss") or not parts.hostname or not port_ok
            or not re.fullmatch(r"(/\d*)?", parts.path)):
        raise UsageError(f"{where}: `limiter` must be local (this host's processes share an account's rate), off, "
                         f"or redis://HOST:PORT/DB (several hosts share it; PORT 1-65535, DB a number), not "
                         f"{redact(value)!r}")
    return value
