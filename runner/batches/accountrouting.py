"""A batch of several owner accounts: each row is sent, looked up and paced as its own account.

The engine sees one action; `AccountRouter` hands each row to the action of its account's client
(its own token, base URL and rate gate), and the engine's lanes (runner/engine/lanes.py) keep
each account's in-flight limit and stop. Rows that name no account use the default credentials
(DEFAULT_ACCOUNT); when none were given, such a row is not sent and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from runner.engine.lanes import Lanes
from runner.engine.protocols import Action, ActionResult
from runner.errors import UsageError
from runner.platform.session import DEFAULT_ACCOUNT

if TYPE_CHECKING:
    from runner.batches.jobspec import JobSpec
    from runner.platform.auth.tokens import AuthSettings

PayloadT = TypeVar("PayloadT")

NO_DEFAULT_TOKEN = ("not sent: the row names no account and this run has no default token (SHAREBATCH_TOKEN or "
                    "--token-file); fill in its account column, or give the default token, and run again")


def default_credentials(spec: JobSpec) -> AuthSettings | None:
    """The default token of a job with accounts: optional, since every row may name its account."""
    from runner.platform.auth.tokens import auth_from_env

    try:
        return auth_from_env(token_file=spec.token_file, login=spec.login)
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

    async def reconcile(self, payload: PayloadT, since_ms: int) -> ActionResult | None:
        action = self._actions.get(self.lane(payload))
        return await action.reconcile(payload, since_ms) if action is not None else None

    def why_not_send(self, payload: PayloadT, now_ms: int) -> str | None:
        action = self._actions.get(self.lane(payload))
        return NO_DEFAULT_TOKEN if action is None else action.why_not_send(payload, now_ms)


def account_lanes(spec: JobSpec, router: AccountRouter[PayloadT]) -> Lanes[PayloadT]:
    """Each account's own in-flight limit (its `concurrency`, else the job's), for the engine."""
    capacity: dict[Hashable, int] = {DEFAULT_ACCOUNT: spec.concurrency}
    capacity.update({name: account.concurrency or spec.concurrency for name, account in spec.accounts.items()})
    return Lanes(router.lane, capacity, lane_name)


def workers_for(spec: JobSpec) -> int:
    """Enough workers for every account's lane to be full at once."""
    return spec.concurrency + sum(account.concurrency or spec.concurrency for account in spec.accounts.values())
