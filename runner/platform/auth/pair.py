"""A token pair, apart from the HTTP code that obtains one: the token file and preflight read it without aiohttp."""

from __future__ import annotations

from dataclasses import dataclass

from runner.redact import Secret


@dataclass(frozen=True)
class TokenPair:
    """Tokens as the platform returns them ("Bearer ..."), with absolute expiries in Unix seconds."""

    access_token: Secret
    access_expires_at: float
    refresh_token: Secret
    refresh_expires_at: float
    obtained_at: float

    @property
    def access_lifetime_s(self) -> float:
        return max(self.access_expires_at - self.obtained_at, 0.0)
