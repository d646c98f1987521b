"""What the engine does to one row, as a small plug-in.

An action knows how to perform its request, how to tell whether an ambiguous earlier attempt
already took effect, and which device a row touches (rows of one device run one at a time).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable

from runner.engine.protocols import ActionResult, Found, Reconciled
from runner.errors import RowRejectedError
from runner.models import DeviceShare, RowStatus, ShareRequest, expiry_text, iso_utc, same_recipient
from runner.platform.client import PlatformClient

#: the look-up window reaches this much before the attempt began, in the platform's clock: the Date
#: header it is measured from has whole seconds, and the platform's own times may lag its answers
LOOKUP_MARGIN_MS = 5_000
log = logging.getLogger(__name__)
RECONCILED_MESSAGE = "reconciled: an earlier attempt's answer was lost, the share was found in the device's share list"


class ShareAction:
    """`shareByUid`, reconciled against `deviceShareUserList`."""

    def __init__(self, client: PlatformClient) -> None:
        self._client = client

    def device(self, payload: ShareRequest) -> Hashable:
        return payload.device

    async def perform(self, payload: ShareRequest) -> ActionResult:
        reply = await self._client.share_by_uid(payload)
        share_code = reply.data.strip() if isinstance(reply.data, str) and reply.data.strip() else None
        return ActionResult(share_code=share_code, http_status=reply.http_status, latency_ms=reply.latency_ms,
                            confirmed=share_code is not None)

    async def reconcile(self, payload: ShareRequest, since_ms: int) -> Reconciled:
        """The share this row left on the platform since `since_ms` (host time), whatever its status.

        The window is moved into the platform's clock (its answers' Date header), so a skewed
        host clock neither misses the share nor reaches far back. The status is not trusted: the
        docs do not say how a fresh invite is listed, and a later row of the same device (cover
        mark 1) may already have replaced it. A share with this row's expiry is preferred; one
        with another expiry still counts (a relative expiry fed back in a failed-rows file counts
        from the new batch's start), and the message names both expiries. When the request was
        applied more than once, the live share is kept and the others are dealt with
        (`_applied_more_than_once`).
        """
        shares = await self._client.list_device_shares(payload.pk, payload.dk)
        window_ms = self._client.clock.to_platform_ms(since_ms) - LOOKUP_MARGIN_MS
        mine = [s for s in shares if s.created_ms >= window_ms and same_recipient(s, payload)]
        if not mine:
            return Reconciled(Found.NOT_APPLIED)
        # live first, then the row's own expiry, then the newest: under cover mark 1 only the last one lives
        mine.sort(key=lambda s: (s.open, s.expire_at_ms == payload.expire_at_ms, s.created_ms), reverse=True)
        kept, extra = mine[0], mine[1:]
        message = RECONCILED_MESSAGE
        if kept.expire_at_ms != payload.expire_at_ms:
            message += (f"; its expiry is {expiry_text(kept.expire_at_ms)}, not the "
                        f"{expiry_text(payload.expire_at_ms)} this row asks for now (an earlier batch's attempt): "
                        "change it on the platform if that matters")
        if extra:
            message += "; " + await self._applied_more_than_once(kept, extra)
        return Reconciled(Found.APPLIED, ActionResult(share_code=kept.share_code, http_status=200, latency_ms=None,
                                                      message=message))

    async def _applied_more_than_once(self, kept: DeviceShare, extra: list[DeviceShare]) -> str:
        """The platform applied this row's request more than once (a request held past its timeout landed
        after all). Extra shares still open are revoked here, so the recipient holds exactly the one the
        report names and a `revoke` of the report leaves nothing behind; ended ones are only named.
        A revoke that fails raises, so the row stays in doubt and the next run deals with it again.
        """
        revoked: list[str] = []
        for share in extra:
            if share.open:
                try:
                    await self._client.revoke_share(share.share_code)
                except RowRejectedError as exc:
                    if exc.code != ALREADY_GONE_CODE:
                        raise
                revoked.append(share.share_code)
        ended = [share.share_code for share in extra if share.share_code not in revoked]
        said = f"applied {len(extra) + 1} times: the platform holds {len(extra) + 1} shares from this row; kept " \
               f"{kept.share_code}"
        if revoked:
            said += f", revoked the extra {', '.join(revoked)}"
        if ended:
            said += f", the extra {', '.join(ended)} had already ended"
        log.warning(f"row applied more than once; {said}", extra={"event": "applied_twice", "kept": kept.share_code,
                                                                    "revoked": revoked})
        return said

    def why_not_send(self, payload: ShareRequest, now_ms: int) -> str | None:
        if payload.expire_at_ms is not None and payload.expire_at_ms <= now_ms:
            return (f"not sent: its expiry ({iso_utc(payload.expire_at_ms)}) had passed when the row was due to be "
                    "sent; run it again (relative expiries then count from the new run)")
        return None


ALREADY_GONE_CODE = 5142


def _already_ended(share_code: str, answer: RowRejectedError) -> ActionResult:
    """A revoke or an expiry change that found the share over: done, there is nothing left to change."""
    return ActionResult(share_code=share_code, http_status=answer.http_status, latency_ms=None,
                        message="the share had already ended (revoked, replaced or expired)",
                        status=RowStatus.ALREADY_ENDED, code=ALREADY_GONE_CODE)


class RevokeAction:
    """`ownerUserUnshareDevice` by share code.

    Revoking is idempotent on the platform's side: a share that already ended answers 5142, which
    is reported as `already_ended`, so an ambiguous attempt is simply sent again (no lookup).
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
            return _already_ended(payload, exc)
        return ActionResult(share_code=payload, http_status=reply.http_status, latency_ms=reply.latency_ms,
                            status=RowStatus.REVOKED)

    async def reconcile(self, payload: str, since_ms: int) -> Reconciled:
        return Reconciled(Found.RESEND_HARMLESS)

    def why_not_send(self, payload: str, now_ms: int) -> str | None:
        return None


#: setShareTime's answer for a share that has ended; the docs list no code for it (an assumption
#: shared with the simulator): revoke's "share no longer valid"
SHARE_ENDED_CODE = ALREADY_GONE_CODE


class SetExpiryAction:
    """`setShareTime` by share code; the payload is (share code, new expiry in ms).

    Setting an expiry is idempotent: sending it twice leaves the same expiry, so an ambiguous
    attempt is simply sent again (no look-up). A share that has ended is reported as such.
    """

    def __init__(self, client: PlatformClient) -> None:
        self._client = client

    def device(self, payload: tuple[str, int]) -> Hashable:
        return payload[0]

    async def perform(self, payload: tuple[str, int]) -> ActionResult:
        share_code, expire_at_ms = payload
        try:
            reply = await self._client.set_share_time(share_code, expire_at_ms)
        except RowRejectedError as exc:
            if exc.code != SHARE_ENDED_CODE:
                raise
            return _already_ended(share_code, exc)
        return ActionResult(share_code=share_code, http_status=reply.http_status, latency_ms=reply.latency_ms,
                            message=f"expiry set to {iso_utc(expire_at_ms)}", status=RowStatus.EXTENDED)

    async def reconcile(self, payload: tuple[str, int], since_ms: int) -> Reconciled:
        return Reconciled(Found.RESEND_HARMLESS)

    def why_not_send(self, payload: tuple[str, int], now_ms: int) -> str | None:
        if payload[1] <= now_ms:
            return (f"not sent: the new expiry ({iso_utc(payload[1])}) had passed when the row was due to be "
                    "sent")
        return None


class DeviceLookupAction:
    """Read one device's share list (`deviceShareUserList`) into `found`; changes nothing.

    Run by the engine over one work item per distinct device, so look-ups get the run's
    concurrency, rate limit, retries and token refresh. A device whose list the platform will not
    show (5141, another account's device) fails its item with that code.
    """

    def __init__(self, client: PlatformClient) -> None:
        self._client = client
        self.found: dict[tuple[str, str], list[DeviceShare]] = {}

    def device(self, payload: tuple[str, str]) -> Hashable:
        return payload

    async def perform(self, payload: tuple[str, str]) -> ActionResult:
        self.found[payload] = await self._client.list_device_shares(*payload)
        return ActionResult(share_code=None, http_status=200, latency_ms=None)

    async def reconcile(self, payload: tuple[str, str], since_ms: int) -> Reconciled:
        return Reconciled(Found.RESEND_HARMLESS)  # reading a list changes nothing

    def why_not_send(self, payload: tuple[str, str], now_ms: int) -> str | None:
        return None
