"""JSON shapes: the platform's `deviceShareUserList` rows and the simulator's own views.

Field names follow docs/platform-api.md §4.3, typos included (`nikeName`). Formatted time strings
are UTC `YYYY-MM-DD HH:MM:SS` (the platform does not state its timezone); clients should read
the `*Ts` milliseconds instead.
"""

from __future__ import annotations

import time
from typing import Any

from runner.simulator.directory import User
from runner.simulator.state import Share
from runner.simulator.traffic import RequestRecord


def _ms(epoch_s: float | None) -> int | None:
    return None if epoch_s is None else int(epoch_s * 1000)


def _text(epoch_ms: int | None) -> str | None:
    if epoch_ms is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch_ms / 1000))


def _timed(name: str, epoch_ms: int | None) -> dict[str, Any]:
    return {name: _text(epoch_ms), f"{name}Ts": epoch_ms}


def share_info(share: Share, now_ms: int, listed_status: int = 1) -> dict[str, Any]:
    """The `shareInfo` object; shareStatus 0 = revoked, replaced or expired, 1 = valid and accepted, and
    `listed_status` (default 1) for a valid invite not yet accepted (the docs do not say, §6.13)."""
    deleted_ms = _ms(share.ended_at)
    valid_status = 1 if share.accepted_at is not None else listed_status
    status = valid_status if share.is_valid(now_ms) else 0
    return {
        "shareId": share.share_id,
        "shareCode": share.share_code,
        "pk": share.device.pk,
        "dk": share.device.dk,
        "deviceName": share.device.name,
        "ownerUid": share.owner_uid,
        "shareUid": share.recipient.uid,
        "coverMark": share.cover_mark,
        "shareStatus": status,
        "failureCause": None,
        "fid": None,
        "authKey": share.auth_key,
        **_timed("shareTime", _ms(share.created_at)),
        **_timed("acceptingExpireAt", None),  # invite shares have no accept deadline
        **_timed("acceptTime", _ms(share.accepted_at)),  # set by the /_sim/accept test aid
        **_timed("sharingExpireAt", share.expire_at_ms),
        **_timed("updateTime", _ms(share.updated_at)),
        **_timed("deleteTime", deleted_ms),
    }


def user_info(user: User) -> dict[str, Any]:
    """The `userInfo` object; fields the simulator has no value for are null."""
    info: dict[str, Any] = {
        "uid": user.uid,
        "email": user.email,
        "phone": user.phone,
        "nikeName": user.nickname or None,
        "userDomain": None,
        "status": 1,
        **_timed("registerTime", None),
        **_timed("lastLoginTime", None),
    }
    for name in ("lang", "timezone", "nationality", "province", "city", "address", "sex", "headimg",
                 "signature", "remark", "wechatMiniprogramUserId", "wechatUnionId", "wechatOffiaccountUserId",
                 "alipayUserId", "qqUserId", "facebookUserId", "twitterUserId"):
        info[name] = None
    return info


def share_user_row(share: Share, now_ms: int, listed_status: int = 1) -> dict[str, Any]:
    """One element of deviceShareUserList's `data`."""
    return {"shareInfo": share_info(share, now_ms, listed_status), "userInfo": user_info(share.recipient)}


def sim_share(share: Share, now_ms: int) -> dict[str, Any]:
    """A flat view of a share for /_sim/shares (test aid, not a platform shape)."""
    return {
        "share_id": share.share_id,
        "share_code": share.share_code,
        "pk": share.device.pk,
        "dk": share.device.dk,
        "owner_uid": share.owner_uid,
        "share_uid": share.recipient.uid,
        "email": share.recipient.email,
        "phone": share.recipient.phone,
        "cover_mark": share.cover_mark,
        "state": share.state_name(now_ms),
        "valid": share.is_valid(now_ms),
        "created_ms": _ms(share.created_at),
        "expire_at_ms": share.expire_at_ms,
        "ended_ms": _ms(share.ended_at),
        "accepted_ms": _ms(share.accepted_at),
    }


def sim_request(record: RequestRecord) -> dict[str, Any]:
    """One entry of /_sim/requests."""
    return {
        "t": round(record.t, 6),
        "method": record.method,
        "path": record.path,
        "params": record.params,
        "http_status": record.http_status,
        "code": record.code,
        "fault": record.fault.value if record.fault else None,
        "share_code": record.share_code,
        "uid": record.uid,
    }
