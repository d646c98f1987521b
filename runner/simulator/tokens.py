"""JWT-like access and refresh tokens, shaped like the platform's (docs/platform-api.md §2.2).

The platform signs RS256; we sign HS256 with a per-simulator random secret that never leaves
this module's object (it is not printed, logged or exposed). Claims match the platform's:
iss "enduser", aud "Audience", sub, uid, type (AccessToken | RefreshToken), jti, iat,
nbf (= iat - 120 s), exp. The strings handed out start with "Bearer ", as the platform's do.

Expiry is kept internally as a float (the `exp` claim is whole seconds), so fractional lifetimes
such as 3 s in tests behave exactly. Refresh tokens rotate: using one kills it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.simulator.codes import PlatformCodeError

BEARER = "Bearer "
ACCESS = "AccessToken"
REFRESH = "RefreshToken"
_HEADER = {"alg": "HS256", "typ": "JWT"}


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What login and refresh return; `*_expires_at` are epoch seconds with sub-second precision."""

    access_token: str
    access_expires_at: float
    refresh_token: str
    refresh_expires_at: float

    def as_platform_data(self) -> dict[str, Any]:
        """The `data` object of a login/refresh answer: expirationTime is whole Unix seconds."""
        return {
            "accessToken": {"token": self.access_token, "expirationTime": int(self.access_expires_at)},
            "refreshToken": {"token": self.refresh_token, "expirationTime": int(self.refresh_expires_at)},
        }


@dataclass(slots=True)
class _Live:
    uid: str
    kind: str
    expires_at: float


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def strip_bearer(value: str) -> str:
    """Remove one leading "Bearer " (the platform's own prefix); a doubled prefix stays invalid."""
    return value[len(BEARER) :] if value.startswith(BEARER) else value


class TokenIssuer:
    """Issues, verifies and rotates tokens; `clock` is injectable so tests can expire tokens."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        access_ttl_s: float,
        refresh_ttl_s: float,
    ) -> None:
        self.clock = clock
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self._secret = secrets.token_bytes(32)
        self._live: dict[str, _Live] = {}  # jti -> live token; revoked/rotated ones are removed
        self._claims_cache: dict[str, dict[str, Any]] = {}  # token string -> verified claims
        self._serial = 0

    def __repr__(self) -> str:
        return f"TokenIssuer(live={len(self._live)})"  # never the secret

    def issue_pair(self, uid: str) -> TokenPair:
        """A fresh access + refresh pair for `uid`."""
        now = self.clock()
        access, access_exp = self._issue(uid, ACCESS, now, self.access_ttl_s)
        refresh, refresh_exp = self._issue(uid, REFRESH, now, self.refresh_ttl_s)
        return TokenPair(access, access_exp, refresh, refresh_exp)

    def verify_access(self, header_value: str | None) -> str:
        """The uid behind an Authorization header; 5106 when absent, 5032 when not a live access token."""
        if header_value is None or not header_value.strip():
            raise PlatformCodeError(5106)
        return self._check(header_value, ACCESS).uid

    def refresh(self, refresh_value: str | None) -> TokenPair:
        """Rotate: the refresh token used dies and a new pair is issued; 5032 for a dead one."""
        if refresh_value is None or not refresh_value.strip():
            raise PlatformCodeError(5106)
        live = self._check(refresh_value, REFRESH)
        claims = self._decode(strip_bearer(refresh_value))
        del self._live[claims["jti"]]
        return self.issue_pair(live.uid)

    def decode_claims(self, token: str) -> dict[str, Any]:
        """The verified claims of a token (test aid); raises 5032 if the signature is wrong."""
        return dict(self._decode(strip_bearer(token)))

    def _issue(self, uid: str, kind: str, now: float, ttl_s: float) -> tuple[str, float]:
        self._serial += 1
        jti = f"{self._serial:x}-{secrets.token_hex(6)}"
        expires_at = now + ttl_s
        iat = int(now)
        claims = {
            "iss": "enduser",
            "aud": "Audience",
            "sub": uid,
            "uid": uid,
            "type": kind,
            "jti": jti,
            "iat": iat,
            "nbf": iat - 120,
            "exp": int(expires_at),
        }
        signing_input = _b64(json.dumps(_HEADER, separators=(",", ":")).encode()) + "." + _b64(
            json.dumps(claims, separators=(",", ":")).encode()
        )
        signature = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
        self._live[jti] = _Live(uid, kind, expires_at)
        return BEARER + signing_input + "." + _b64(signature), expires_at

    def _check(self, value: str, kind: str) -> _Live:
        claims = self._decode(strip_bearer(value.strip()))
        live = self._live.get(claims.get("jti", ""))
        if live is None or live.kind != kind:
            raise PlatformCodeError(5032)
        if self.clock() >= live.expires_at:
            del self._live[claims["jti"]]
            raise PlatformCodeError(5032)
        return live

    def _decode(self, token: str) -> dict[str, Any]:
        cached = self._claims_cache.get(token)
        if cached is not None:
            return cached
        parts = token.split(".")
        if len(parts) != 3:
            raise PlatformCodeError(5032)
        expected = hmac.new(self._secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            signature_ok = hmac.compare_digest(expected, _unb64(parts[2]))
            claims = json.loads(_unb64(parts[1])) if signature_ok else None
        except (binascii.Error, ValueError):
            raise PlatformCodeError(5032) from None
        if not isinstance(claims, dict):
            raise PlatformCodeError(5032)
        self._claims_cache[token] = claims
        return claims
