"""Exceptions and the process exit codes (the platform's code table is `runner/platform/codes.py`).

```
RunnerError             base; str(exc) is one operator-facing line, never holding a secret
├── UsageError          job file or options unusable; nothing was sent
│   └── InputFileError      the input file itself is unusable; `.path` names it
├── NothingToDoError    the selection holds nothing to do (exit 1)
├── LockedError         another run holds the out dir's lock
├── LoginError          the platform refused a password login; never retried
├── RefreshError        the refresh token was refused, or the refresh call failed
├── AuthEndpointError   an auth call got no answer, or not the platform's JSON envelope
├── InputValueError     a value in the input cannot be used (becomes a row's or the file's problem)
│   ├── ColumnError         the headers do not give the columns needed
│   ├── RecipientError      a recipient cell cannot be sent
│   └── ExpiryError         an expiry cell is unreadable or not in the future
└── ApiError            raised by client.py once (HTTP status, body code) is classified
    ├── TransientApiError   timeouts, connection errors, 429/5xx: what the retry policy retries
    │   └── UnreachableError    no connection was made (DNS, refused, TLS): nothing left, the run stops
    ├── AuthExpiredError    token rejected (HTTP 401, 5032, 5106)
    ├── RowRejectedError    a business code for this row: recorded as failed, not retried
    └── FatalApiError       lockouts, a wrong base URL, a non-platform reply: stop the run
```
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Process exit codes; README's table lists the same values."""

    OK = 0  #: every unique row succeeded (or, for validate, no row is invalid)
    ROWS_FAILED = 1  #: some rows failed or were invalid
    USAGE = 2  #: usage, config or input file error; nothing was sent
    ABORTED = 3  #: stopped early; rows left not_attempted
    LOCKED = 4  #: another run holds the out dir's lock
    REFUSED = 5  #: `login`: the platform refused the login (never retried)
    INTERRUPTED = 130  #: Ctrl-C
    TERMINATED = 143  #: SIGTERM


class RunnerError(Exception):
    """Base of every error sharebatch raises on purpose; str() is one line for the operator."""


class UsageError(RunnerError):
    """The job file, an option or the input file cannot be used; nothing was sent."""


UNSUPPORTED_PLATFORM = ("sharebatch runs on Linux and macOS, not on Windows (it needs POSIX file locks and signals): "
                        "run it on a Linux or macOS machine, or in WSL")


def refuse_unsupported_platform() -> None:
    """Windows: one UsageError up front (the CLI's and runner.api's), not an ImportError of fcntl mid-run."""
    import sys

    if sys.platform == "win32":
        raise UsageError(UNSUPPORTED_PLATFORM)


class InputFileError(UsageError):
    """The input file itself cannot be used (missing, empty, binary, a column missing); nothing was sent."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class JournalUnusableError(UsageError):
    """The journal file cannot be opened: damaged, not a journal, read-only or on a full disk."""

    def __init__(self, path: Path, reason: str) -> None:
        if "not a database" in reason or "malformed" in reason:
            hint = "it is damaged: `--fresh` moves it to history/ (kept as it is) and starts a new journal"
        elif "full" in reason:
            hint = "the disk is full: free some space, then run the same command again"
        elif "readonly" in reason or "read-only" in reason or "unable to open" in reason:
            hint = "it cannot be written here: check the folder's permissions, or choose another --out"
        else:
            hint = "move it aside or run with --fresh"
        super().__init__(f"{path}: the journal cannot be used ({reason}); {hint}")


class BodyTooLargeError(RunnerError):
    """The answer is longer than the limit; what was read is dropped."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes; sharebatch read no further")
        self.limit = limit


class NothingToDoError(RunnerError):
    """The command selected nothing to do (a revoke whose rows hold no share); nothing was touched; exit 1."""


class LockedError(RunnerError):
    """Another run holds the out dir's lock; nothing was touched."""


class LoginError(RunnerError):
    """The platform refused a login; the message says what to check. Never retried automatically."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class RefreshError(RunnerError):
    """The refresh token was refused or the refresh call failed."""


class AuthEndpointError(RunnerError):
    """An auth call got no answer, or an answer that is not the platform's JSON envelope."""


class InputValueError(RunnerError, ValueError):
    """A value read from the input cannot be used; the reader turns it into a row or file problem."""


class ColumnError(InputValueError):
    """The headers cannot be matched to the canonical columns; the message is one line."""


class MissingColumnError(ColumnError):
    """A required column is not among the headers (perhaps the header is on another row)."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


class XlsxError(InputValueError):
    """The workbook cannot be read as XLSX; the message says why (the loader adds the file name)."""


class NoSuchSheetError(XlsxError):
    """The sheet asked for is not in the workbook; the loader lists the sheets that are."""

    def __init__(self, sheet: str, names: list[str]) -> None:
        super().__init__(sheet)
        self.sheet = sheet
        self.names = names


class RecipientError(InputValueError):
    """The recipient cell cannot be sent; the message names the value and what is wrong."""


class ExpiryError(InputValueError):
    """An expiry cell (or the default expiry) is unreadable or not in the future."""


class ApiError(RunnerError):
    """A classified answer (or lack of one) from the platform."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        may_have_applied: bool = False,
        retry_after_s: float | None = None,
        attempt_limit: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        #: the request may have reached the platform and taken effect (timeout, lost reply, 5xx)
        self.may_have_applied = may_have_applied
        self.retry_after_s = retry_after_s
        #: a lower cap on attempts than the job's (codes that are "transient once, then final")
        self.attempt_limit = attempt_limit
        #: raised by a look-up in the share list (reconciliation), not by the row's own request
        self.during_lookup = False


class TransientApiError(ApiError):
    """Worth another attempt: timeouts, connection errors, 429, 5xx, transient codes."""


class UnreachableError(TransientApiError):
    """No connection to the platform's host could be made (DNS, refused, TLS): the row was not attempted."""


class AuthExpiredError(ApiError):
    """The platform rejected the token."""


class RowRejectedError(ApiError):
    """A business code that is final for this row."""


class FatalApiError(ApiError):
    """An answer that means the whole run is misconfigured or must halt."""


class StoppedWhileSettlingError(RunnerError):
    """The run was asked to stop while a row waited for an earlier attempt to settle (engine/settle.py)."""
