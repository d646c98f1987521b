"""Start and stop a simulator on a real socket, inside the caller's event loop."""

from __future__ import annotations

import asyncio
import ssl

from aiohttp import web

from runner.simulator.app import Simulator, build_app
from runner.simulator.config import SimulatorConfig
from runner.simulator.directory import load_directory
from runner.simulator.login import LoginAccount
from runner.simulator.state import SimulatorState
from runner.simulator.timefaults import platform_clock
from runner.simulator.traffic import Traffic

# In-flight handlers get this long to finish at close(); held answers end at once anyway.
_SHUTDOWN_TIMEOUT_S = 1.0


class RunningSimulator:
    """A listening simulator: where it is, the owner's tokens, and handles for in-process tests.

    `config` is the live config: changing an attribute (e.g. `fault_rate`) affects the next request.
    `state` is the `SimulatorState` (shares, users, devices, tokens; its `clock` is replaceable)
    and `traffic` the request log behind /_sim/requests and /_sim/stats.
    """

    def __init__(self, *, base_url: str, simulator: Simulator, runner: web.AppRunner) -> None:
        self.base_url = base_url
        tokens = simulator.state.issue_tokens()
        self.access_token = tokens.access_token  # "Bearer <jwt>", exactly as the platform returns it
        self.refresh_token = tokens.refresh_token
        self.state = simulator.state
        #: every owner account's first token pair, by uid (the owner's included)
        self.account_tokens = {uid: simulator.state.issue_tokens(uid)
                               for uid in dict.fromkeys((simulator.config.owner_uid, *simulator.config.accounts))}
        self.traffic = simulator.traffic
        self.config = simulator.config
        self._simulator = simulator
        self._runner = runner

    def __repr__(self) -> str:
        return f"RunningSimulator(base_url={self.base_url!r})"  # tokens stay out of logs

    async def late_applies_landed(self) -> None:
        """Wait until every request held by the late_apply fault has been applied (for in-process tests)."""
        await asyncio.gather(*self._simulator.late_tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop listening, release held answers and close every connection; safe to call twice."""
        self._simulator.closing.set()
        await self._runner.cleanup()


def owner_login_account(config: SimulatorConfig) -> LoginAccount:
    """The owner's password-login credentials, from the config."""
    return LoginAccount(
        uid=config.owner_uid,
        password=config.owner_password,
        email=config.owner_email or None,
        phone=config.owner_phone or None,
        international_code=config.owner_international_code,
    )


async def start_simulator(
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
) -> RunningSimulator:
    """Listen on host:port (0 = a free port) and return once connections are accepted.

    With `ssl_context` it serves HTTPS (tests of certificate checking use a self-signed one).

    Raises ValueError for an unusable devices file and OSError if the address is taken.
    """
    config = config if config is not None else SimulatorConfig()
    config.validate()
    users, devices = (
        load_directory(config.devices_file, config.owner_uid) if config.devices_file else ([], [])
    )
    state = SimulatorState(
        owner_uid=config.owner_uid,
        clock=platform_clock(config),
        seed=config.seed,
        access_ttl_s=config.token_ttl_s,
        refresh_ttl_s=config.refresh_ttl_s,
        users=users,
        devices=devices,
        user_domains={config.user_domain: config.user_domain_secret},
        login_accounts=[owner_login_account(config)],
    )
    simulator = Simulator(config, state, Traffic())
    runner = web.AppRunner(
        build_app(simulator), access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    scheme = "https" if ssl_context is not None else "http"
    return RunningSimulator(base_url=f"{scheme}://{url_host}:{bound_port}", simulator=simulator, runner=runner)
