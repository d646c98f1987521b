"""What the commands share at the terminal: one printed line, the summary table, the progress choice,
and the one line (and exit code) every error becomes, a machine fault (full disk, read-only folder) too.

`runner/cli.py` parses the options and calls a command's `*_command` function; for validate, run,
plan, track, revoke and extend that function calls the library (`runner.api`, which builds the job
spec and runs the batch), prints through `echo` and returns the exit code, which only the CLI exits with.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from runner.errors import ExitCode, LockedError, LoginError, NothingToDoError, RunnerError, UsageError
from runner.events import log_event
from runner.outputs.inert import escape_controls
from runner.outputs.logsetup import LogFormat, configure_logging
from runner.redact import redact

F = TypeVar("F", bound=Callable[..., Any])


def echo(line: str, *, err: bool = False) -> None:
    """Print one line of ours; paths and messages in it may hold outside text or an echoed secret."""
    click.echo(escape_controls(redact(line)), err=err)


def input_overrides(input_path: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    """The job-spec overrides of `run`, `validate` and `plan`: repeatable options become a mapping and a list."""
    from runner.batches.jobspec import parse_column_map

    overrides = {"input": input_path, **options}
    overrides["columns"] = parse_column_map(overrides.pop("column_map", ()))
    overrides["ignore_columns"] = list(overrides.get("ignore_columns") or ()) or None
    return overrides


def print_result(result: Any, log_format: str = "text") -> None:
    """The summary table; under --log-format json the `run_finished` event already carried it."""
    from runner.outputs.summary_table import print_summary

    if log_format == "text":
        print_summary(result)


def log_format_of(value: str) -> LogFormat:
    return "json" if value == "json" else "text"


def interactive(log_format: str, quiet: bool) -> bool:
    """A live progress bar only for a person at a terminal: never in JSON, never with --quiet."""
    return sys.stderr.isatty() and log_format == "text" and not quiet


def handle_errors(func: F) -> F:
    """Turn our errors into one line and an exit code; never show a traceback unless --debug."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        as_json = kwargs.get("log_format") == "json"
        try:
            return func(*args, **kwargs)
        except UsageError as exc:
            if isinstance(exc.__cause__, OSError | sqlite3.Error):
                _show_traceback(debug)
            _fail(f"error: {exc}", ExitCode.USAGE, as_json=as_json)
        except LockedError as exc:
            _fail(f"error: {exc}", ExitCode.LOCKED, as_json=as_json)
        except NothingToDoError as exc:
            _fail(f"error: {exc}", ExitCode.ROWS_FAILED, as_json=as_json)
        except LoginError as exc:
            _fail(f"error: {exc}", ExitCode.REFUSED, as_json=as_json)
        except RunnerError as exc:
            _fail(f"error: {exc}", ExitCode.ABORTED, as_json=as_json)
        except KeyboardInterrupt:
            _fail("interrupted", ExitCode.INTERRUPTED, as_json=as_json)
        except (OSError, sqlite3.Error) as exc:
            # The machine, not the input: a read-only or full disk, a name too long, a damaged journal.
            from runner.api.faults import environment_fault

            _show_traceback(debug)
            _fail(f"error: {environment_fault(exc)}", ExitCode.USAGE, as_json=as_json)
        except Exception as exc:
            _show_traceback(debug)
            first_line = (str(exc).splitlines() or [""])[0][:300]
            hint = "" if debug else " (re-run with --debug for the traceback)"
            _fail(f"error: unexpected {type(exc).__name__}: {first_line}{hint}", ExitCode.ABORTED, as_json=as_json)

    return wrapper  # type: ignore[return-value]


def _show_traceback(debug: bool) -> None:
    """--debug adds the traceback (masked) before the one line; the exit code stays the same."""
    if debug:
        click.echo(redact(traceback.format_exc()).rstrip(), err=True)


def _fail(line: str, code: ExitCode, *, as_json: bool) -> NoReturn:
    """One line on stderr and the exit code; under --log-format json the line is an `error` event."""
    if as_json:
        configure_logging(log_format="json")  # the error may come before the command configured it
        log_event("error", redact(line.removeprefix("error: ")), level=logging.ERROR, exit_code=int(code))
    else:
        echo(line, err=True)
    sys.exit(code)
