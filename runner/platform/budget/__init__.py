"""One account's request budget, shared by every sharebatch process that spends it (`--limiter`).

- `off`: each process paces itself (pacing.DispatchGate), as before;
- `local` (the default): the processes of this host share the budget through a small file under
  the user's state folder, with an OS file lock (localfile.py);
- `redis://HOST:PORT/DB`: processes on several hosts share it through Redis (redisstore.py).

The budget's key is the account (the uid its token names) and the platform host (region), so
two cron jobs on one account spend one budget, and the lower rate either asks for holds.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from runner.platform.pacing import DispatchGate, Gate

log = logging.getLogger(__name__)

LIMITER_OFF = "off"
LIMITER_LOCAL = "local"
UNKNOWN_ACCOUNT = "unknown-account"  # a token that names no uid: such processes share one budget, the safe side


def budget_key(base_url: str, uid: str | None) -> str:
    """`host[:port]/uid`: the account in its data center."""
    return f"{urlsplit(base_url).netloc}/{uid or UNKNOWN_ACCOUNT}"


def member_name() -> str:
    """This process among those sharing a budget (its rate counts while it asks)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@asynccontextmanager
async def open_gate(limiter: str, rate: float, key: str) -> AsyncIterator[Gate]:
    """The gate for one account under `limiter`; a UsageError (nothing sent) when its store cannot be opened."""
    if limiter == LIMITER_OFF:
        yield DispatchGate(rate)
        return
    from runner.platform.budget.gate import SharedGate

    if limiter == LIMITER_LOCAL:
        from runner.platform.auth.tokenfile import state_folder
        from runner.platform.budget.localfile import FileBudget, budget_file

        path = budget_file(state_folder(), key)
        try:
            store = FileBudget(path, member_name())
        except OSError as exc:
            # A cron job that ran yesterday must not stop because a state folder is read-only today.
            log.warning("cannot open the shared budget file %s (%s): this run paces itself alone, as with "
                        "--limiter off; make %s writable so that the runs of this host share each account's "
                        "rate", path, exc.strerror or type(exc).__name__, path.parent)
            yield DispatchGate(rate)
            return
        gate = SharedGate(store, rate)
        try:
            yield gate
        finally:
            await gate.close()
            store.close()
        return
    from runner.platform.budget.redisstore import RedisBudget, open_redis

    client, where = await open_redis(limiter)
    gate = SharedGate(RedisBudget(client, key, member_name(), where), rate)
    try:
        yield gate
    finally:
        await gate.close()
        await client.aclose()
