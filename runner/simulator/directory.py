"""Users and devices the simulator knows, and the devices file that declares them.

Devices file (JSON, UTF-8), e.g. `samples/devices.json`::

    {
      "users": [
        {"uid": "C200001", "email": "alice@example.com", "phone": "13800000001",
         "nickname": "Alice", "family": false}
      ],
      "devices": [
        {"pk": "p11demo", "dk": "860000000000001", "name": "Boiler, hall",
         "owner": "C100001", "verified": true, "add_fails": false}
      ]
    }

Both lists are optional. A user needs `uid`; `email`, `phone`, `nickname` are optional and
`family: true` makes every share to that user fail with 5864. A device needs `pk` and `dk`;
`owner` defaults to the simulator's owner uid (`SimulatorConfig.owner_uid`), `verified`
to true (false -> 5360), `add_fails` to false (true -> 5134), `name` to "Device <dk>".
Unknown keys are refused, so a typo cannot silently change a device.

Devices and users not in the file follow the default rules, which let anyone provoke each
answer deterministically:

- dk starting `UNV` -> binding unverified (5360); dk starting `FAIL` -> adding fails (5134);
  dk starting `OTHER` -> owned by another account, C999999 (5135 on share, 5141 on list);
  any other device belongs to the first account that uses it (normally the token's user).
- shareUid starting `FAM` -> family member (5864); starting `GHOST` -> no such user (5033).
- email whose local part starts with `ghost` -> not registered (5031);
  phone starting `000` -> not registered (5004).
- any other uid exists; any other email/phone belongs to a stable synthetic uid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the account that owns `OTHER…` devices; never the token's user
OTHER_OWNER_UID = "C999999"

_USER_KEYS = frozenset({"uid", "email", "phone", "nickname", "family"})
_DEVICE_KEYS = frozenset({"pk", "dk", "name", "owner", "verified", "add_fails"})


@dataclass(slots=True)
class User:
    """An account that can receive shares (declared in the devices file, or made up on first use)."""

    uid: str
    email: str | None = None
    phone: str | None = None
    nickname: str = ""
    family: bool = False


@dataclass(slots=True)
class Device:
    """A bound device; `owner_uid` is the only account allowed to share or list it."""

    pk: str
    dk: str
    name: str
    owner_uid: str
    verified: bool = True
    add_fails: bool = False


def device_by_rules(pk: str, dk: str, caller_uid: str) -> Device:
    """A device not in the file: its state comes from its dk prefix."""
    owner = OTHER_OWNER_UID if dk.startswith("OTHER") else caller_uid
    return Device(
        pk=pk,
        dk=dk,
        name=f"Device {dk}",
        owner_uid=owner,
        verified=not dk.startswith("UNV"),
        add_fails=dk.startswith("FAIL"),
    )


def synthetic_uid(kind: str, value: str) -> str:
    """A stable made-up uid for an email/phone nobody declared (same input, same uid, every run)."""
    digest = hashlib.sha256(f"{kind}:{value.casefold()}".encode()).hexdigest()
    return f"C{int(digest[:12], 16) % 10**7:07d}"


def load_directory(path: Path, default_owner: str) -> tuple[list[User], list[Device]]:
    """Read a devices file; ValueError names the file and the entry at fault."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read devices file: {exc}") from exc
    if not isinstance(raw, dict) or set(raw) - {"users", "devices"}:
        raise ValueError(f'{path}: expected an object with "users" and/or "devices" lists')
    users = [_user(path, i, entry) for i, entry in enumerate(_list(path, raw, "users"))]
    devices = [
        _device(path, i, entry, default_owner) for i, entry in enumerate(_list(path, raw, "devices"))
    ]
    return users, devices


def _list(path: Path, raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f'{path}: "{key}" must be a list')
    return value


def _checked(path: Path, where: str, entry: Any, allowed: frozenset[str], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: {where} must be an object")
    unknown = set(entry) - allowed
    if unknown:
        raise ValueError(f"{path}: {where} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    for key in required:
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ValueError(f'{path}: {where} needs a non-empty string "{key}"')
    for key, value in entry.items():
        expected = bool if key in {"family", "verified", "add_fails"} else str
        if value is not None and not isinstance(value, expected):
            raise ValueError(f'{path}: {where} "{key}" must be a {expected.__name__}')
    return entry


def _user(path: Path, index: int, entry: Any) -> User:
    data = _checked(path, f"users[{index}]", entry, _USER_KEYS, ("uid",))
    return User(
        uid=data["uid"],
        email=data.get("email"),
        phone=data.get("phone"),
        nickname=data.get("nickname") or "",
        family=bool(data.get("family", False)),
    )


def _device(path: Path, index: int, entry: Any, default_owner: str) -> Device:
    data = _checked(path, f"devices[{index}]", entry, _DEVICE_KEYS, ("pk", "dk"))
    return Device(
        pk=data["pk"],
        dk=data["dk"],
        name=data.get("name") or f"Device {data['dk']}",
        owner_uid=data.get("owner") or default_owner,
        verified=data.get("verified", True) is not False,
        add_fails=bool(data.get("add_fails", False)),
    )
