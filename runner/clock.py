"""The wall clock in the two forms the runner records: epoch milliseconds and ISO 8601 UTC.

One module so the engine, the batch run and the commands agree on the format, and a test can
see every place that reads the clock.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal


def now_ms() -> int:
    """Now, in epoch milliseconds (the unit of expiries and the journal's anchor)."""
    return int(time.time() * 1000)


def utc_now_iso(timespec: Literal["seconds", "milliseconds"] = "milliseconds") -> str:
    """Now as ISO 8601 UTC with a `Z` (`2026-01-02T03:04:05.678Z`), as reports and the journal show it.

    Every finished row is stamped, so the date and time are formatted once per second (`_SecondText`).
    """
    epoch_ms = int(time.time() * 1000)
    second = _SECOND.text(epoch_ms // 1000)
    return f"{second}Z" if timespec == "seconds" else f"{second}.{epoch_ms % 1000:03d}Z"


class _SecondText:
    """The last whole second's `YYYY-MM-DDTHH:MM:SS`, kept until the clock moves on."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def text(self, second: int) -> str:
        if second != self._second:
            self._second, self._text = second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return self._text


_SECOND = _SecondText()
