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
    """Now as ISO 8601 UTC with a `Z` (`2026-01-02T03:04:05.678Z`), as reports and the journal show it."""
    return datetime.now(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
