"""Where the Authorization header comes from.

The client asks a `TokenSource` for the header before each request and tells it when the platform
rejected one; a source that can refresh returns True and the client replays the request once.
"""

from __future__ import annotations

import os
from typing import Protocol

from runner.errors import UsageError
from runner.secrets import Secret, bearer_header

TOKEN_ENV = "SHAREBATCH_TOKEN"


class TokenSource(Protocol):
    async def header(self) -> Secret:
        """The current `Authorization` value."""

    async def after_rejection(self, rejected: Secret) -> bool:
        """The platform refused `rejected`; True when a newer token is now available."""


class StaticToken:
    """One access token for the whole run: a rejection cannot be repaired."""

    def __init__(self, token: str) -> None:
        self._header = Secret(bearer_header(token))

    async def header(self) -> Secret:
        return self._header

    async def after_rejection(self, rejected: Secret) -> bool:
        return False


def token_from_env(environ: dict[str, str] | None = None) -> StaticToken:
    """The token in SHAREBATCH_TOKEN, or a UsageError that says how to provide one."""
    value = (environ if environ is not None else dict(os.environ)).get(TOKEN_ENV, "").strip()
    if not value or value.lower() == "bearer":
        raise UsageError(
            f"no access token: set {TOKEN_ENV} to the token from the platform's login "
            "(with or without its 'Bearer ' prefix); nothing was sent"
        )
    return StaticToken(value)
