"""`sharebatch run`: one file as a journaled batch (`runner.batches.run`), or an inbox when the input is a glob."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.commands.console import input_overrides, interactive, journal_faults, log_format_of, print_result
from runner.errors import UsageError
from runner.outputs.logsetup import configure_logging
from runner.outputs.outdir import check_out_dir


def run_command(job: Path | None, input_path: Path | None, *, debug: bool, fresh: bool, log_format: str,
                quiet: bool, reshare_revoked: bool, options: dict[str, Any]) -> int:
    """Build the job spec from the job file and options, run the batch (or the inbox), print; the exit code."""
    import asyncio

    from runner.batches.accountrouting import default_credentials
    from runner.batches.jobspec import load_job_spec
    from runner.batches.run import run_batch
    from runner.commands.inbox import is_glob, print_inbox, run_inbox

    configure_logging(debug=debug, log_format=log_format_of(log_format), quiet=quiet)
    spec = load_job_spec(job, input_overrides(input_path, options))
    check_out_dir(spec.out)
    auth = default_credentials(spec)
    live = interactive(log_format, quiet)
    if is_glob(str(spec.input)):
        if fresh:
            raise UsageError("--fresh does not apply to an inbox (input is a glob); delete a file's out dir instead")
        if spec.limit is not None:
            raise UsageError("--limit does not apply to an inbox (input is a glob): a file would be filed as done "
                             "with rows unsent; run one file with --input and --limit first")
        with journal_faults(spec.out):
            inbox = asyncio.run(run_inbox(spec, str(spec.input), auth, interactive=live))
        if log_format == "text":
            print_inbox(inbox, quiet=quiet, job=spec.name)
        return int(inbox.exit_code)
    with journal_faults(spec.out):
        result = asyncio.run(run_batch(spec, auth, interactive=live, fresh=fresh, reshare_revoked=reshare_revoked))
    print_result(result, log_format)
    return int(result.exit_code)
