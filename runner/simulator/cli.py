"""`sharebatch simulate`: run the simulator in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import json
import os
import signal
import tempfile
from pathlib import Path

import click

from runner.errors import ExitCode
from runner.simulator.config import DEFAULT_FAULT_KINDS, FaultKind, SimulatorConfig
from runner.simulator.server import RunningSimulator, start_simulator


class SimulatorStartError(click.ClickException):
    """The simulator could not start (config, devices file, address); exit code 2 like other usage errors."""

    exit_code = ExitCode.USAGE


def is_loopback(host: str) -> bool:
    """True for localhost and 127.0.0.0/8 / ::1; anything else exposes the test server."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def write_ready_file(path: Path, sim: RunningSimulator) -> None:
    """Write the connection details atomically, so a watcher never reads half a file."""
    payload = {"base_url": sim.base_url, "access_token": sim.access_token, "refresh_token": sim.refresh_token,
               "accounts": {uid: {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
                                  "access_expires_at": pair.access_expires_at,
                                  "refresh_expires_at": pair.refresh_expires_at}
                            for uid, pair in sim.account_tokens.items()}}
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def remove_ready_file(path: Path) -> None:
    """At exit: a ready file must not outlive the tokens it holds."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _announce(sim: RunningSimulator) -> None:
    click.echo(f"sharebatch simulator listening on {sim.base_url} (a local test server, not the platform)")
    click.echo(f"access token:  {sim.access_token}")
    click.echo(f"refresh token: {sim.refresh_token}")
    # Demo credentials of this local server; printed here and nowhere else.
    config = sim.config
    click.echo(f"password login for {config.owner_uid} (emailPwdLogin / phonePwdLogin, demo values):")
    click.echo(f"  email: {config.owner_email}   phone: {config.owner_phone} "
               f"(internationalCode {config.owner_international_code})   password: {config.owner_password}")
    click.echo(f"  user domain: {config.user_domain}   user domain secret: {config.user_domain_secret}")
    click.echo(
        f"try: SHAREBATCH_TOKEN='{sim.access_token}' sharebatch run "
        f"--input samples/shares.csv --base-url {sim.base_url}"
    )
    click.echo("Press Ctrl-C to stop.")


def _quiet_garbage_collector() -> None:
    """Keep the server's clock honest under load.

    A full collection over a large, growing request log paused the server for tens of milliseconds;
    requests that arrived meanwhile were then handled, and counted, in one burst, which made the
    sliding-second count overstate what the client sent. Freezing what start-up created and
    collecting the old generation rarely keeps those pauses out of the measurement.
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)


async def _serve(config: SimulatorConfig, host: str, port: int, ready_file: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        sim = await start_simulator(config, host=host, port=port)
        try:
            _announce(sim)
            if ready_file is not None:
                write_ready_file(ready_file, sim)
            await stop.wait()
        finally:
            if ready_file is not None:
                remove_ready_file(ready_file)
            await sim.close()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    click.echo("simulator stopped")


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Keep it on loopback: the simulator has no real security.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on; 0 picks a free one (printed, and written to --ready-file).")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Delay added to every API request, in milliseconds.")
@click.option("--jitter-ms", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Uniform ± spread around --latency-ms, in milliseconds.")
@click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Answer HTTP 429 (Retry-After: 1) above this many requests in any 1 s. Default: unlimited.")
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Probability that a shareByUid request meets an injected fault.")
@click.option("--fault-kind", "fault_kinds", multiple=True, type=click.Choice([k.value for k in FaultKind]),
              help="A fault that may fire (repeatable). Default: server_error, reset_before_apply, "
                   "drop_after_apply and slow_after_apply.")
@click.option("--slow-fault-s", type=click.FloatRange(min=0), default=40.0, show_default=True,
              help="How long slow_after_apply holds its answer; a large value means 'applied, never answered'.")
@click.option("--listed-status", type=int, default=1, show_default=True,
              help="shareStatus a valid share is listed with (the docs leave a fresh invite's status open).")
@click.option("--token-ttl", type=click.FloatRange(min=0, min_open=True), default=7200.0, show_default=True,
              help="Access-token lifetime in seconds (the platform's is 2 h); try 60 to rehearse refreshes.")
@click.option("--devices", "devices_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON file declaring users and devices (format: runner/simulator/directory.py).")
@click.option("--seed", type=int, default=None,
              help="Seed for latency, faults and share codes, so a rehearsal can be replayed.")
@click.option("--account", "accounts", multiple=True, metavar="UID",
              help="Another owner account (repeatable), with its own tokens (in --ready-file), devices and limit.")
@click.option("--account-rate-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Answer HTTP 429 above this many requests of one account in any 1 s. Default: unlimited.")
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Once listening, atomically write {base_url, access_token, refresh_token} here as JSON; "
                   "removed again at exit.")
def simulate(
    host: str,
    port: int,
    latency_ms: float,
    jitter_ms: float,
    rate_limit: float | None,
    fault_rate: float,
    fault_kinds: tuple[str, ...],
    slow_fault_s: float,
    listed_status: int,
    token_ttl: float,
    devices_file: Path | None,
    seed: int | None,
    accounts: tuple[str, ...],
    account_rate_limit: float | None,
    ready_file: Path | None,
) -> None:
    """Run a local imitation of the platform's share API, for demos and rehearsals.

    It prints its URL, a valid token pair for the simulated owner account and the demo credentials
    its password logins accept, then serves until Ctrl-C or SIGTERM. What it saw is at
    URL/_sim/requests and URL/_sim/stats.
    """
    if not is_loopback(host):
        click.echo(f"warning: binding {host}, which is not loopback: anyone who can reach it can use "
                   "the tokens printed below", err=True)
    try:
        config = SimulatorConfig(
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            rate_limit=rate_limit,
            fault_rate=fault_rate,
            fault_kinds=tuple(FaultKind(k) for k in fault_kinds) if fault_kinds else DEFAULT_FAULT_KINDS,
            slow_fault_s=slow_fault_s,
            listed_status=listed_status,
            token_ttl_s=token_ttl,
            devices_file=devices_file,
            seed=seed,
            accounts=accounts,
            account_rate_limit=account_rate_limit,
        )
        _quiet_garbage_collector()
        asyncio.run(_serve(config, host, port, ready_file))
    except (ValueError, OSError) as exc:  # bad devices file, address in use, unwritable ready file
        raise SimulatorStartError(str(exc)) from exc
