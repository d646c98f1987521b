"""The platform's share bookkeeping as pure logic: no aiohttp, no sockets, no sleeping.

Every public method takes the caller's uid and the request's parameters (a plain mapping of
strings, as read from the query string) and either returns a result or raises
`PlatformCodeError` with the code the platform would answer. The validation order of
`share_by_uid` is the one in the package docstring; coverMark works per DEVICE
(docs/platform-api.md §6.5). Time comes from `clock` (epoch seconds), which tests replace to expire
tokens and shares without waiting.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from runner.simulator.codes import PlatformCodeError
from runner.simulator.directory import Device, User, device_by_rules, synthetic_uid
from runner.simulator.login import LoginAccount, LoginChannel, PasswordLogins
from runner.simulator.tokens import TokenIssuer, TokenPair

_INT = re.compile(r"-?\d+")


class ShareEnd(StrEnum):
    """Why a share stopped being valid before its expiry."""

    REVOKED = "revoked"  #: the owner called ownerUserUnshareDevice
    REPLACED = "replaced"  #: a later share of the device with coverMark 1 or 3 superseded it


@dataclass(slots=True)
class Share:
    """One share record; `shareStatus` is derived from it at read time (expiry is lazy)."""

    share_id: int
    share_code: str
    device: Device
    owner_uid: str
    recipient: User
    cover_mark: int
    auth_key: str | None
    created_at: float  # epoch s
    expire_at_ms: int | None  # None: permanent
    updated_at: float
    ended_at: float | None = None
    end_reason: ShareEnd | None = None
    #: when the recipient accepted the invite (epoch s); None while pending. Set by the /_sim/accept
    #: test aid: the simulator has no recipient app
    accepted_at: float | None = None

    def is_valid(self, now_ms: int) -> bool:
        """Valid = neither revoked nor replaced, and not past its expiry."""
        return self.ended_at is None and (self.expire_at_ms is None or self.expire_at_ms > now_ms)

    def end(self, now: float, reason: ShareEnd) -> None:
        self.ended_at = now
        self.updated_at = now
        self.end_reason = reason

    def state_name(self, now_ms: int) -> str:
        """valid | revoked | replaced | expired: what /_sim/shares shows."""
        if self.end_reason is not None:
            return self.end_reason.value
        return "valid" if self.is_valid(now_ms) else "expired"


class SimulatorState:
    """Users, devices, shares, tokens and password logins of one simulated platform account space."""

    def __init__(
        self,
        *,
        owner_uid: str = "C100001",
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        access_ttl_s: float = 7200.0,
        refresh_ttl_s: float = 30 * 86400.0,
        users: Iterable[User] = (),
        devices: Iterable[Device] = (),
        user_domains: Mapping[str, str] | None = None,
        login_accounts: Iterable[LoginAccount] = (),
    ) -> None:
        self.owner_uid = owner_uid
        self.clock = clock
        # A stream of its own, so share codes don't depend on how many faults were rolled.
        self._rng = random.Random(f"state-{seed}") if seed is not None else random.Random()  # nosec B311  # fake share codes
        self.tokens = TokenIssuer(
            clock=lambda: self.clock(), access_ttl_s=access_ttl_s, refresh_ttl_s=refresh_ttl_s
        )
        # Password logins: user domain -> secret, and the accounts that may log in (none by default).
        self.logins = PasswordLogins(
            clock=lambda: self.clock(), user_domains=user_domains or {}, accounts=login_accounts
        )
        self._file_users = list(users)
        self._file_devices = list(devices)
        self.reset()

    def reset(self) -> None:
        """Forget shares, login lockouts and what was made up on first use; declared users/devices and tokens stay."""
        self.logins.reset()
        self.users_by_uid: dict[str, User] = {}
        self._users_by_email: dict[str, User] = {}
        self._users_by_phone: dict[str, User] = {}
        for user in self._file_users:
            self._register(user)
        self.devices: dict[tuple[str, str], Device] = {(d.pk, d.dk): d for d in self._file_devices}
        self.shares: list[Share] = []
        self._shares_by_code: dict[str, Share] = {}
        self._shares_by_device: dict[tuple[str, str], list[Share]] = {}
        # Shares not yet revoked or replaced, per device: what coverMark has to look at, kept
        # short so a device shared thousands of times stays cheap. Expired ones are filtered
        # at use, not pruned, because a test clock may move back.
        self._open_by_device: dict[tuple[str, str], list[Share]] = {}

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def issue_tokens(self, uid: str | None = None) -> TokenPair:
        """A token pair for `uid` (default: the owner), as a login would return it."""
        return self.tokens.issue_pair(uid or self.owner_uid)

    def password_login(self, channel: LoginChannel, params: Mapping[str, str]) -> TokenPair:
        """POST emailPwdLogin / phonePwdLogin: check it (order in `login.py`), then issue a token pair."""
        return self.issue_tokens(self.logins.check(channel, params))

    def share_by_uid(self, caller_uid: str, params: Mapping[str, str]) -> Share:
        """POST shareByUid: validate in the platform's order, apply coverMark, record the share."""
        pk = _required(params, "pk", 5066)
        dk = _required(params, "dk", 5067)
        cover_mark = _parse_cover_mark(params.get("coverMark"))
        now = self.clock()
        now_ms = int(now * 1000)
        expire_at_ms = _parse_expiry(params.get("sharingExpireAt"), now_ms)
        kind, value = _recipient(params)
        device = self._device(pk, dk, caller_uid)
        if device.owner_uid != caller_uid:
            raise PlatformCodeError(5135)
        if not device.verified:
            raise PlatformCodeError(5360)
        known = self._find_user(kind, value)
        if (known.family if known else kind == "uid" and value.startswith("FAM")):
            raise PlatformCodeError(5864)
        if device.add_fails:
            raise PlatformCodeError(5134)
        recipient = known or self._make_up_user(kind, value)
        self._apply_cover_mark(device, cover_mark, expire_at_ms, now, now_ms)
        share = Share(
            share_id=len(self.shares) + 1001,
            share_code=self._new_share_code(),
            device=device,
            owner_uid=caller_uid,
            recipient=recipient,
            cover_mark=cover_mark,
            auth_key=params.get("authKey") or None,
            created_at=now,
            expire_at_ms=expire_at_ms,
            updated_at=now,
        )
        self.shares.append(share)
        self._shares_by_code[share.share_code] = share
        self._shares_by_device.setdefault((pk, dk), []).append(share)
        self._open_by_device.setdefault((pk, dk), []).append(share)
        return share

    def device_shares(self, caller_uid: str, params: Mapping[str, str]) -> list[Share]:
        """GET deviceShareUserList: every share of the device, ended ones included, oldest first."""
        pk = _required(params, "pk", 5066)
        dk = _required(params, "dk", 5067)
        if self._device(pk, dk, caller_uid).owner_uid != caller_uid:
            raise PlatformCodeError(5141)
        return list(self._shares_by_device.get((pk, dk), []))

    def revoke(self, caller_uid: str, params: Mapping[str, str]) -> Share:
        """DELETE ownerUserUnshareDevice: 5136 missing, 5041 unknown or not yours, 5142 already ended."""
        code = _required(params, "shareCode", 5136)
        share = self._shares_by_code.get(code)
        if share is None or share.owner_uid != caller_uid:
            raise PlatformCodeError(5041)
        now = self.clock()
        if not share.is_valid(int(now * 1000)):
            raise PlatformCodeError(5142)
        share.end(now, ShareEnd.REVOKED)
        self._open_by_device[(share.device.pk, share.device.dk)].remove(share)
        return share

    def set_share_time(self, caller_uid: str, params: Mapping[str, str]) -> Share:
        """PUT setShareTime: 5136 missing code, 5041 unknown or not yours, 5142 ended, 5145 bad expiry.

        The docs list 5032, 5041, 5106 and 5136 only (docs/platform-api.md §4.4); 5142 for an ended share
        and 5145 for a missing, unreadable or past expiry are the simulator's assumptions, borrowed
        from ownerUserUnshareDevice and shareByUid.
        """
        code = _required(params, "shareCode", 5136)
        share = self._shares_by_code.get(code)
        if share is None or share.owner_uid != caller_uid:
            raise PlatformCodeError(5041)
        now = self.clock()
        now_ms = int(now * 1000)
        if not share.is_valid(now_ms):
            raise PlatformCodeError(5142)
        expire_at_ms = _parse_expiry(params.get("sharingExpireAt"), now_ms)
        if expire_at_ms is None:
            raise PlatformCodeError(5145)  # required here: the endpoint cannot make a share permanent
        share.expire_at_ms = expire_at_ms
        share.updated_at = now
        return share

    def accept(self, share_code: str) -> Share:
        """Test aid: the recipient accepts the invite in the app. KeyError for an unknown code,
        ValueError for a share that is no longer valid."""
        share = self._shares_by_code[share_code]
        now = self.clock()
        if not share.is_valid(int(now * 1000)):
            raise ValueError(f"share {share_code} is {share.state_name(int(now * 1000))}: it cannot be accepted")
        if share.accepted_at is None:
            share.accepted_at = now
            share.updated_at = now
        return share

    def _apply_cover_mark(
        self, device: Device, cover_mark: int, expire_at_ms: int | None, now: float, now_ms: int
    ) -> None:
        key = (device.pk, device.dk)
        valid = [s for s in self._open_by_device.get(key, []) if s.is_valid(now_ms)]
        if cover_mark == 3 and not all(_later(expire_at_ms, s.expire_at_ms) for s in valid):
            raise PlatformCodeError(5134)
        if cover_mark in (1, 3) and valid:
            for share in valid:
                share.end(now, ShareEnd.REPLACED)
            self._open_by_device[key] = [s for s in self._open_by_device[key] if s.ended_at is None]

    def _device(self, pk: str, dk: str, caller_uid: str) -> Device:
        device = self.devices.get((pk, dk))
        if device is None:
            # Pinned to its first user, so a second account sees it as someone else's.
            device = self.devices[(pk, dk)] = device_by_rules(pk, dk, caller_uid)
        return device

    def _find_user(self, kind: str, value: str) -> User | None:
        if kind == "uid":
            return self.users_by_uid.get(value)
        if kind == "email":
            return self._users_by_email.get(value.casefold())
        return self._users_by_phone.get(value)

    def _make_up_user(self, kind: str, value: str) -> User:
        if kind == "uid":
            if value.startswith("GHOST"):
                raise PlatformCodeError(5033)
            user = User(uid=value)
        elif kind == "email":
            if value.split("@", 1)[0].casefold().startswith("ghost"):
                raise PlatformCodeError(5031)
            user = User(uid=synthetic_uid(kind, value), email=value)
        else:
            if value.startswith("000"):
                raise PlatformCodeError(5004)
            user = User(uid=synthetic_uid(kind, value), phone=value)
        existing = self.users_by_uid.get(user.uid)
        if existing is not None:  # same synthetic uid seen through another channel
            return existing
        self._register(user)
        return user

    def _register(self, user: User) -> None:
        self.users_by_uid[user.uid] = user
        if user.email:
            self._users_by_email[user.email.casefold()] = user
        if user.phone:
            self._users_by_phone[user.phone] = user

    def _new_share_code(self) -> str:
        while True:
            code = f"{self._rng.getrandbits(64):016X}"  # 16 hex digits; getrandbits is cheap
            if code not in self._shares_by_code:
                return code


def _required(params: Mapping[str, str], name: str, code: int) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise PlatformCodeError(code)
    return value


def _parse_cover_mark(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return 1  # the platform's default
    text = raw.strip()
    if not _INT.fullmatch(text) or int(text) not in (1, 2, 3):
        raise PlatformCodeError(5133)
    return int(text)


def _parse_expiry(raw: str | None, now_ms: int) -> int | None:
    if raw is None or not raw.strip():
        return None  # permanent share
    text = raw.strip()
    if not _INT.fullmatch(text) or int(text) <= now_ms:
        raise PlatformCodeError(5145)
    return int(text)


def _recipient(params: Mapping[str, str]) -> tuple[str, str]:
    """(kind, value) of the first recipient parameter present: shareUid, then email, then phone."""
    for kind, name in (("uid", "shareUid"), ("email", "email"), ("phone", "phone")):
        value = params.get(name, "").strip()
        if value:
            return kind, value
    raise PlatformCodeError(5891)


def _later(new_ms: int | None, old_ms: int | None) -> bool:
    """coverMark 3's test; no expiry counts as infinitely late."""
    if old_ms is None:
        return False
    return new_ms is None or new_ms > old_ms
