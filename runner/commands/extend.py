"""`sharebatch extend`: change the expiry of the shares a run created, through `setShareTime`.

Like `revoke`, it reads a run's report.csv, takes the rows with status success and a share code
(optionally only `--rows 3,7-12`) and runs them through the journaled engine, here with
SetExpiryAction: same rate limit, retries, journal, resume, lock and exit codes. Its report
lists `extended`, `already_ended` (the share had already ended), `failed` or `not_attempted`.
The new expiry is one `--expiry WHEN` for every row, in any form an expiry cell takes; relative
forms (`90d`) count from the batch's first start, so a resumed extend asks for the same instant.
`setShareTime` requires an expiry, so it cannot make a share permanent (docs/platform-api.md §4.4).
It marks nothing in the run's journal: the shares it touches still exist.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from runner.batches.actions import SetExpiryAction
from runner.batches.batchdir import share_batch_lock
from runner.batches.jobspec import JobSpec
from runner.batches.reportfile import RunReport
from runner.batches.run import BatchResult, JournaledPlan, run_journaled
from runner.commands.revoke import parse_rows
from runner.engine.fanout import now_ms
from runner.engine.journal import Journal, JournalEntry
from runner.errors import ExpiryError, UsageError
from runner.input.expiry import ExpiryParser, load_timezone
from runner.platform.auth.tokens import AuthSettings

#: what an operator might type for "no expiry"; setShareTime has no way to say it
_PERMANENT_WORDS = frozenset({"", "permanent", "never", "none", "no expiry"})


def parse_new_expiry(text: str | None, timezone: str, anchor_ms: int) -> int:
    """`--expiry WHEN` as epoch ms; UsageError for an unreadable, past or permanent value."""
    parsed = None
    if text is not None and text.strip().casefold() not in _PERMANENT_WORDS:
        try:
            parsed = ExpiryParser(load_timezone(timezone), anchor_ms).parse(text)
        except (ExpiryError, ValueError) as exc:
            raise UsageError(f"--expiry: {exc}") from None
    if parsed is None:
        raise UsageError("--expiry: setShareTime cannot make a share permanent (the platform requires an expiry); "
                         "give a date or a duration such as 2027-03-31 or 90d, or revoke and share again without "
                         "an expiry")
    return parsed


def _payload(share_code: str, expire_at_ms: int) -> str:
    return json.dumps([share_code, expire_at_ms])


def _decode(payload: str) -> tuple[str, int]:
    share_code, expire_at_ms = json.loads(payload)
    return str(share_code), int(expire_at_ms)


def _entry(row: int, share_code: str, expire_at_ms: int) -> JournalEntry:
    fingerprint = hashlib.sha256(f"extend\x1f{share_code}\x1f{expire_at_ms}".encode()).hexdigest()[:32]
    return JournalEntry(row, fingerprint, _payload(share_code, expire_at_ms))


async def extend_batch(
    spec: JobSpec,
    auth: AuthSettings,
    *,
    expiry: str | None,
    rows: str | None = None,
    interactive: bool = False,
    handle_signals: bool = True,
    fresh: bool = False,
) -> BatchResult:
    """Set the expiry of the shares of `spec.input` (a report.csv); resumable like a share run."""
    wanted = parse_rows(rows)
    parse_new_expiry(expiry, spec.timezone, now_ms())  # a bad or permanent expiry stops before any out dir
    RunReport(spec.input, wanted)  # not a report: stop here too

    def plan(journal: Journal, snapshot: Path) -> JournaledPlan[tuple[str, int]]:
        expire_at_ms = parse_new_expiry(expiry, spec.timezone, journal.anchor_ms(now_ms()))
        report = RunReport(snapshot, wanted)

        return JournaledPlan(
            headers=report.headers,
            input_format="csv",
            entries=(_entry(r.row, r.share_code, expire_at_ms) for r in report.rows()),
            cells=lambda: ((r.row, r.cells) for r in report.rows()),
            decode=_decode,
            subject=lambda payload: _decode(payload)[0],  # the share code
            action=SetExpiryAction,
            warnings=lambda: report.skipped_warning(spec.input.name, "left alone"),
        )

    settings: dict[str, object] = {"rows": rows, "expiry": expiry, "timezone": spec.timezone}
    with share_batch_lock(spec.input.parent, spec.out):  # no run of the batch while its expiries change
        return await run_journaled(spec, auth, plan, settings, interactive=interactive,
                                   handle_signals=handle_signals, settings=None, fresh=fresh, kind="extend")
