"""The run's events: structured log records, and the moment a request that changes something leaves.

Log events are ordinary records on the `runner.events` logger, fields in `extra`. Any layer may log
one; how it is shown (text or JSON, masked) is runner.outputs.logsetup's business, so the engine
logs events without importing the outputs layer.

Departure: only a request written to the connection can be in doubt. A row waiting in the rate
gate or a Retry-After pause has sent nothing, so the engine must not mark it in flight (and must
not call it `unknown` if the run stops) until the request really leaves. The engine sets a hook for
the row it is performing (a context variable, so each row's task sees its own); the platform client
awaits `departing()` right after the gate lets the request through and before it is written. The
hook returns once the row's in-flight mark is on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any

#: machine-only events; hidden from the text format unless --debug
EVENTS = logging.getLogger("runner.events")


def log_event(event: str, message: str, /, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log a machine-only event; `message` is the line a person reads with --debug."""
    EVENTS.log(level, message, extra={"event": event, **fields})


DepartureHook = Callable[[], Awaitable[None]]

_departure_hook: ContextVar[DepartureHook | None] = ContextVar("sharebatch_departure_hook", default=None)


def set_departure_hook(hook: DepartureHook | None) -> Token[DepartureHook | None]:
    """Install `hook` for the current task; returns a token for `reset_departure_hook`."""
    return _departure_hook.set(hook)


def reset_departure_hook(token: Token[DepartureHook | None]) -> None:
    _departure_hook.reset(token)


async def departing() -> None:
    """Called by the platform layer just before a request that changes something is written."""
    hook = _departure_hook.get()
    if hook is not None:
        await hook()
