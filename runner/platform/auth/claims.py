"""What a token says about itself: its account (uid) and expiry, read from the JWT payload unverified.

The platform signs its tokens (docs/platform-api.md §2.2) and only the platform checks them; sharebatch
reads the claims only to name the account whose budget a request spends and to warn about an expiry
before anything is sent, never to decide whether a token is genuine.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a `Bearer <jwt>` or bare JWT; empty when the token is not a readable JWT."""
    value = token.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    parts = value.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_uid(token: str) -> str | None:
    """The account a token acts for (its `uid` claim), None when it does not say."""
    uid = token_claims(token).get("uid")
    return str(uid) if isinstance(uid, str | int) and not isinstance(uid, bool) and str(uid) else None
