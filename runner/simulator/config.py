"""The simulator's knobs: load, faults, token lifetimes, seed, and the demo login account.

Kept apart from the server so the CLI, tests and the demo can build a config without aiohttp.
`SimulatorConfig` is deliberately mutable: tests and `POST /_sim/config` flip faults on and off
while the server runs, and every request reads the current values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

#: the simulator's demo user-domain secret (44 characters, like the platform's); not a real one
DEMO_USER_DOMAIN_SECRET = "SimDemo0nly4LocalTestsNotAPlatformSecret0001"  # nosec B105  # public, simulator only


class FaultKind(StrEnum):
    """A failure the simulator can inject into a `shareByUid` request; the value is logged verbatim."""

    SERVER_ERROR = "server_error"  #: HTTP 500/502/503, nothing applied
    RESET_BEFORE_APPLY = "reset_before_apply"  #: TCP reset with no answer, nothing applied
    DROP_AFTER_APPLY = "drop_after_apply"  #: share applied, then the connection closed with no answer
    SLOW_AFTER_APPLY = "slow_after_apply"  #: share applied, answer held `slow_fault_s` (client times out)
    HTML_AFTER_APPLY = "html_after_apply"  #: share applied, then HTTP 200 with a proxy's HTML page
    TRUNCATED_AFTER_APPLY = "truncated_after_apply"  #: share applied, then HTTP 200 with half the JSON
    EMPTY_DATA_AFTER_APPLY = "empty_data_after_apply"  #: share applied, code 200 but `data` null
    ODD_CODE_AFTER_APPLY = "odd_code_after_apply"  #: share applied, then a code the docs do not list (5999)
    LATE_APPLY = "late_apply"  #: held `late_apply_s` (a range) past the client's timeout, then applied


#: what `fault_rate` draws from unless told otherwise: the first wave's faults. The later kinds
#: are opt-in, so a demo or a rehearsal keeps the mix it always had.
DEFAULT_FAULT_KINDS: tuple[FaultKind, ...] = (
    FaultKind.SERVER_ERROR, FaultKind.RESET_BEFORE_APPLY, FaultKind.DROP_AFTER_APPLY, FaultKind.SLOW_AFTER_APPLY,
)


@dataclass
class SimulatorConfig:
    """How the simulator behaves; see the package docstring for what each fault looks like."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_limit: float | None = None  # admitted requests/s over a sliding 1 s window; None = unlimited
    fault_rate: float = 0.0  # probability per shareByUid request that a fault fires
    fault_kinds: tuple[FaultKind, ...] = DEFAULT_FAULT_KINDS  # which faults may fire, chosen uniformly
    #: at most this many faults fire from now on (None: no limit); counts down as they fire, so a
    #: test can ask for "exactly the next request fails" with fault_rate 1 and fault_budget 1
    fault_budget: int | None = None
    slow_fault_s: float = 40.0  # how long SLOW_AFTER_APPLY holds the answer
    #: the next N share-list look-ups (deviceShareUserList) answer HTTP 5xx; counts down as they do,
    #: so a test can make a look-up fail once (a retry) or always (a row left `unknown`)
    list_failures: int = 0
    #: LATE_APPLY holds a request this many seconds (drawn uniformly from the range), then applies it
    late_apply_s: tuple[float, float] = (2.0, 5.0)
    #: probability that a deviceShareUserList request is answered HTTP 503 (a share list that cannot be read)
    list_fault_rate: float = 0.0
    #: the simulated platform's clock runs this far ahead of the host's (negative: behind); see timefaults.py
    clock_offset_s: float = 0.0
    #: the shareStatus a valid share is listed with; the docs do not say what a fresh invite shows
    #: (docs/platform-api.md §6.13), so tests set another value to prove nothing depends on it
    listed_status: int = 1
    token_ttl_s: float = 7200.0
    refresh_ttl_s: float = 30 * 86400.0
    devices_file: Path | None = None
    seed: int | None = None
    owner_uid: str = "C100001"
    #: more owner accounts, each with its own token pair, devices and window (simulator/accounts.py)
    accounts: tuple[str, ...] = ()
    #: admitted requests/s per account over a sliding 1 s window; None = no per-account limit
    account_rate_limit: float | None = None
    #: accounts answered 5325 (blocked for 24 hours) on every call
    blocked_accounts: tuple[str, ...] = ()
    # Password logins (emailPwdLogin / phonePwdLogin) accept the owner's credentials below, signed
    # with this user domain's secret. Demo values for a local test server: the secret and the
    # password are kept out of repr() and /_sim/config, and only `sharebatch simulate` prints them.
    # Read once at start: changing them on a running simulator has no effect.
    user_domain: str = "E.DM.SIM.1"
    user_domain_secret: str = field(default=DEMO_USER_DOMAIN_SECRET, repr=False)
    owner_email: str = "owner@example.com"
    owner_phone: str = "13800000000"
    owner_international_code: str = "86"
    owner_password: str = field(default="Sharebatch1", repr=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Fail early with a plain message; called at start and after every runtime change."""
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must be >= 0")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be > 0 (or None for unlimited)")
        if self.account_rate_limit is not None and self.account_rate_limit <= 0:
            raise ValueError("account_rate_limit must be > 0 (or None for unlimited)")
        self.accounts = tuple(str(uid) for uid in self.accounts)
        self.blocked_accounts = tuple(str(uid) for uid in self.blocked_accounts)
        if not 0.0 <= self.fault_rate <= 1.0 or not 0.0 <= self.list_fault_rate <= 1.0:
            raise ValueError("fault_rate and list_fault_rate must be between 0 and 1")
        if self.fault_rate > 0 and not self.fault_kinds:
            raise ValueError("fault_rate > 0 needs at least one fault kind")
        self.fault_kinds = tuple(FaultKind(kind) for kind in self.fault_kinds)
        if self.fault_budget is not None and self.fault_budget < 0:
            raise ValueError("fault_budget must be >= 0 (or None for no limit)")
        if self.list_failures < 0:
            raise ValueError("list_failures must be >= 0")
        if self.slow_fault_s < 0:
            raise ValueError("slow_fault_s must be >= 0")
        low, high = (float(value) for value in self.late_apply_s)
        if not 0 <= low <= high:
            raise ValueError("late_apply_s must be a range [low, high] with 0 <= low <= high")
        self.late_apply_s = (low, high)
        if self.token_ttl_s <= 0 or self.refresh_ttl_s <= 0:
            raise ValueError("token_ttl_s and refresh_ttl_s must be > 0")
        if not self.user_domain.strip() or not self.user_domain_secret.strip():
            raise ValueError("user_domain and user_domain_secret must not be empty")
        if not self.owner_password:
            raise ValueError("owner_password must not be empty")
