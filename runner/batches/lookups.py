"""Read many devices' share lists through the engine: concurrency, rate gate, retries, token refresh.

`plan`, `track` and `run --skip-existing` all need "the share list of each of these devices,
once". Running one DeviceLookupAction work item per distinct device through the Engine gives
them the run's pacing and error handling for free; nothing is created or changed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from runner.batches.actions import DeviceLookupAction
from runner.engine.fanout import Engine
from runner.engine.protocols import WorkItem
from runner.engine.settings import EngineSettings
from runner.models import DeviceShare, RowOutcome, RowStatus
from runner.platform.client import PlatformClient

Device = tuple[str, str]
#: the look-up's code for a device the account does not own (docs/platform-api.md §4.3)
NOT_YOUR_DEVICE_CODE = 5141


@dataclass
class Lookups:
    """What the look-ups found: share lists, devices whose list could not be read, and a stop."""

    shares: dict[Device, list[DeviceShare]] = field(default_factory=dict)
    failed: dict[Device, RowOutcome] = field(default_factory=dict)
    stopped: str | None = None  # the engine stopped (fatal answer, rejected token, the platform kept failing)

    def refused(self, device: Device) -> RowOutcome | None:
        """The look-up's outcome when the platform refused to show this device (5141), else None."""
        outcome = self.failed.get(device)
        return outcome if outcome is not None and outcome.code == NOT_YOUR_DEVICE_CODE else None


class _Outcomes:
    """An in-memory OutcomeSink: one outcome per look-up."""

    def __init__(self) -> None:
        self.by_item: dict[int, RowOutcome] = {}

    async def attempt_started(self, row: int, started_ms: int) -> None:
        return None

    def row_finished(self, outcome: RowOutcome) -> None:
        self.by_item[outcome.row] = outcome


def distinct_devices(devices: Iterable[Device]) -> list[Device]:
    """Each device once, in first-seen order."""
    return list(dict.fromkeys(devices))


async def look_up_devices(
    client: PlatformClient, devices: Iterable[Device], settings: EngineSettings, *, deadline_s: float | None = None
) -> Lookups:
    """One `deviceShareUserList` per distinct device, through the engine; `deadline_s` stops it (--deadline)."""
    unique = distinct_devices(devices)
    action = DeviceLookupAction(client)
    sink = _Outcomes()
    engine = Engine(action, sink, settings, client.stats)
    timer = None
    if deadline_s is not None:
        reason = f"stopped: the deadline ({deadline_s:g} s) was reached during the share-list look-ups"
        timer = asyncio.get_running_loop().call_later(
            deadline_s, functools.partial(engine.request_stop, reason, interrupted=False))
    try:
        result = await engine.run(WorkItem(index, device) for index, device in enumerate(unique, start=1))
    finally:
        if timer is not None:
            timer.cancel()
    failed = {unique[index - 1]: outcome for index, outcome in sink.by_item.items()
              if outcome.status is not RowStatus.SUCCESS}
    return Lookups(shares=action.found, failed=failed, stopped=result.stopped)
