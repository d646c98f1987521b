"""The follow-up flow of `revoke` and `extend`: one action over the shares a run's report created.

Both read a run's report.csv, take the rows with status success and a share code (optionally only
`--rows 3,7-12`) and run them through the same journaled engine as a share batch, with their own
action: same rate limit, retries, journal, resume, lock and exit codes. Only the action, the
journal's kind and what each row's payload carries beside the share code differ.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from runner.batches.accountrouting import report_accounts
from runner.batches.jobspec import JobSpec
from runner.batches.reportfile import RunReport
from runner.batches.results import BatchResult
from runner.batches.run import JournaledPlan, run_journaled
from runner.engine.journal import Journal
from runner.engine.records import JournalEntry
from runner.errors import UsageError
from runner.platform.auth.tokens import AuthSettings

if TYPE_CHECKING:
    from runner.engine.protocols import Action
    from runner.platform.client import PlatformClient

PayloadT = TypeVar("PayloadT")
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_rows(text: str | None) -> Callable[[int], bool]:
    """`3,7-12` -> a predicate over report row numbers; None selects every row."""
    if text is None:
        return lambda row: True
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        found = _RANGE.match(part)
        if found is None:
            raise UsageError(f"--rows: {part.strip()!r} is not a row number or a range such as 7-12")
        low = int(found.group(1))
        high = int(found.group(2) or low)
        if high < low:
            raise UsageError(f"--rows: {part.strip()!r} runs backwards")
        ranges.append((low, high))
    return lambda row: any(low <= row <= high for low, high in ranges)


@dataclass(frozen=True)
class FollowUp(Generic[PayloadT]):
    """One follow-up action: its journal kind (also the fingerprint's prefix) and how its payload reads."""

    kind: str
    action: Callable[[PlatformClient], Action[PayloadT]]
    decode: Callable[[str], PayloadT]
    subject: Callable[[str], Hashable]  # the share code a payload is about


def followup_entry(kind: str, row: int, share_code: str, carried: tuple[int, ...] = ()) -> JournalEntry:
    """The journal entry of one report row: the payload is the share code alone, or it and `carried` as a list.

    The fingerprint covers the kind, the share code and `carried`, so another expiry is another request.
    """
    digest = hashlib.sha256("\x1f".join([kind, share_code, *map(str, carried)]).encode()).hexdigest()[:32]
    return JournalEntry(row, digest, json.dumps([share_code, *carried] if carried else share_code))


def _share_code(payload: object) -> str:
    """The share code of a follow-up payload: the code itself, or the first item beside what it carries."""
    return str(payload[0]) if isinstance(payload, tuple | list) else str(payload)


async def run_followup(
    spec: JobSpec,
    auth: AuthSettings | None,
    follow: FollowUp[PayloadT],
    wanted: Callable[[int], bool],
    batch_settings: dict[str, object],
    *,
    carry: Callable[[Journal], tuple[int, ...]] = lambda journal: (),
    interactive: bool,
    handle_signals: bool,
    fresh: bool,
) -> BatchResult:
    """Run `follow` over the selected rows of `spec.input` (a report.csv); resumable like a share run.

    `carry(journal)` gives what every row's payload carries beside the share code (extend: the new
    expiry, from the journal's anchor so that a resumed batch asks for the same instant).
    """

    by_code = report_accounts(RunReport(spec.input, wanted), spec)  # accounts not given stop here, before sending

    def account_of(payload: PayloadT) -> str | None:
        return by_code(_share_code(payload)) if by_code is not None else None

    def plan(journal: Journal, snapshot: Path) -> JournaledPlan[PayloadT]:
        carried = carry(journal)
        report = RunReport(snapshot, wanted)
        return JournaledPlan(
            headers=report.headers,
            input_format="csv",
            entries=(followup_entry(follow.kind, r.row, r.share_code, carried) for r in report.rows()),
            cells=lambda: ((r.row, r.cells) for r in report.rows()),
            decode=follow.decode,
            subject=follow.subject,
            action=follow.action,
            warnings=lambda: report.skipped_warning(spec.input.name, "left alone"),
            account_of=account_of if by_code is not None else None,  # each share as the account that made it
        )

    return await run_journaled(spec, auth, plan, batch_settings, interactive=interactive,
                               handle_signals=handle_signals, settings=None, fresh=fresh, kind=follow.kind)
