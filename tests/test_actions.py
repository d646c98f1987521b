"""ShareAction.reconcile: which listed share counts as the one an earlier, unanswered attempt made."""

from __future__ import annotations

import pytest

from runner.batches.actions import RECONCILED_MESSAGE, DeviceLookupAction, RevokeAction, SetExpiryAction, ShareAction
from runner.engine.protocols import Found, Reconciled
from runner.models import DeviceShare, RecipientKind, ShareRequest
from runner.platform.clockskew import PlatformClock

SINCE_MS = 1_750_000_000_000


class ListingClient:
    """Stands in for PlatformClient: answers the share-list call with fixed shares."""

    def __init__(self, *shares: DeviceShare) -> None:
        self._shares = list(shares)
        self.clock = PlatformClock()  # no answer measured: the platform's clock is taken to be the host's

    async def list_device_shares(self, pk: str, dk: str) -> list[DeviceShare]:
        return self._shares


def listed(phone: str, *, valid: bool = True, created_ms: int = SINCE_MS + 5,
           expire_at_ms: int | None = None) -> DeviceShare:
    return DeviceShare(share_code="SC-1", share_uid="C1", email="", phone=phone, valid=valid,
                       created_ms=created_ms, expire_at_ms=expire_at_ms)


PHONE_ROW = ShareRequest(pk="p", dk="d", recipient_kind=RecipientKind.PHONE, recipient="+8613800138000",
                         expire_at_ms=None)


@pytest.mark.parametrize("shown", ["+8613800138000", "+86 138-0013-8000", "+86 (138) 0013.8000"])
async def test_a_listed_phone_matches_whatever_separators_the_platform_shows(shown: str) -> None:
    action = ShareAction(ListingClient(listed(shown)))  # type: ignore[arg-type]
    found = await action.reconcile(PHONE_ROW, SINCE_MS)
    assert found.found is Found.APPLIED
    assert found.result is not None
    assert (found.result.share_code, found.result.message) == ("SC-1", RECONCILED_MESSAGE)


async def test_the_listed_status_does_not_decide() -> None:
    action = ShareAction(ListingClient(listed("+86 138 0013 8000", valid=False)))  # type: ignore[arg-type]
    assert (await action.reconcile(PHONE_ROW, SINCE_MS)).found is Found.APPLIED


@pytest.mark.parametrize("share", [listed("+8613800138001"), listed("+8613800138000", created_ms=SINCE_MS - 120_000)],
                         ids=["another-number", "older"])
async def test_another_number_or_an_older_share_is_not_ours(share: DeviceShare) -> None:
    action = ShareAction(ListingClient(share))  # type: ignore[arg-type]
    assert await action.reconcile(PHONE_ROW, SINCE_MS) == Reconciled(Found.NOT_APPLIED)


@pytest.mark.parametrize("action", [RevokeAction(None), SetExpiryAction(None), DeviceLookupAction(None)],  # type: ignore[arg-type]
                         ids=["revoke", "set-expiry", "device-lookup"])
async def test_the_idempotent_actions_answer_harmless_to_resend(action: RevokeAction) -> None:
    assert await action.reconcile(("SC-1", 1), SINCE_MS) == Reconciled(Found.RESEND_HARMLESS)  # type: ignore[arg-type]
