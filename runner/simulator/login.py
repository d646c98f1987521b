"""Password logins (docs/platform-api.md §3.3, §3.4) as pure logic: no aiohttp, no sockets, no sleeping.

`PasswordLogins.check` takes the request's parameters (strings, as read from the query string or
a form body) and returns the uid to issue tokens for, or raises `PlatformCodeError`. Checked in
this order (email code / phone code where they differ):

1. userDomain missing 5023; email missing 5026 / phone missing 5021; pwd missing 5022;
   signature missing 5550 (blank counts as missing);
2. user domain unknown 5015;
3. signature wrong 5420: SHA-256 hex over the RAW received values and the domain secret,
   `email + pwd + random + S` / `internationalCode + phone + pwd + random + S`. An absent
   `random` or `internationalCode` is signed as "" (so a client that leaves internationalCode
   out but signs "86" is refused: always send it, §3.4);
4. pwd does not decrypt with `random` 5353;
5. email not registered 5031 / phone not registered 5004 (the phone is looked up under
   internationalCode, default "86");
6. account frozen 5147, for `FREEZE_S` after the 5th wrong password in a row;
7. wrong password: 5586, 5585, 5584, 5583 (email) / 5582, 5581, 5580, 5579 (phone) for 4..1
   attempts left; the 5th in a row answers 5147 and freezes the account.

The wrong-password count is per account, whichever channel is used; a correct login or the end
of a freeze sets it back to 0. Time comes from `clock` (epoch seconds), which tests replace.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from runner.platform.auth.crypto import decrypt_password, email_login_signature, phone_login_signature
from runner.simulator.codes import PlatformCodeError

#: how long an account stays frozen after too many wrong passwords (the platform's 20 min)
FREEZE_S = 20 * 60.0
#: wrong passwords in a row that freeze the account; the earlier ones answer "N attempts left"
WRONG_PASSWORDS_TO_FREEZE = 5
#: what the phone lookup assumes when internationalCode is absent ("domestic", China)
DEFAULT_INTERNATIONAL_CODE = "86"

ACCOUNT_FROZEN = 5147
SIGNATURE_WRONG = 5420
PASSWORD_UNDECRYPTABLE = 5353


class LoginChannel(StrEnum):
    """Which password login a request uses; the value is its identity parameter."""

    EMAIL = "email"  #: POST /v2/enduser/enduserapi/emailPwdLogin
    PHONE = "phone"  #: POST /v2/enduser/enduserapi/phonePwdLogin


@dataclass(frozen=True, slots=True)
class _ChannelCodes:
    identity_missing: int
    not_registered: int
    one_attempt_left: int  # the code for 1 attempt left; N left is this + N - 1


_CODES = {
    LoginChannel.EMAIL: _ChannelCodes(identity_missing=5026, not_registered=5031, one_attempt_left=5583),
    LoginChannel.PHONE: _ChannelCodes(identity_missing=5021, not_registered=5004, one_attempt_left=5579),
}


@dataclass(frozen=True, slots=True)
class LoginAccount:
    """An account that can log in with a password; tokens are issued for its `uid`."""

    uid: str
    password: str = field(repr=False)
    email: str | None = None
    phone: str | None = None
    international_code: str = DEFAULT_INTERNATIONAL_CODE


@dataclass(slots=True)
class _Lockout:
    wrong_passwords: int = 0  # in a row, since the last correct login or the end of a freeze
    frozen_until: float | None = None  # epoch s


class PasswordLogins:
    """The accounts and user domains password logins are checked against, and their lockouts."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        user_domains: Mapping[str, str],
        accounts: Iterable[LoginAccount],
    ) -> None:
        self.clock = clock
        self._domain_secrets = dict(user_domains)  # user domain -> its secret
        self._by_email: dict[str, LoginAccount] = {}
        self._by_phone: dict[tuple[str, str], LoginAccount] = {}
        for account in accounts:
            if account.email:
                self._by_email[account.email.casefold()] = account
            if account.phone:
                self._by_phone[(account.international_code, account.phone)] = account
        self._lockouts: dict[str, _Lockout] = {}  # uid -> its wrong-password count and freeze

    def __repr__(self) -> str:
        return f"PasswordLogins(domains={sorted(self._domain_secrets)})"  # never a secret or password

    def reset(self) -> None:
        """Forget wrong-password counts and freezes."""
        self._lockouts.clear()

    def frozen_until(self, uid: str) -> float | None:
        """When `uid`'s freeze ends (epoch s), or None if it is not frozen now (test aid)."""
        lockout = self._lockouts.get(uid)
        if lockout is None or lockout.frozen_until is None or self.clock() >= lockout.frozen_until:
            return None
        return lockout.frozen_until

    def check(self, channel: LoginChannel, params: Mapping[str, str]) -> str:
        """The uid a password login is for; PlatformCodeError in the order of the module docstring."""
        codes = _CODES[channel]
        domain = _required(params, "userDomain", 5023)
        identity = _required(params, channel.value, codes.identity_missing)
        _required(params, "pwd", 5022)
        _required(params, "signature", 5550)
        secret = self._domain_secrets.get(domain)
        if secret is None:
            raise PlatformCodeError(5015)
        if not hmac.compare_digest(_signature(channel, params, secret).encode(), params["signature"].encode()):
            raise PlatformCodeError(SIGNATURE_WRONG)
        try:
            password = decrypt_password(params["pwd"], params.get("random", ""))
        except ValueError:
            raise PlatformCodeError(PASSWORD_UNDECRYPTABLE) from None
        account = self._find(channel, identity, params)
        if account is None:
            raise PlatformCodeError(codes.not_registered)
        self._check_password(account, password, codes)
        return account.uid

    def _find(self, channel: LoginChannel, identity: str, params: Mapping[str, str]) -> LoginAccount | None:
        if channel is LoginChannel.EMAIL:
            return self._by_email.get(identity.casefold())
        international_code = params.get("internationalCode", "").strip() or DEFAULT_INTERNATIONAL_CODE
        return self._by_phone.get((international_code, identity))

    def _check_password(self, account: LoginAccount, password: str, codes: _ChannelCodes) -> None:
        lockout = self._lockouts.setdefault(account.uid, _Lockout())
        now = self.clock()
        if lockout.frozen_until is not None:
            if now < lockout.frozen_until:
                raise PlatformCodeError(ACCOUNT_FROZEN)
            lockout.frozen_until = None
            lockout.wrong_passwords = 0
        if hmac.compare_digest(password.encode(), account.password.encode()):
            lockout.wrong_passwords = 0
            return
        lockout.wrong_passwords += 1
        attempts_left = WRONG_PASSWORDS_TO_FREEZE - lockout.wrong_passwords
        if attempts_left <= 0:
            lockout.frozen_until = now + FREEZE_S
            raise PlatformCodeError(ACCOUNT_FROZEN)
        raise PlatformCodeError(codes.one_attempt_left + attempts_left - 1)


def _required(params: Mapping[str, str], name: str, code: int) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise PlatformCodeError(code)
    return value


def _signature(channel: LoginChannel, params: Mapping[str, str], secret: str) -> str:
    """What the client should have signed: the received values as they arrived (URL-decoded, not stripped)."""
    pwd = params["pwd"]
    random_str = params.get("random", "")
    if channel is LoginChannel.EMAIL:
        return email_login_signature(params["email"], pwd, random_str, secret)
    return phone_login_signature(params.get("internationalCode", ""), params["phone"], pwd, random_str, secret)
