"""`sharebatch run`: one file as a journaled batch (`runner.batches.run`), or an inbox when the input is a glob."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.commands.console import input_overrides, interactive, log_format_of, print_result
from runner.errors import UsageError
from runner.outputs.logsetup import configure_logging


def run_command(job: Path | None, input_path: Path | None, *, debug: bool, fresh: bool, log_format: str,
                quiet: bool, reshare_revoked: bool, options: dict[str, Any]) -> int:
    """`runner.api.run` (or `runner.api.inbox` for a glob), then the summary; the exit code."""
    from runner import api
    from runner.commands.inbox import print_inbox

    configure_logging(debug=debug, log_format=log_format_of(log_format), quiet=quiet)
    overrides = input_overrides(input_path, options)
    live = interactive(log_format, quiet)
    if api.is_inbox(job, **overrides):
        if fresh:
            raise UsageError("--fresh does not apply to an inbox (input is a glob); delete a file's out dir instead")
        inbox = api.inbox(job, progress=live, **overrides)
        if log_format == "text":
            print_inbox(inbox, quiet=quiet, job=inbox.job)
        return int(inbox.exit_code)
    result = api.run(job, fresh=fresh, reshare_revoked=reshare_revoked, progress=live, **overrides)
    print_result(result, log_format)
    return int(result.exit_code)
