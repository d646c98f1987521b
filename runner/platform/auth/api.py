"""The platform's auth endpoints: password logins and token refresh (docs/platform-api.md §2.4, §3).

A login is never retried here: wrong passwords count down to a 20-minute account freeze, so every
refusal becomes one clear LoginError and the operator decides.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from runner.errors import ApiError, AuthEndpointError, LoginError, RefreshError, UsageError
from runner.platform.auth.crypto import email_login_signature, encrypt_password, new_random, phone_login_signature
from runner.platform.auth.pair import TokenPair
from runner.platform.http import exchange
from runner.redact import Secret, redact

__all__ = ["Credentials", "TokenPair", "password_login", "refresh_tokens"]

EMAIL_LOGIN_PATH = "/v2/enduser/enduserapi/emailPwdLogin"
PHONE_LOGIN_PATH = "/v2/enduser/enduserapi/phonePwdLogin"
REFRESH_PATH = "/v2/enduser/enduserapi/refreshToken"


@dataclass(frozen=True)
class Credentials:
    """What a password login needs; the password and the domain secret stay wrapped."""

    user_domain: str
    password: Secret
    domain_secret: Secret
    email: str | None = None
    phone: str | None = None
    international_code: str = "86"


def _login_message(code: int, msg: str) -> str:
    attempts_left = {**{5583 + i: 1 + i for i in range(4)}, **{5579 + i: 1 + i for i in range(4)}}
    if code in attempts_left:
        left = attempts_left[code]
        return (f"wrong account or password ({left} attempt{'s' if left > 1 else ''} left before the account "
                "is frozen for 20 minutes); check SHAREBATCH_PASSWORD; sharebatch will not retry by itself")
    messages = {
        5028: "wrong password; check SHAREBATCH_PASSWORD (each wrong try counts towards a 20-minute freeze)",
        5147: "the account is frozen for 20 minutes after too many wrong passwords; wait, then log in again",
        5148: "this IP address is frozen for 20 minutes after too many failed logins; wait, then try again",
        5325: "the account is blocked for 24 hours for abnormal behaviour; contact the platform before retrying",
        5420: "signature verification failed: check SHAREBATCH_USER_DOMAIN_SECRET and that the user domain "
              "belongs to this data center (--region / --base-url)",
        5550: "signature missing (a sharebatch bug; please report it)",
        5353: "the platform could not decrypt the password (a sharebatch bug; please report it)",
        5015: "the user domain does not exist in this data center: check --user-domain and --region",
        5013: "the user domain is malformed: check --user-domain",
        5104: "the user domain is disabled",
        5031: "no account is registered with this email in this user domain and data center",
        5004: "no account is registered with this phone number in this user domain and data center",
        5040: "the email address is malformed",
        5019: "the phone number is malformed",
        5056: "the password format is invalid (6 to 20 letters, digits or symbols)",
        6084: "this account belongs to another data center: use the other --region",
    }
    return messages.get(code, f"login refused with code {code}" + (f": {redact(msg)}" if msg else ""))


def _token_pair(data: Any, now: float) -> TokenPair:
    try:
        access, refresh = data["accessToken"], data["refreshToken"]
        return TokenPair(
            access_token=Secret(str(access["token"])),
            access_expires_at=float(access["expirationTime"]),
            refresh_token=Secret(str(refresh["token"])),
            refresh_expires_at=float(refresh["expirationTime"]),
            obtained_at=now,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RefreshError("the platform's token answer is not the documented token pair") from exc


async def _call(
    session: aiohttp.ClientSession, method: str, base_url: str, path: str, params: dict[str, str]
) -> tuple[int, str, Any]:
    """(code, msg, data) of one auth call; no answer, or not the envelope, is an AuthEndpointError."""
    try:
        answer = await exchange(session, method, base_url + path, params=params, base_url=base_url,
                                applies_change=False)
    except ApiError as exc:
        # Not chained: the aiohttp error underneath may hold the request URL, whose query carries
        # the encrypted password and signature, or the refresh token.
        raise AuthEndpointError(f"cannot reach the platform's auth endpoint: {exc}") from None
    status = answer.status
    try:
        envelope = json.loads(answer.body)
        return int(envelope["code"]), str(envelope.get("msg") or ""), envelope.get("data")
    except (ValueError, KeyError, TypeError) as exc:
        raise AuthEndpointError(f"the auth endpoint answered HTTP {status} without the platform's JSON envelope: "
                                "is the base URL right?") from exc


async def password_login(
    session: aiohttp.ClientSession, base_url: str, credentials: Credentials, *, clock: Callable[[], float] = time.time
) -> TokenPair:
    """Email or phone password login, encrypted and signed as docs/platform-api.md §3.1 specifies."""
    random_str = new_random()
    secret = credentials.domain_secret.reveal()
    encrypted = encrypt_password(credentials.password.reveal(), random_str)
    params = {"pwd": encrypted, "random": random_str, "userDomain": credentials.user_domain}
    if credentials.email:
        path = EMAIL_LOGIN_PATH
        params["email"] = credentials.email
        params["signature"] = email_login_signature(credentials.email, encrypted, random_str, secret)
    elif credentials.phone:
        path = PHONE_LOGIN_PATH
        params["phone"] = credentials.phone
        params["internationalCode"] = credentials.international_code
        params["signature"] = phone_login_signature(
            credentials.international_code, credentials.phone, encrypted, random_str, secret
        )
    else:
        raise UsageError("give an email or a phone number to log in with")
    code, msg, data = await _call(session, "POST", base_url, path, params)
    if code != 200:
        raise LoginError(_login_message(code, msg), code)
    return _token_pair(data, clock())


async def refresh_tokens(
    session: aiohttp.ClientSession, base_url: str, refresh_token: Secret, *, clock: Callable[[], float] = time.time
) -> TokenPair:
    """Trade a refresh token for a new pair; the platform may rotate both, so keep both.

    `clock` (epoch seconds) dates the pair, so its lifetime is measured on the caller's clock.
    """
    code, _msg, data = await _call(session, "PUT", base_url, REFRESH_PATH, {"refreshToken": refresh_token.reveal()})
    if code != 200:
        raise RefreshError(f"the refresh token was refused (code {code}): it has expired or was already used")
    return _token_pair(data, clock())
