"""Which failed rows a resumed run sends again: only those whose failure may pass by sending again.

A row that exhausted its retries (timeouts, 5xx, a transient code), whose code the job lists in
`retry_codes`, or that a run-stopping answer (a lockout, a wrong base URL) failed, is sent again.
A row the platform refused for a reason of its own (a recipient who does not exist, a cover mark
it will not take) fails the same way every time: it stays failed, in failed.csv, until the sheet
is fixed (a changed row is a new request) or `--retry-failed` asks for it.
"""

from __future__ import annotations

from collections.abc import Callable

from runner.platform.codes import ErrorClass, classify_code

#: how the engine begins the message of a row that ran out of attempts
GAVE_UP = "gave up after "


def failure_filter(retry_codes: frozenset[int], retry_failed: bool) -> Callable[[int | None, str], bool] | None:
    """The journal's `resend(code, message)` for a resumed run; None re-sends every failed row."""
    if retry_failed:
        return None

    def may_pass(code: int | None, message: str) -> bool:
        if code is None or message.startswith(GAVE_UP) or code in retry_codes:
            return True
        return classify_code(code) is not ErrorClass.ROW

    return may_pass
