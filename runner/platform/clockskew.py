"""The platform's clock, read from the `Date` header of its answers.

A look-up window ("a share created since the attempt began") compares the platform's share
times with the time the attempt began. Measured on the host's clock, a host running 90 s ahead
of the platform would miss every share it looks for (issue 19, path 4). So the offset between
the two clocks is measured from every answer and the window is moved into the platform's time.
`Date` has whole seconds, so the estimate is good to about a second; the look-up keeps a
margin of a few seconds on top.
"""

from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime

log = logging.getLogger(__name__)

#: a skew beyond this is worth a warning (once per run, by runner/platform/preflight.py) and a line in `status`
SKEW_WARN_S = 5.0


class PlatformClock:
    """The latest estimate of (platform time - host time), in ms; 0 until an answer had a Date."""

    def __init__(self) -> None:
        self.offset_ms = 0
        self.measured = False
        self._warned = False
        self._last_header: str | None = None  # answers within one second share a Date: parsed once
        self._last_platform_s = 0.0

    def observe(self, date_header: str | None, host_ms: int | None = None) -> None:
        """Fold in one answer's Date (the platform's second, so its middle is the best guess)."""
        if not date_header:
            return
        if date_header == self._last_header:
            platform_s = self._last_platform_s
        else:
            try:
                platform_s = parsedate_to_datetime(date_header).timestamp()
            except (TypeError, ValueError, IndexError):
                return  # a proxy's odd header: keep the last estimate
            self._last_header, self._last_platform_s = date_header, platform_s
        now_ms = host_ms if host_ms is not None else int(time.time() * 1000)
        self.offset_ms = int(platform_s * 1000 + 500) - now_ms
        self.measured = True
        if abs(self.offset_ms) > SKEW_WARN_S * 1000 and not self._warned:
            self._warned = True  # once per run (preflight does not check a server on this host)
            log.warning(f"the platform's clock is {describe_offset(self.offset_ms)}; share-list look-ups use the "
                        "platform's time, but fix this machine's clock (NTP) if it is the one that is off",
                        extra={"event": "clock_skew", "offset_ms": self.offset_ms})

    def to_platform_ms(self, host_ms: int) -> int:
        """A host time (epoch ms) as the platform's clock showed it at that moment."""
        return host_ms + self.offset_ms


def describe_offset(offset_ms: int) -> str:
    """'93 s ahead of this machine's' / 'behind'."""
    word = "ahead of" if offset_ms > 0 else "behind"
    return f"{abs(offset_ms) / 1000:.0f} s {word} this machine's"
