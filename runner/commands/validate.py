"""`sharebatch validate`: load and check the input like `run`, send nothing, write the same report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from runner.batches.jobspec import JobSpec
from runner.batches.results import BatchResult, finish_summary, log_run_finished, write_outputs
from runner.batches.sharerows import described, input_options, iter_rows, validation_outcome
from runner.clock import now_ms, utc_now_iso
from runner.commands.console import input_overrides, log_format_of, print_result
from runner.engine.runlock import RunLock
from runner.input.rows import open_input
from runner.outputs.logsetup import configure_logging
from runner.outputs.report import Summary

VALIDATE_DIR = "validate"


def validate_batch(spec: JobSpec) -> BatchResult:
    """`sharebatch validate`: the same loading and report, nothing sent, no journal.

    Its outputs go to `<out>/validate/`, never over a run's report, under the out dir's lock.
    """
    started = time.monotonic()
    summary = Summary(started_at=utc_now_iso())
    source = open_input(input_options(spec, now_ms()))
    with RunLock(spec.out):
        pairs = ((row.cells, described(row, validation_outcome(row))) for row in iter_rows(source))
        result = write_outputs(spec.out / VALIDATE_DIR, source.headers, source.dialect, pairs, summary)
        from runner.platform.preflight import preflight_warnings  # tokens and clock, said before any run

        summary.warnings = [*source.warnings(), *preflight_warnings(spec)]
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
