"""`sharebatch plan`: what a batch would do to the shares that already exist, before it is run.

It loads and validates the input like `run`, reads each distinct device's share list once
(through the engine: the run's rate limit, retries and token handling; nothing is created or
changed), and writes `<out>/plan/plan.csv`: every input row, its original columns, then `row`,
`action` and `detail` (`runner.shares.model` explains the actions). It runs under the out dir's
lock and never writes over a run's outputs.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.batches.accountrouting import look_up_by_account
from runner.batches.jobspec import JobSpec
from runner.batches.lookups import Lookups
from runner.batches.sharerows import input_options, iter_rows, validation_outcome
from runner.clock import now_ms
from runner.commands.console import echo, input_overrides
from runner.engine.runlock import RunLock
from runner.engine.settings import EngineSettings
from runner.errors import ExitCode, UsageError
from runner.events import log_event
from runner.input.formula import guard_cells
from runner.input.rows import open_input
from runner.models import LoadedRow, RowStatus, RunStats
from runner.outputs.atomic import atomic_writer
from runner.outputs.logsetup import configure_logging
from runner.platform.auth.tokens import AuthSettings
from runner.shares.model import NEEDS_A_LOOK, DeviceModel, PlanAction, Planned

PLAN_DIR = "plan"
PLAN_COLUMNS = ("row", "action", "detail")


@dataclass
class PlanResult:
    plan_path: Path
    counts: Counter[str] = field(default_factory=Counter)  # rows per action
    requests: int = 0
    stopped: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """0 when every row is create or in_place, 1 when a row needs a look, 3 when the look-ups stopped."""
        if self.stopped:
            return ExitCode.ABORTED
        if any(self.counts[action.value] for action in NEEDS_A_LOOK):
            return ExitCode.ROWS_FAILED
        return ExitCode.OK


def plan_rows(rows: Iterable[LoadedRow], lookups: Lookups) -> Iterator[tuple[LoadedRow, Planned]]:
    """Each row with its action, in input order, from the devices' share lists in `lookups`."""
    model = DeviceModel(lookups.shares)
    for row in rows:
        request = row.request
        if request is None:
            outcome = validation_outcome(row)
            action = PlanAction.INVALID if outcome.status is RowStatus.INVALID else PlanAction.DUPLICATE
            yield row, Planned(action, outcome.message)
            continue
        refused = lookups.refused(request.device)
        if refused is not None:
            yield row, Planned(PlanAction.NO_PERMISSION, refused.message)
            continue
        if request.device not in lookups.shares:
            failed = lookups.failed.get(request.device)
            why = failed.message if failed is not None else lookups.stopped or "not looked up"
            yield row, Planned(PlanAction.LOOKUP_FAILED, f"the device's share list could not be read: {why}")
            continue
        yield row, model.plan(row.row, request)


async def plan_batch(
    spec: JobSpec, auth: AuthSettings | None, *, settings: EngineSettings | None = None
) -> PlanResult:
    """Look up every device of the input and write plan.csv; sends no share and changes none."""
    if spec.base_url is None:
        raise UsageError("no base URL: give --base-url URL or --region eu|cn (or set it in the job file)")
    source = open_input(input_options(spec, now_ms()))  # a bad file stops here, before the out dir is touched
    settings = settings or EngineSettings(concurrency=spec.concurrency, max_attempts=spec.max_attempts)
    result = PlanResult(plan_path=spec.out / PLAN_DIR / "plan.csv")
    with RunLock(spec.out):
        devices = ((row.request.account, row.request.device) for row in iter_rows(source) if row.request is not None)
        stats = RunStats()
        lookups = await look_up_by_account(spec, auth, stats, devices, settings, deadline_s=spec.deadline_s)
        result.requests, result.stopped = stats.requests, lookups.stopped
        with atomic_writer(result.plan_path) as handle:
            writer = csv.writer(handle)
            writer.writerow(guard_cells([*source.headers, *PLAN_COLUMNS]))
            for row, planned in plan_rows(iter_rows(source), lookups):
                result.counts[planned.action.value] += 1
                writer.writerow(guard_cells([*row.cells, str(row.row), planned.action.value, planned.detail]))
        result.warnings = source.warnings()
    log_event("plan_finished", f"plan written: {sum(result.counts.values())} rows, {dict(result.counts)}",
              plan=str(result.plan_path), counts=dict(result.counts), requests=result.requests,
              stopped=result.stopped)
    return result


def plan_command(job: Path | None, input_path: Path | None, *, debug: bool, options: dict[str, Any]) -> int:
    """`runner.api.plan`, then the counts and where plan.csv is; the exit code."""
    from runner import api

    configure_logging(debug=debug)
    result = api.plan(job, **input_overrides(input_path, options))
    for action, count in sorted(result.counts.items()):
        echo(f"  {action:<15}{count:>10}")
    echo(f"{sum(result.counts.values())} rows, {result.requests} requests")
    for warning in result.warnings:
        echo(f"warning: {warning}")
    if result.stopped:
        echo(f"stopped early: {result.stopped}", err=True)
    echo(f"plan: {result.plan_path}")
    return int(result.exit_code)
