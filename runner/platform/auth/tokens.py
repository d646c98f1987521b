"""Where the Authorization header comes from, and how it stays valid through a long batch.

The client asks a `TokenSource` for the header before each request, and tells it when the
platform rejected one. `RefreshingTokens` refreshes shortly before the access token expires and
after a rejection; one refresh serves every concurrent request (a lock, and a check that nobody
refreshed while we waited). When the refresh token is dead it logs in again if credentials are
configured; otherwise it raises AuthExpiredError with what the operator must do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp

from runner.errors import AuthExpiredError, RunnerError, UsageError
from runner.platform.auth.api import Credentials, TokenPair, password_login, refresh_tokens
from runner.redact import Secret, bearer_header, has_line_break

log = logging.getLogger(__name__)

# Names of environment variables, not their values (bandit B105 reads "TOKEN" as a hard-coded password).
TOKEN_ENV = "SHAREBATCH_TOKEN"  # nosec B105
REFRESH_TOKEN_ENV = "SHAREBATCH_REFRESH_TOKEN"  # nosec B105
PASSWORD_ENV = "SHAREBATCH_PASSWORD"  # nosec B105
DOMAIN_SECRET_ENV = "SHAREBATCH_USER_DOMAIN_SECRET"  # nosec B105
REFRESH_MARGIN_S = 600.0  # refresh when less than this much access-token life remains ...
REFRESH_MARGIN_FRACTION = 0.25  # ... or less than this share of its lifetime, for short-lived tokens
RENEW_HINT = (
    "run `sharebatch login --token-file PATH ...` (or set a fresh SHAREBATCH_TOKEN), then run the same "
    "command again: rows not sent yet are kept for that run"
)


class TokenSource(Protocol):
    async def header(self) -> Secret:
        """The current `Authorization` value."""

    async def after_rejection(self, rejected: Secret) -> None:
        """The platform refused `rejected`: make a newer token current, or raise AuthExpiredError."""


class StaticToken:
    """One access token for the whole run: a rejection cannot be repaired."""

    def __init__(self, token: str) -> None:
        self._header = Secret(bearer_header(token))

    async def header(self) -> Secret:
        return self._header

    async def after_rejection(self, rejected: Secret) -> None:
        raise AuthExpiredError(f"{why_rejected(rejected.reveal())}; {RENEW_HINT}")


def why_rejected(token: str, now_s: float | None = None) -> str:
    """Expired (with the time it expired, from its own claim) or refused for another reason: different fixes."""
    from datetime import UTC, datetime

    from runner.platform.auth.claims import token_claims

    expiry = token_claims(token).get("exp")
    if not isinstance(expiry, int | float) or isinstance(expiry, bool):
        return "the platform rejected the access token"
    when = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if expiry <= (time.time() if now_s is None else now_s):
        return f"the access token expired at {when}"
    return (f"the platform rejected the access token although it is valid until {when} (a token of another "
            "account, region or environment, or one that was revoked)")


class RefreshingTokens:
    """Keeps an access/refresh pair fresh; see the module docstring."""

    def __init__(
        self,
        pair: TokenPair,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        on_renewed: Callable[[TokenPair], object] | None = None,
        credentials: Credentials | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pair = pair
        self._session = session
        self._base_url = base_url
        self._on_renewed = on_renewed
        self._credentials = credentials
        self._clock = clock
        self._lock = asyncio.Lock()

    async def header(self) -> Secret:
        if self._expiring():
            await self._renew(self._pair.access_token)
        return Secret(bearer_header(self._pair.access_token.reveal()))

    async def after_rejection(self, rejected: Secret) -> None:
        await self._renew(rejected)

    def _expiring(self) -> bool:
        margin = min(REFRESH_MARGIN_S, REFRESH_MARGIN_FRACTION * self._pair.access_lifetime_s)
        return self._clock() >= self._pair.access_expires_at - margin

    async def _renew(self, stale: Secret) -> None:
        async with self._lock:
            current = Secret(bearer_header(self._pair.access_token.reveal()))
            if current != Secret(bearer_header(stale.reveal())) and not self._expiring():
                return  # another request renewed the pair while this one waited
            self._pair = await self._new_pair()
            if self._on_renewed is not None:
                self._on_renewed(self._pair)

    async def _new_pair(self) -> TokenPair:
        refresh_error: str
        if self._clock() < self._pair.refresh_expires_at:
            try:
                pair = await refresh_tokens(self._session, self._base_url, self._pair.refresh_token, clock=self._clock)
            except RunnerError as exc:
                refresh_error = str(exc)
            else:
                log.info("access token refreshed")
                return pair
        else:
            refresh_error = "the refresh token has expired"
        if self._credentials is None:
            raise AuthExpiredError(f"{refresh_error}; {RENEW_HINT}")
        try:
            pair = await password_login(self._session, self._base_url, self._credentials, clock=self._clock)
        except RunnerError as exc:
            raise AuthExpiredError(f"{refresh_error}, and logging in again failed: {exc}") from None
        log.info("logged in again after the refresh token was refused")
        return pair


@dataclass(frozen=True)
class AuthSettings:
    """Where this run's tokens come from (first match wins: token file, then environment)."""

    token_file: Path | None = None
    access_token: Secret | None = None
    refresh_token: Secret | None = None
    credentials: Credentials | None = None


def auth_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    token_file: Path | None = None,
    login: dict[str, str] | None = None,
) -> AuthSettings:
    """Read tokens and login secrets from the environment; a UsageError when nothing usable is there."""
    env = environ if environ is not None else os.environ
    credentials = None
    if login and (login.get("email") or login.get("phone")) and env.get(PASSWORD_ENV) and env.get(DOMAIN_SECRET_ENV):
        credentials = Credentials(
            user_domain=login.get("user_domain", ""),
            password=Secret(env[PASSWORD_ENV]),
            domain_secret=Secret(env[DOMAIN_SECRET_ENV]),
            email=login.get("email"),
            phone=login.get("phone"),
            international_code=login.get("international_code", "86"),
        )
    if token_file is not None:
        return AuthSettings(token_file=token_file, credentials=credentials)
    access = env.get(TOKEN_ENV, "").strip()
    if not access or access.lower() == "bearer":
        raise UsageError(
            f"no access token: set {TOKEN_ENV} (with or without its 'Bearer ' prefix), or give --token-file "
            "after `sharebatch login`; nothing was sent"
        )
    refresh = env.get(REFRESH_TOKEN_ENV, "").strip()
    for name, value in ((TOKEN_ENV, access), (REFRESH_TOKEN_ENV, refresh)):
        if has_line_break(value):
            raise UsageError(f"{name} contains a line break or control character (copied with the line end?): "
                             "set it to the token alone; nothing was sent")
    return AuthSettings(access_token=Secret(access), refresh_token=Secret(refresh) if refresh else None,
                        credentials=credentials)


def build_token_source(settings: AuthSettings, session: aiohttp.ClientSession, base_url: str) -> TokenSource:
    """The token source for one run, bound to its HTTP session."""
    if settings.token_file is not None:
        from runner.platform.auth.tokenfile import load_tokens, save_tokens_somewhere

        path = settings.token_file
        pair, file_base_url = load_tokens(path)
        if file_base_url and file_base_url.rstrip("/") != base_url.rstrip("/"):
            raise UsageError(f"{path}: these tokens are for {file_base_url}, not {base_url}; log in to that "
                             "data center with `sharebatch login --token-file ...`")
        return RefreshingTokens(pair, session=session, base_url=base_url, credentials=settings.credentials,
                                on_renewed=lambda new: save_tokens_somewhere(path, new, base_url=base_url))
    if settings.access_token is None:  # auth_from_env guarantees one; an explicit check survives python -O
        raise UsageError(f"no access token: set {TOKEN_ENV} or give --token-file; nothing was sent")
    if settings.refresh_token is None:
        return StaticToken(settings.access_token.reveal())
    now = time.time()
    # Lifetimes from the environment are unknown: trust them until the platform says otherwise.
    pair = TokenPair(settings.access_token, float("inf"), settings.refresh_token, float("inf"), now)
    return RefreshingTokens(pair, session=session, base_url=base_url, credentials=settings.credentials)

