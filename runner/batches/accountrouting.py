"""A batch of several owner accounts: each row is sent, looked up and paced as its own account.

The engine sees one action; `AccountRouter` hands each row to the action of its account's client
(its own token, base URL and rate gate), and the engine's lanes (runner/engine/lanes.py) keep
each account's in-flight limit and stop. Rows that name no account use the default credentials
(DEFAULT_ACCOUNT); when none were given, such a row is not sent and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from runner.engine.lanes import Lanes
from runner.engine.protocols import Action, ActionResult, Found, Reconciled
from runner.errors import UsageError
from runner.platform.session import DEFAULT_ACCOUNT

if TYPE_CHECKING:
    from runner.batches.jobspec import JobSpec
    from runner.batches.lookups import Lookups
    from runner.batches.reportfile import RunReport
    from runner.engine.fanout import Engine
    from runner.engine.protocols import OutcomeSink
    from runner.engine.settings import EngineSettings
    from runner.models import RunStats
    from runner.platform.auth.tokens import AuthSettings
    from runner.platform.client import PlatformClient

Device = tuple[str, str]

PayloadT = TypeVar("PayloadT")

NO_DEFAULT_MESSAGE = ("not sent: the row names no account and this run has no default token (SHAREBATCH_TOKEN or "
                    "--token-file); fill in its account column, or give the default token, and run again")


def default_credentials(spec: JobSpec, env: Mapping[str, str] | None = None, *,
                        login: bool = True) -> AuthSettings | None:
    """The default token; for a job with accounts it is optional, since every row may name its account."""
    from runner.platform.auth.tokens import auth_from_env

    try:
        return auth_from_env(env, token_file=spec.token_file, login=spec.login if login else None)
    except UsageError:
        if not spec.accounts:
            raise
        return None


def lane_name(lane: Hashable) -> str:
    return f'account "{lane}"' if lane != DEFAULT_ACCOUNT else "the default account"


class AccountRouter(Generic[PayloadT]):
    """The Action of a batch with accounts: every call goes to the action of the row's account."""

    def __init__(self, actions: Mapping[str, Action[PayloadT]], account_of: Callable[[PayloadT], str | None],
                 device_of: Callable[[PayloadT], Hashable]) -> None:
        self._actions = actions
        self._account_of = account_of
        self._device_of = device_of

    def lane(self, payload: PayloadT) -> str:
        return self._account_of(payload) or DEFAULT_ACCOUNT

    def device(self, payload: PayloadT) -> Hashable:
        return self._device_of(payload)

    async def perform(self, payload: PayloadT) -> ActionResult:
        return await self._actions[self.lane(payload)].perform(payload)

    async def reconcile(self, payload: PayloadT, since_ms: int) -> Reconciled:
        lane = self.lane(payload)
        action = self._actions.get(lane)
        if action is None:  # its account has no token in this run: nobody can read its share list
            return Reconciled(Found.UNKNOWN, why=f"{lane_name(lane)} has no token in this run")
        return await action.reconcile(payload, since_ms)

    def why_not_send(self, payload: PayloadT, now_ms: int) -> str | None:
        lane = self.lane(payload)
        action = self._actions.get(lane)
        if action is not None:
            return action.why_not_send(payload, now_ms)
        if lane == DEFAULT_ACCOUNT:
            return NO_DEFAULT_MESSAGE
        return f'not sent: account "{lane}" has no token in this run; give --account {lane}=TOKEN_FILE and run again'



def routed_engine(
    spec: JobSpec, clients: Mapping[str, PlatformClient], make_action: Callable[[PlatformClient], Action[PayloadT]],
    account_of: Callable[[PayloadT], str | None] | None, sink: OutcomeSink, settings: EngineSettings,
    stats: RunStats,
) -> Engine[PayloadT]:
    """The engine of a run: one action over the default client, or (`account_of` given) one per account in lanes."""
    from runner.engine.fanout import Engine

    if account_of is None:
        return Engine(make_action(clients[DEFAULT_ACCOUNT]), sink, settings, stats)
    actions = {name: make_action(client) for name, client in clients.items()}
    router = AccountRouter(actions, account_of, next(iter(actions.values())).device)
    return Engine(router, sink, settings, stats, lanes=account_lanes(spec, router))


def account_lanes(spec: JobSpec, router: AccountRouter[PayloadT]) -> Lanes[PayloadT]:
    """Each account's own in-flight limit (its `concurrency`, else the job's), for the engine."""
    capacity: dict[Hashable, int] = {DEFAULT_ACCOUNT: spec.concurrency}
    capacity.update({name: account.concurrency or spec.concurrency for name, account in spec.accounts.items()})
    return Lanes(router.lane, capacity, lane_name)


def workers_for(spec: JobSpec) -> int:
    """Enough workers for every account's lane to be full at once."""
    return spec.concurrency + sum(account.concurrency or spec.concurrency for account in spec.accounts.values())


def report_accounts(report: RunReport, spec: JobSpec) -> Callable[[str], str | None] | None:
    """share code -> the account its row named, for revoke and extend of a report with an account column.

    None when the report names no account (everything goes with the default token). A report whose
    rows name accounts needs them on the command line: a UsageError says which, before anything is sent.
    """
    from runner.input.columns import canonical_name

    at = next((index for index, header in enumerate(report.headers) if canonical_name(header) == "account"), None)
    if at is None:
        return None
    declared = {name.casefold(): name for name in spec.accounts}
    by_code: dict[str, str] = {}
    for row in report.rows():
        name = row.cells[at].strip()
        if name:
            by_code[row.share_code] = declared.get(name.casefold(), name)
    missing = sorted(set(by_code.values()) - set(spec.accounts))
    if missing:
        options = " ".join(f"--account {name}=TOKEN_FILE" for name in missing)
        raise UsageError(f"{report.path}: its rows were shared by the accounts {', '.join(missing)}, which this "
                         f"command was not given: add {options} (the token files `sharebatch login` saved); "
                         "nothing was sent")
    return by_code.get if by_code else None


async def look_up_by_account(
    spec: JobSpec, auth: AuthSettings | None, stats: RunStats, devices: Iterable[tuple[str | None, Device]],
    settings: EngineSettings, *, deadline_s: float | None = None,
) -> Lookups:
    """Each device's share list, read with the token of the account its rows name, the accounts side by side."""
    import asyncio

    from runner.batches.lookups import Lookups, look_up_devices
    from runner.platform.session import account_clients

    by_account: dict[str, list[Device]] = {}
    for account, device in devices:
        by_account.setdefault(account or DEFAULT_ACCOUNT, []).append(device)
    async with account_clients(spec, auth, stats, with_accounts=bool(spec.accounts)) as clients:
        missing = sorted(lane_name(name) for name in by_account if name not in clients)
        if missing:
            raise UsageError(f"rows of {', '.join(missing)} have no token: give SHAREBATCH_TOKEN or --token-file "
                             "for the default account, --account NAME=TOKEN_FILE for a named one; nothing was sent")
        parts = await asyncio.gather(*(look_up_devices(clients[name], found, settings, deadline_s=deadline_s)
                                       for name, found in by_account.items()))
    merged = Lookups()
    for part in parts:
        merged.shares.update(part.shares)
        merged.failed.update(part.failed)
    stops = [part.stopped for part in parts if part.stopped]
    merged.stopped = "; ".join(stops) if stops else None
    return merged
