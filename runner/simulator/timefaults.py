"""Faults of time: a share request applied late, and a platform clock that is not the client's.

- `late_apply` (a `FaultKind`): the request is held N s, N drawn from `late_apply_s` (a range),
  and only then applied, in a task of its own so that it lands even after the client gave up
  and closed the connection; the answer is written then, too late for a client that has gone.
  This is a proxy holding a request past the client's timeout and forwarding it afterwards.
- `clock_offset_s`: the simulated platform's clock runs this far ahead (negative: behind) of the
  host's. Share times (`shareTimeTs`...), expiry checks and the `Date` header of every answer
  come from that clock, as they would from a platform whose clock is not the client's.

Kept in one module so the rest of the simulator only calls `platform_clock`, `add_date_header`
and `serve_late`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from runner.simulator.app import Simulator
    from runner.simulator.config import SimulatorConfig


def platform_clock(config: SimulatorConfig) -> Callable[[], float]:
    """Epoch seconds on the simulated platform: the host's time plus the live `clock_offset_s`."""
    return lambda: time.time() + config.clock_offset_s


def add_date_header(app: web.Application, clock: Callable[[], float]) -> None:
    """Every answer's `Date` header (RFC 9110, whole seconds) in the platform's clock, not the host's."""

    async def stamp(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Date"] = formatdate(clock(), usegmt=True)

    app.on_response_prepare.append(stamp)


async def serve_late(sim: Simulator, apply: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Hold the request for a drawn delay, then apply it whether or not the client is still there."""
    low, high = sim.config.late_apply_s
    delay_s = sim.rng.uniform(low, high)

    async def later() -> web.StreamResponse | None:
        await sim.hold(delay_s)
        if sim.closing.is_set():
            return None  # the simulator is stopping: the request is never applied
        return await apply()

    task = asyncio.ensure_future(later())
    sim.late_tasks.add(task)  # kept alive (and awaited at close) even if this handler is cancelled
    task.add_done_callback(sim.late_tasks.discard)
    answer = await asyncio.shield(task)
    return answer if answer is not None else web.Response(status=503)
