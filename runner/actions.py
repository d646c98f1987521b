"""What the engine does to one row, as a small plug-in.

An action knows how to perform its request, how to tell whether an ambiguous earlier attempt
already took effect, and which device a row touches (rows of one device run one at a time).
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from runner.engine.protocols import ActionResult
from runner.errors import RowRejectedError
from runner.models import RecipientKind, RowStatus, ShareRequest
from runner.platform.client import DeviceShare, PlatformClient

#: the platform's clock may run behind ours: look this much further back for the share
CLOCK_SKEW_MS = 60_000
RECONCILED_MESSAGE = "reconciled: an earlier attempt's answer was lost, the share was found in the device's share list"


class ShareAction:
    """`shareByUid`, reconciled against `deviceShareUserList`."""

    def __init__(self, client: PlatformClient) -> None:
        self._client = client

    def device(self, payload: ShareRequest) -> Hashable:
        return payload.device

    async def perform(self, payload: ShareRequest) -> ActionResult:
        reply = await self._client.share_by_uid(payload)
        share_code = reply.data if isinstance(reply.data, str) and reply.data else None
        return ActionResult(share_code=share_code, http_status=reply.http_status, latency_ms=reply.latency_ms)

    async def reconcile(self, payload: ShareRequest, since_ms: int) -> ActionResult | None:
        shares = await self._client.list_device_shares(payload.pk, payload.dk)
        for share in shares:
            if share.valid and share.created_ms >= since_ms - CLOCK_SKEW_MS and _same_share(share, payload):
                return ActionResult(
                    share_code=share.share_code, http_status=200, latency_ms=None, message=RECONCILED_MESSAGE
                )
        return None


_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def _same_share(share: DeviceShare, payload: ShareRequest) -> bool:
    if share.expire_at_ms != payload.expire_at_ms:
        return False
    if payload.recipient_kind is RecipientKind.UID:
        return share.share_uid == payload.recipient
    if payload.recipient_kind is RecipientKind.EMAIL:
        return share.email.casefold() == payload.recipient.casefold()
    return _PHONE_SEPARATORS.sub("", share.phone) == _PHONE_SEPARATORS.sub("", payload.recipient)


ALREADY_GONE_CODE = 5142


class RevokeAction:
    """`ownerUserUnshareDevice` by share code.

    Revoking is idempotent on the platform's side: a share that already ended answers 5142, which
    is reported as `already_invalid`, so an ambiguous attempt is simply sent again (no lookup).
    """

    def __init__(self, client: PlatformClient) -> None:
        self._client = client

    def device(self, payload: str) -> Hashable:
        return payload

    async def perform(self, payload: str) -> ActionResult:
        try:
            reply = await self._client.revoke_share(payload)
        except RowRejectedError as exc:
            if exc.code != ALREADY_GONE_CODE:
                raise
            return ActionResult(share_code=payload, http_status=exc.http_status, latency_ms=None,
                                message="the share had already ended (revoked, replaced or expired)",
                                status=RowStatus.ALREADY_INVALID, code=ALREADY_GONE_CODE)
        return ActionResult(share_code=payload, http_status=reply.http_status, latency_ms=reply.latency_ms,
                            status=RowStatus.REVOKED)

    async def reconcile(self, payload: str, since_ms: int) -> ActionResult | None:
        return None
