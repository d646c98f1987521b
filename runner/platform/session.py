"""One aiohttp session and a client per owner account, for a command that talks to the platform.

Commands (run, revoke, extend, plan, track) open it the same way: the job's base URL, timeout,
concurrency, CA bundle, rate, retry codes and Retry-After cap, and the run's statistics; each
account (the default credentials, and the job's [accounts]) gets its own tokens and rate gate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.batches.jobspec import JobSpec
    from runner.models import RunStats
    from runner.platform.auth.tokens import AuthSettings, TokenSource
    from runner.platform.client import PlatformClient


#: the name of the default credentials (SHAREBATCH_TOKEN, --token-file) among a job's accounts
DEFAULT_ACCOUNT = ""


@asynccontextmanager
async def account_clients(
    spec: JobSpec, auth: AuthSettings | None, stats: RunStats, *, with_accounts: bool = True
) -> AsyncIterator[dict[str, PlatformClient]]:
    """A client per owner account of the job (DEFAULT_ACCOUNT for the default credentials, when there are
    some), each with its own tokens, base URL and rate gate, on one aiohttp session."""
    import aiohttp  # here, not at the top: `validate` and `status` never send

    from runner.errors import UsageError
    from runner.platform.auth.tokens import AuthSettings, build_token_source
    from runner.platform.budget import open_gate
    from runner.platform.client import PlatformClient
    from runner.platform.tls import tls_context

    wanted = [(DEFAULT_ACCOUNT, auth, spec.base_url, spec.rate)] if auth is not None else []
    if with_accounts:
        wanted += [(name, AuthSettings(token_file=account.token_file), account.base_url or spec.base_url,
                    account.rate or spec.rate) for name, account in spec.accounts.items()]
    in_flight = spec.concurrency + sum(account.concurrency or spec.concurrency for account in spec.accounts.values())
    timeout = aiohttp.ClientTimeout(total=spec.timeout_s)
    # Without --ca-bundle, aiohttp's own verifying context (made at its import, the same defaults) saves
    # building a second one: 17 ms of every run.
    verify = tls_context(spec.ca_bundle) if spec.ca_bundle is not None else True
    connector = aiohttp.TCPConnector(limit=max(100, 2 * in_flight), ssl=verify)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session, AsyncExitStack() as stack:
        clients: dict[str, PlatformClient] = {}
        for name, settings, url, rate in wanted:
            base_url = url or spec.require_base_url()
            try:
                tokens = build_token_source(settings, session, base_url)
            except UsageError as exc:  # which of the job's accounts, not only which file
                if name == DEFAULT_ACCOUNT:
                    raise
                raise UsageError(f'account "{name}": {exc}') from None
            key = await _budget_key(spec, tokens, base_url)
            gate = await stack.enter_async_context(open_gate(spec.limiter, rate, key))
            clients[name] = PlatformClient(session, base_url, tokens, retry_codes=spec.retry_codes, gate=gate,
                                           stats=stats, max_retry_after_s=spec.max_retry_after_s)
        yield clients


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
