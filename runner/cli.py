"""The `sharebatch` command: the click group, each command's options and help, and the lazy loading.

Each command here only parses its options and calls its `runner.commands.*` function, imported
when the command runs (so `--help` stays fast), and exits with the code it returns. Every error
becomes one line on stderr (`runner.commands.console.handle_errors`).
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any, ClassVar

import click

from runner import __version__
from runner.clioptions import fresh_option, job_options, output_options, sending_options
from runner.commands.console import handle_errors

log = logging.getLogger("runner")

_RUN_HELP = """Share devices in bulk: validate every row of the input, send the valid ones, report every row.

JOB is an optional TOML job file; its keys mirror the long options, and options win over it.
Without a job file, --input and --base-url (or --region) are enough. The access token comes
from the SHAREBATCH_TOKEN environment variable, never from an option.

\b
Outputs (in --out, default out/<job name or input file name>):
  report.csv      every input row with status, code, message, share_code, ...
  failed.csv      every row still to do (failed, invalid, unknown, not attempted) with an
                  `error` column, to fix and run again, written like the input (its CSV
                  delimiter and encoding; failed.xlsx with its sheet name for a spreadsheet);
                  rows that may have been applied carry `in_doubt_since` and are looked
                  up before they are sent again
  summary.json    counts, codes, requests, retries, rate, warnings

\b
Exit codes: 0 every unique row succeeded; 1 some rows failed, were invalid or unknown;
2 usage, config or input file error (nothing sent); 3 stopped early (rows left
not_attempted); 4 another run holds the out dir; 5 login refused (`login` only);
130/143 interrupted by Ctrl-C / SIGTERM.

Running the same command again resumes: rows already shared are not sent again. A job
whose input is a glob (inbox/*.csv) processes each new file once (see README).
"""


class _LazyGroup(click.Group):
    """Imports a command's module only when it is used, so `--help` stays fast."""

    # name -> (module:attribute, the one-line help shown in `sharebatch --help`)
    lazy_commands: ClassVar[dict[str, tuple[str, str]]] = {
        "simulate": ("runner.simulator.cli:simulate", "Run the built-in platform simulator on loopback."),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self.lazy_commands[cmd_name][0].split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            if name in self.lazy_commands:
                rows.append((name, self.lazy_commands[name][1]))
                continue
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sharebatch")
def main() -> None:
    """sharebatch: share IoT devices with their users in bulk, from a CSV or XLSX file.

    Start with `sharebatch demo`, which runs a sample batch against the built-in simulator.
    """
    _refuse_unsupported_platform()


def _refuse_unsupported_platform() -> None:
    """Windows has neither the POSIX file lock nor the signals a batch relies on: refuse in one line, exit 2."""
    from runner.errors import UNSUPPORTED_PLATFORM

    if sys.platform == "win32":
        click.echo(f"error: {UNSUPPORTED_PLATFORM}", err=True)
        sys.exit(2)


@main.command(short_help="Share devices in bulk from a CSV or XLSX file.", help=_RUN_HELP)
@job_options
@sending_options
@fresh_option
@click.option("--skip-existing", is_flag=True, default=None,
              help="Look each device's shares up first; rows whose share (same recipient, same expiry) is already "
              "in place are not sent and end success with its share code; rows of devices the platform will not "
              "show (5141) end failed. See `sharebatch plan`.")
@output_options
@click.option("--limit", type=int, help="A canary: send at most N more rows of the batch; the rest stay "
              "not_attempted and the same command without --limit sends them. [default: every row]")
@click.option("--max-failures", help="Stop cleanly (exit 3, the rest not_attempted) once N rows have failed, or "
              "P% of the rows finished so far (judged after 20 rows), e.g. 10 or 5%. [default: no limit]")
@click.option("--retry-failed", is_flag=True, default=None,
              help="Also re-send the failed rows the platform refused for a reason re-sending cannot change (a "
              "resumed run re-sends only failures that may pass: timeouts, 5xx, retry_codes).")
@click.option("--mask-recipients", is_flag=True, default=None,
              help="In report.html, mask recipients' emails, phones and uids, for a report to mail "
              "(report.csv keeps them in full).")
@click.option("--reshare-revoked", is_flag=True,
              help="After `sharebatch revoke` of this batch: share the revoked rows anew (new share codes); "
              "the other rows stay as they are.")
@handle_errors
def run(
    job: Path | None, input_path: Path | None, debug: bool, fresh: bool, log_format: str, quiet: bool,
    reshare_revoked: bool, **options: Any,
) -> None:
    from runner.commands.run import run_command

    sys.exit(run_command(job, input_path, debug=debug, fresh=fresh, log_format=log_format, quiet=quiet,
                         reshare_revoked=reshare_revoked, options=options))


@main.command(short_help="Check an input file; send nothing.")
@job_options
@output_options
@handle_errors
def validate(
    job: Path | None, input_path: Path | None, debug: bool, log_format: str, quiet: bool, **options: Any
) -> None:
    """Load and validate the input like `run`, send nothing, and write the same report.

    The report goes to OUT/validate/ (never over a run's report in OUT). Each row's status is
    valid, invalid or duplicate. Exit 0 when no row is invalid (duplicates are reported, not
    counted as errors), 1 otherwise, 2 for a file or config problem, 4 while a run holds OUT.
    """
    from runner.commands.validate import validate_command

    sys.exit(validate_command(job, input_path, debug=debug, log_format=log_format, quiet=quiet, options=options))


@main.command(short_help="Undo a batch: revoke the shares a run created.")
@click.argument("report", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--rows", "rows", help="Only these report rows, e.g. 3,7-12. [default: every successful row]")
@click.option("--mask-recipients", is_flag=True, default=None,
              help="In report.html, mask recipients' emails, phones and uids, for a report to mail.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Output folder. [default: a `revoke` folder beside the report]")
@sending_options
@fresh_option
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@output_options
@handle_errors
def revoke(
    report: Path, rows: str | None, out: Path | None, debug: bool, fresh: bool, log_format: str, quiet: bool,
    **options: Any,
) -> None:
    """Undo a batch: revoke every share that a run's report.csv says it created.

    Takes the rows with status success and a share code (or only --rows), revokes them through
    ownerUserUnshareDevice with the same rate limit, retries, journal, resume and lock as `run`,
    and writes its own report: revoked, already_ended (the share had already ended), failed or
    not_attempted. Each --rows selection is a batch of its own: another selection moves the
    earlier revoke report to OUT/history/. Exit codes as for `run`; a selection that holds no
    successful share exits 1 and touches nothing.
    """
    from runner.commands.revoke import revoke_command

    sys.exit(revoke_command(report, rows, out, debug=debug, fresh=fresh, log_format=log_format, quiet=quiet,
                            options=options))


_PLAN_HELP = """Show what a batch would do to the shares that already exist, before running it.

Loads and validates the input like `run` (same JOB file and options), reads each distinct
device's share list once (deviceShareUserList, under the same rate limit, retries and token
handling as `run`) and writes OUT/plan/plan.csv: every input row, its columns, then row,
action and detail. Nothing is shared or changed, and a run's outputs in OUT are not touched.

\b
Actions:
  create         nothing like it exists: it will be shared
  in_place       this recipient already has a share of the device with this expiry
                 (detail: its share code); `run --skip-existing` will not send it
  change_expiry  this recipient has a share with another expiry (detail: both)
  replaces       cover mark 1: this row ENDS the shares of other recipients of the
                 device (from the platform or earlier rows; detail names each)
  no_permission  the platform will not show this device (5141: not this account's)
  lookup_failed  the device's share list could not be read
  invalid / duplicate  as `validate` says; never sent

\b
Exit codes: 0 every row is create or in_place; 1 some row needs a look (change_expiry,
replaces, no_permission, lookup_failed, invalid); 2 usage, config or input file error;
3 the look-ups stopped (fatal answer, rejected token); 4 another run holds OUT.
"""


@main.command(short_help="Show what a batch would do to existing shares; change nothing.", help=_PLAN_HELP)
@job_options
@sending_options
@output_options
@handle_errors
def plan(
    job: Path | None, input_path: Path | None, debug: bool, log_format: str, quiet: bool, **options: Any
) -> None:
    from runner.commands.plan import plan_command

    sys.exit(plan_command(job, input_path, debug=debug, log_format=log_format, quiet=quiet, options=options))


@main.command(short_help="Who has accepted: the state of each share a run created.")
@click.argument("report", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Output folder. [default: a `track` folder beside the report]")
@click.option("--map", "column_map", multiple=True, metavar="COLUMN=HEADER",
              help="The header pk or dk was read from, as the run was given it (e.g. --map dk=IMEI).")
@sending_options
@output_options
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@handle_errors
def track(report: Path, out: Path | None, debug: bool, log_format: str, quiet: bool, **options: Any) -> None:
    """Read the share list of every device a run's report.csv shared, and say where each share stands.

    For every row with status success, writes OUT/track.csv: the report's columns plus
    share_state (accepted, pending, ended, missing; unknown when the device's list could not be
    read) and accepted_at (UTC). Rate limit, retries and tokens as `run`; nothing changes on
    the platform. Exit 0 when every state was read, 1 when some could not be, 3 when the
    look-ups stopped, 2 for a file or option problem.
    """
    from runner.commands.track import track_command

    sys.exit(track_command(report, out, debug=debug, log_format=log_format, quiet=quiet, options=options))


@main.command(short_help="Change the expiry of the shares a run created.")
@click.argument("report", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--expiry", "new_expiry", metavar="WHEN",
              help="The new expiry, in any form an expiry cell takes: 2027-03-31, an ISO date-time, epoch ms, "
              "90d (from the first start of this extend). Required; it cannot be permanent.")
@click.option("--rows", "rows", help="Only these report rows, e.g. 3,7-12. [default: every successful row]")
@click.option("--timezone", help="IANA timezone for a WHEN without an offset. [default: UTC]")
@click.option("--allow-shorten", is_flag=True, help="Allow a WHEN earlier than a share's expiry (takes access away "
              "sooner). [default: refused, nothing sent]")
@click.option("--allow-end-permanent", is_flag=True, help="Allow giving a permanent share an end. [default: "
              "refused, nothing sent]")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Output folder. [default: an `extend` folder beside the report]")
@sending_options
@fresh_option
@output_options
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@handle_errors
def extend(
    report: Path, new_expiry: str | None, rows: str | None, out: Path | None, debug: bool, fresh: bool,
    allow_shorten: bool, allow_end_permanent: bool, log_format: str, quiet: bool, **options: Any,
) -> None:
    """Change the expiry of every share a run's report.csv says it created (setShareTime).

    Takes the rows with status success and a share code (or only --rows) and sets each share's
    expiry to WHEN, with the same rate limit, retries, journal, resume and lock as `run`. Its
    own report lists extended, already_ended (the share had already ended), failed or
    not_attempted. The platform's setShareTime always needs an expiry, so "permanent" or an
    empty WHEN is refused (exit 2). Exit codes as for `run`.
    """
    from runner.commands.extend import extend_command

    sys.exit(extend_command(report, new_expiry, rows, out, debug=debug, fresh=fresh, allow_shorten=allow_shorten,
                            allow_end_permanent=allow_end_permanent, log_format=log_format, quiet=quiet,
                            options=options))


@main.command(short_help="Log in once; save tokens for unattended runs.")
@click.option("--email", help="Log in with this account email.")
@click.option("--phone", help="Log in with this account phone number.")
@click.option("--international-code", default="86", show_default=True, help="Country code of --phone.")
@click.option("--user-domain", required=True, help="The app's user domain (Developer Center, App details).")
@click.option("--base-url", help="Platform base URL, e.g. https://iot-api.acceleronix.io.")
@click.option("--region", type=click.Choice(["eu", "cn"]), help="Shortcut for the documented EU or CN base URL.")
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to save the tokens (mode 0600). [default: ~/.config/sharebatch/token.json]")
@click.option("--allow-insecure-http", is_flag=True, default=None, help="Allow plain http to a non-loopback host.")
@click.option("--ca-bundle", type=click.Path(path_type=Path, dir_okay=False), help="Extra CA certificates (PEM).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@handle_errors
def login(
    email: str | None, phone: str | None, international_code: str, user_domain: str, base_url: str | None,
    region: str | None, token_file: Path | None, allow_insecure_http: bool | None, ca_bundle: Path | None, debug: bool,
) -> None:
    """Log in with email or phone + password and save the tokens for unattended runs.

    The password comes from SHAREBATCH_PASSWORD and the user-domain secret from
    SHAREBATCH_USER_DOMAIN_SECRET, or from a prompt that does not echo; never from an option.
    A refused login is never retried: wrong passwords count towards a 20-minute account freeze.
    """
    from runner.commands.login import login_command

    login_command(email, phone, international_code, user_domain, base_url, region, token_file, allow_insecure_http,
                  ca_bundle, debug)


@main.command(short_help="Show a job's progress from its journal.")
@click.argument("job", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="The job's output folder. [default: out/<job or input name>]")
@click.option("--input", "input_path", type=click.Path(path_type=Path), help="Input file (names the default out dir).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout: {\"batches\": [...]}.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@handle_errors
def status(job: Path | None, out: Path | None, input_path: Path | None, as_json: bool, debug: bool) -> None:
    """Show a batch from its journal and lock; with a job, also warn about its accounts' tokens and clock.

    The batch comes from the journal and the lock alone. Given the job file (or --input), each
    account's token expiry is checked and the platform's clock read (one HEAD request, no token).

    Give the job file, or --out DIR. For each batch: running (with the lock holder), finished,
    stopped or cut_off (the last run was killed; rows it left in flight are in doubt), the first
    start and last finish, rows per status and failed rows per platform code. Exit 0 when every
    batch finished (every row has its outcome, no run is active), 1 otherwise.
    """
    from runner.commands.status import status_command

    sys.exit(status_command(job, out, input_path, as_json=as_json))


@main.command(short_help="Run the sample batch against the built-in simulator.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("out/demo"),
              show_default=True, help="Where the demo's report, failed rows and summary go.")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@output_options
@handle_errors
def demo(out: Path, debug: bool, log_format: str, quiet: bool) -> None:
    """Run the sample batch against the built-in simulator: no account, no network needed.

    Starts the simulator on a free loopback port (a little latency, a few faults), runs the demo
    job over a few hundred sample rows that include failing, invalid and duplicate rows, and shows
    where the outputs are. Exits 0 when the demo ran as designed.
    """
    from runner.commands.demo import demo_command

    sys.exit(demo_command(out, debug=debug, log_format=log_format, quiet=quiet))


def entry() -> None:
    """The `sharebatch` command (and `python -m runner`): `main`, in a process of its own.

    The cyclic garbage collector is tuned here, not in `main`, which tests and the Python API
    reach inside other processes. A batch makes a few short-lived objects per row that reference
    counting frees; at the default threshold (700) the collector still ran thousands of times
    and walked everything start-up made: 6 % of a 20,000-row run. Freezing what start-up made
    and collecting the young generation every 10,000 allocations took that back.
    """
    import gc

    gc.freeze()
    gc.set_threshold(10_000, 20, 100)
    main()
