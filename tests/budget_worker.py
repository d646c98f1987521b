"""A stand-in process spending one account's shared budget.

`python -m tests.budget_worker LIMITER KEY RATE N OUT GO`:

It waits for the file GO to exist (so every worker starts together), takes N releases from the
gate `--limiter LIMITER` would give, and writes each release's wall-clock time to OUT, one a line.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from runner.platform.budget import open_gate


def _wait_for_start(go: Path) -> None:
    deadline = time.monotonic() + 30
    while not go.exists():  # poll with a deadline: the test creates it once every worker is up
        if time.monotonic() > deadline:
            raise SystemExit("the start file never came")
        time.sleep(0.005)


async def _spend(limiter: str, key: str, rate: float, count: int) -> list[float]:
    times = []
    async with open_gate(limiter, rate, key) as gate:
        for _ in range(count):
            await gate.acquire()
            times.append(time.time())
    return times


if __name__ == "__main__":
    limiter, key, rate, count, out, go = sys.argv[1:7]
    _wait_for_start(Path(go))
    released = asyncio.run(_spend(limiter, key, float(rate), int(count)))
    Path(out).write_text("".join(f"{t!r}\n" for t in released), encoding="utf-8")
