"""One aiohttp session, token source and client for a command that talks to the platform.

Commands (run, revoke, extend, plan, track) open it the same way: the job's base URL, timeout,
concurrency, CA bundle, rate, retry codes and Retry-After cap, and the run's statistics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.batches.jobspec import JobSpec
    from runner.models import RunStats
    from runner.platform.auth.tokens import AuthSettings, TokenSource
    from runner.platform.client import PlatformClient


@asynccontextmanager
async def platform_client(spec: JobSpec, auth: AuthSettings, stats: RunStats) -> AsyncIterator[PlatformClient]:
    """One aiohttp session, token source and client for a command, under the job's rate, timeout and TLS."""
    import aiohttp  # here, not at the top: `validate` and `status` never send

    from runner.platform.auth.tokens import build_token_source
    from runner.platform.budget import open_gate
    from runner.platform.client import PlatformClient
    from runner.platform.tls import tls_context

    base_url = spec.require_base_url()
    timeout = aiohttp.ClientTimeout(total=spec.timeout_s)
    connector = aiohttp.TCPConnector(limit=max(100, 2 * spec.concurrency), ssl=tls_context(spec.ca_bundle))
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        tokens = build_token_source(auth, session, base_url)
        key = await _budget_key(spec, tokens, base_url)
        async with open_gate(spec.limiter, spec.rate, key) as gate:
            yield PlatformClient(
                session, base_url, tokens, retry_codes=spec.retry_codes, gate=gate, stats=stats,
                max_retry_after_s=spec.max_retry_after_s,
            )


async def _budget_key(spec: JobSpec, tokens: TokenSource, base_url: str) -> str:
    """The account budget this client spends: the token's uid in its data center (--limiter)."""
    from runner.errors import RunnerError
    from runner.platform.auth.claims import token_uid
    from runner.platform.budget import LIMITER_OFF, budget_key

    if spec.limiter == LIMITER_OFF:
        return ""
    try:
        header = await tokens.header()
    except RunnerError:  # a token that cannot be renewed: the first request meets the same error and says so
        return budget_key(base_url, None)
    return budget_key(base_url, token_uid(header.reveal()))
