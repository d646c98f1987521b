"""The moment a request that changes something leaves: the engine's hook, called by the platform layer.

Only a request written to the connection can be in doubt. A row waiting in the rate gate or a
Retry-After pause has sent nothing, so the engine must not mark it in flight (and must not call
it `unknown` if the run stops) until the request really leaves. The engine sets a hook for the
row it is performing (a context variable, so each row's task sees its own); the platform client
awaits it right after the gate lets the request through and before it is written. The hook
returns once the row's in-flight mark is on disk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token

DepartureHook = Callable[[], Awaitable[None]]

_hook: ContextVar[DepartureHook | None] = ContextVar("sharebatch_departure_hook", default=None)


def set_departure_hook(hook: DepartureHook | None) -> Token[DepartureHook | None]:
    """Install `hook` for the current task; returns a token for `reset_departure_hook`."""
    return _hook.set(hook)


def reset_departure_hook(token: Token[DepartureHook | None]) -> None:
    _hook.reset(token)


async def departing() -> None:
    """Called by the platform layer just before a request that changes something is written."""
    hook = _hook.get()
    if hook is not None:
        await hook()
