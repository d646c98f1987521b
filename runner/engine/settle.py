"""Waiting until an attempt in doubt can no longer land, so that a look-up's "not there" is final.

A share request whose answer was lost may still be applied later: a proxy or a busy platform
can hold it past the client's timeout (issue 19 saw timeout + 1 to 30 s). A look-up made before
then can find nothing and the re-send then makes a second share. So a row in doubt is looked up
only once `settle_s` have passed since its latest doubtful attempt began; `settle_s` is longer
than the request timeout plus a margin (the job key `settle_s`). Until then the row waits without
holding one of the run's concurrency slots: other devices' rows keep going, while rows of the
same device wait behind it (their order matters under cover mark 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from runner.errors import StoppedWhileSettlingError


def settles_at_ms(attempt_started_ms: int | None, settle_s: float) -> int | None:
    """When an attempt that began at `attempt_started_ms` (epoch ms) can no longer land; None: nothing to wait for."""
    if attempt_started_ms is None or settle_s <= 0:
        return None
    return attempt_started_ms + int(settle_s * 1000)


async def wait_until(deadline_ms: int, stop: asyncio.Event, *, clock_ms: Callable[[], int] | None = None) -> None:
    """Return at `deadline_ms` (epoch ms); raise StoppedWhileSettlingError as soon as `stop` is set."""
    now = clock_ms or (lambda: int(time.time() * 1000))
    while (left_ms := deadline_ms - now()) > 0:
        if stop.is_set():
            raise StoppedWhileSettlingError
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), left_ms / 1000)
