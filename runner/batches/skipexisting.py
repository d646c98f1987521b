"""`run --skip-existing`: before sending, leave out the rows whose share is already in place.

After the journal is loaded and before the engine runs, the devices of the rows still to send
are looked up once each. In input order, with the model of `runner.shares.model` (the platform's
open shares, then this batch's earlier rows), a row whose recipient already holds an open share
of the device with the same expiry ends `success` with that share code and is not sent, and a
row whose device the platform will not show (5141) ends `failed` with that code. Every other row
is left to the engine. A row whose device's share list could not be read is not sent at all
(`not_attempted`, or `unknown` when an earlier attempt is in doubt): the option promises not to
share again what is already in place, and without the list nobody knows. In a batch with accounts,
look-ups that stop for one account (a 24-hour block 5325, a token that cannot be renewed) end only
that account's rows, `not_attempted`, as the engine's lanes do: the other accounts' rows go on.
Nothing here sends a share.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from runner.batches.accountrouting import lane_name
from runner.batches.lookups import Lookups, look_up_devices
from runner.clock import utc_now_iso
from runner.engine.journal import Journal
from runner.engine.protocols import OutcomeSink
from runner.engine.settings import EngineSettings
from runner.models import RowOutcome, RowStatus, ShareRequest
from runner.platform.client import PlatformClient
from runner.platform.session import DEFAULT_ACCOUNT
from runner.shares.model import IN_PLACE_MESSAGE, DeviceModel, PlanAction

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """What a step before sending decided: rows it finished itself, or a reason to send nothing."""

    finished_rows: set[int] = field(default_factory=set)  # reported through the sink; the engine skips them
    unread: int = 0  # rows not sent because their device's share list could not be read
    stop: str | None = None


async def skip_existing(journal: Journal, clients: Mapping[str, PlatformClient], sink: OutcomeSink,
                        settings: EngineSettings) -> Prepared:
    """Finish the in-place and no-permission rows through `sink`; send nothing if the look-ups stopped.

    Each device is looked up with the client of its rows' account (DEFAULT_ACCOUNT: the default token).
    """
    by_account: dict[str, list[tuple[str, str]]] = {}
    for item in journal.iter_work(ShareRequest.from_json):
        by_account.setdefault(item.payload.account or DEFAULT_ACCOUNT, []).append(item.payload.device)
    prepared = Prepared()
    found = Lookups()
    stopped: dict[str, str] = {}  # account -> why its rows are not sent
    for account, devices in by_account.items():
        if account not in clients:
            continue  # no token for these rows: the engine reports them
        part = await look_up_devices(clients[account], devices, settings)
        if part.stopped and account == DEFAULT_ACCOUNT and len(clients) == 1:
            prepared.stop = f"not sent: the share-list look-ups of --skip-existing stopped ({part.stopped})"
            return prepared
        if part.stopped:
            stopped[account] = (f"not sent: {lane_name(account)} was stopped during the share-list look-ups of "
                                f"--skip-existing ({part.stopped}); the other accounts' rows went on. Run the "
                                "same command again once it is fixed")
            continue
        found.shares.update(part.shares)
        found.failed.update(part.failed)
    model = DeviceModel(found.shares)
    for item in journal.iter_work(ShareRequest.from_json):
        device = item.payload.device
        if (why := stopped.get(item.payload.account or DEFAULT_ACCOUNT)) is not None:
            in_doubt = item.in_doubt_since_ms is not None
            sink.row_finished(RowOutcome(
                row=item.row, status=RowStatus.UNKNOWN if in_doubt else RowStatus.NOT_ATTEMPTED,
                message=f"{why}; an earlier attempt may have been applied: it is looked up before it is ever sent "
                        "again" if in_doubt else why,
                finished_at=utc_now_iso(), in_doubt_since_ms=item.in_doubt_since_ms))
            prepared.finished_rows.add(item.row)
            continue
        refused = found.refused(device)
        if refused is not None:
            sink.row_finished(RowOutcome(
                row=item.row, status=RowStatus.FAILED, code=refused.code, http_status=refused.http_status,
                message=f"not sent: the platform will not show this device's shares ({refused.message})",
                finished_at=utc_now_iso(), in_doubt_since_ms=item.in_doubt_since_ms))
            prepared.finished_rows.add(item.row)
            continue
        if device not in found.shares:
            # The look-up failed: whether the share is already in place is unknown, so the row is not sent
            # (a blind send would share again what the option was asked to leave alone).
            failure = found.failed.get(device)
            sink.row_finished(RowOutcome(
                row=item.row, status=RowStatus.UNKNOWN if item.in_doubt_since_ms else RowStatus.NOT_ATTEMPTED,
                message=f"not sent: --skip-existing could not read this device's share list"
                        f"{f' ({failure.message})' if failure is not None and failure.message else ''}, so it cannot "
                        "tell whether the share is already in place; run the same command again",
                code=failure.code if failure is not None else None,
                http_status=failure.http_status if failure is not None else None,
                finished_at=utc_now_iso(), in_doubt_since_ms=item.in_doubt_since_ms))
            prepared.finished_rows.add(item.row)
            prepared.unread += 1
            continue
        planned = model.plan(item.row, item.payload)
        if planned.action is PlanAction.IN_PLACE:
            sink.row_finished(RowOutcome(
                row=item.row, status=RowStatus.SUCCESS, code=200, share_code=planned.share_code,
                message=(f"{IN_PLACE_MESSAGE}: share {planned.share_code} to this recipient with the same "
                         "expiry is in the device's share list; not sent (--skip-existing)"),
                finished_at=utc_now_iso()))
            prepared.finished_rows.add(item.row)
    if prepared.unread:
        log.warning(f"{prepared.unread} rows not sent: --skip-existing could not read their devices' share lists; "
                    "run the same command again to send them", extra={"event": "skip_existing_unread",
                                                                       "rows": prepared.unread})
    journal.flush()
    return prepared
