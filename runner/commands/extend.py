"""`sharebatch extend`: change the expiry of the shares a run created, through `setShareTime`.

The follow-up flow (`followup.py`), like `revoke`, here with SetExpiryAction. Its report
lists `extended`, `already_ended` (the share had already ended), `failed` or `not_attempted`.
The new expiry is one `--expiry WHEN` for every row, in any form an expiry cell takes; relative
forms (`90d`) count from the batch's first start, so a resumed extend asks for the same instant.
`setShareTime` requires an expiry, so it cannot make a share permanent (docs/platform-api.md §4.4).
It marks nothing in the run's journal: the shares it touches still exist.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.batches.actions import SetExpiryAction
from runner.batches.batchdir import share_batch_lock
from runner.batches.jobspec import JobSpec
from runner.batches.reportfile import RunReport
from runner.batches.results import BatchResult
from runner.clock import now_ms
from runner.commands.console import interactive, log_format_of, print_result
from runner.commands.followup import FollowUp, parse_rows, run_followup
from runner.engine.journal import Journal
from runner.errors import ExpiryError, UsageError
from runner.input.expiry import ExpiryParser, load_timezone
from runner.outputs.logsetup import configure_logging
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


def _decode(payload: str) -> tuple[str, int]:
    share_code, expire_at_ms = json.loads(payload)
    return str(share_code), int(expire_at_ms)


#: extend's action over the report's rows: the payload is [share code, new expiry in epoch ms]
EXTEND = FollowUp("extend", SetExpiryAction, decode=_decode, subject=lambda payload: _decode(payload)[0])


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _rows_text(rows: list[int]) -> str:
    return ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else "")


def expiry_changes(report: RunReport, new_ms: int, *, allow_shorten: bool, allow_end_permanent: bool) -> str:
    """What the new expiry does to the selected shares, from the expiry each was created with (report.csv's
    `expiry_sent`); UsageError, before anything is sent, when it would take access away unasked."""
    shortened: list[int] = []
    ended: list[int] = []
    for row in report.rows():
        sent = row.outcome.get("expiry_sent", "")
        if sent == "permanent":
            ended.append(row.row)
        elif sent:
            try:
                old_ms = int(datetime.fromisoformat(sent.replace("Z", "+00:00")).timestamp() * 1000)
            except ValueError:
                continue
            if new_ms < old_ms:
                shortened.append(row.row)
    if shortened and not allow_shorten:
        raise UsageError(f"--expiry {_iso(new_ms)} is earlier than the expiry of {len(shortened)} selected shares "
                         f"(rows {_rows_text(shortened)}): it would shorten them. Nothing was sent; pass "
                         "--allow-shorten if that is meant, or --rows to leave them out")
    if ended and not allow_end_permanent:
        raise UsageError(f"--expiry {_iso(new_ms)} would give {len(ended)} permanent shares an end (rows "
                         f"{_rows_text(ended)}). Nothing was sent; pass --allow-end-permanent if that is meant, or "
                         "--rows to leave them out")
    return (f"new expiry {_iso(new_ms)}: {len(shortened)} of the selected shares are shortened, {len(ended)} "
            "permanent shares now end, the others are extended")


async def extend_batch(
    spec: JobSpec,
    auth: AuthSettings | None,
    *,
    expiry: str | None,
    rows: str | None = None,
    interactive: bool = False,
    handle_signals: bool = True,
    fresh: bool = False,
    allow_shorten: bool = False,
    allow_end_permanent: bool = False,
) -> BatchResult:
    """Set the expiry of the shares of `spec.input` (a report.csv); resumable like a share run."""
    wanted = parse_rows(rows)
    new_ms = parse_new_expiry(expiry, spec.timezone, now_ms())  # a bad or permanent expiry stops before any out dir
    note = expiry_changes(RunReport(spec.input, wanted), new_ms, allow_shorten=allow_shorten,
                          allow_end_permanent=allow_end_permanent)  # not a report: stop here too

    def new_expiry(journal: Journal) -> tuple[int, ...]:
        return (parse_new_expiry(expiry, spec.timezone, journal.anchor_ms(now_ms())),)

    settings: dict[str, object] = {"rows": rows, "expiry": expiry, "timezone": spec.timezone}
    with share_batch_lock(spec.input.parent, spec.out):  # no run of the batch while its expiries change
        return await run_followup(spec, auth, EXTEND, wanted, settings, carry=new_expiry, interactive=interactive,
                                  handle_signals=handle_signals, fresh=fresh, notes=[note])


def extend_command(report: Path, new_expiry: str | None, rows: str | None, out: Path | None, *, debug: bool,
                   fresh: bool, allow_shorten: bool, allow_end_permanent: bool, options: dict[str, Any],
                   log_format: str = "text", quiet: bool = False) -> int:
    """`runner.api.extend`, then the summary; the exit code."""

    from runner import api

    configure_logging(debug=debug, log_format=log_format_of(log_format), quiet=quiet)
    result = api.extend(report, expiry=new_expiry or "", rows=rows, out=out, fresh=fresh,
                        progress=interactive(log_format, quiet), allow_shorten=allow_shorten,
                        allow_end_permanent=allow_end_permanent, **options)
    print_result(result, log_format)
    return int(result.exit_code)
