"""`sharebatch validate`: load and check the input like `run`, send nothing, write the same report."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner.batches.jobspec import JobSpec
from runner.batches.results import BatchResult, finish_summary, log_run_finished, write_outputs
from runner.batches.sharerows import described, input_options, iter_rows, validation_outcome
from runner.clock import now_ms, utc_now_iso
from runner.commands.console import input_overrides, log_format_of, print_result
from runner.engine.runlock import RunLock
from runner.input.rows import InputSource, open_input
from runner.models import LoadedRow
from runner.outputs.logsetup import configure_logging
from runner.outputs.report import Summary

VALIDATE_DIR = "validate"
#: reasons listed one by one; the rest are summed up in one line
MOST_REASONS = 10

log = logging.getLogger(__name__)


class _Tally:
    """What validate explains beside its counts: invalid rows by reason, and the rows that would be permanent."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()
        self.permanent: list[int] = []

    def count(self, rows: Iterator[LoadedRow]) -> Iterator[LoadedRow]:
        for row in rows:
            if row.problem is not None:
                where = f'column "{row.problem.column}": ' if row.problem.column else ""
                # a row's own value in quotes would make every reason unique: the kind of problem counts
                self.reasons[where + re.sub(r"'[^']*'|\"[^\"]*\"", "…", row.problem.message)] += 1
            elif row.request is not None and row.request.expire_at_ms is None:
                self.permanent.append(row.row)
            yield row

    def warnings(self) -> list[str]:
        found = []
        if self.reasons:
            listed = [f"{count} x {reason}" for reason, count in self.reasons.most_common(MOST_REASONS)]
            rest = sum(self.reasons.values()) - sum(count for _, count in self.reasons.most_common(MOST_REASONS))
            found.append("invalid rows by reason: " + "; ".join(listed) + (f"; {rest} more" if rest else ""))
        if self.permanent:
            rows = ", ".join(map(str, self.permanent[:10])) + (" …" if len(self.permanent) > 10 else "")
            found.append(f"{len(self.permanent)} valid rows have no expiry and would be permanent shares (until "
                         f"revoked): rows {rows}; give an expiry cell, or --expiry, if they should end")
        return found


def mapping_line(source: InputSource) -> str:
    """Which header each column was read from: the mapping a run of this file would use."""
    pairs = sorted(source.columns.items(), key=lambda item: item[1])
    return "columns used: " + ", ".join(f'{name} <- "{source.headers[index]}"' for name, index in pairs)


def validate_batch(spec: JobSpec) -> BatchResult:
    """`sharebatch validate`: the same loading and report, nothing sent, no journal.

    Its outputs go to `<out>/validate/`, never over a run's report, under the out dir's lock.
    """
    started = time.monotonic()
    summary = Summary(started_at=utc_now_iso())
    source = open_input(input_options(spec, now_ms()))
    log.info(mapping_line(source), extra={"event": "columns_mapped", "columns": dict(source.columns)})
    tally = _Tally()
    with RunLock(spec.out):
        pairs = ((row.cells, described(row, validation_outcome(row))) for row in tally.count(iter_rows(source)))
        result = write_outputs(spec.out / VALIDATE_DIR, source.headers, source.dialect, pairs, summary)
        from runner.platform.preflight import preflight_warnings  # tokens and clock, said before any run

        summary.warnings = [*tally.warnings(), *source.warnings(), *preflight_warnings(spec)]
        finish_summary(result, started, title=spec.name, html=False)  # no requests to chart; keeps validate quick
    result.validation_only = True
    result.job, result.input_path, result.kind = spec.name, spec.input, "validate"
    log_run_finished(result)
    return result


def validate_command(job: Path | None, input_path: Path | None, *, debug: bool, log_format: str, quiet: bool,
                     options: dict[str, Any]) -> int:
    """`runner.api.validate`, then the summary; the exit code."""
    from runner import api

    configure_logging(debug=debug, log_format=log_format_of(log_format), quiet=quiet)
    result = api.validate(job, **input_overrides(input_path, options))
    print_result(result, log_format)
    return int(result.exit_code)
