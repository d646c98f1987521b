"""How the engine runs a batch (concurrency, retries, the circuit breaker, a canary's row budget,
a failure brake) and what it reports back: plain values the commands build and read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowBudget:
    """Work on at most `rows` rows this run; `note` is the message of each row held back."""

    rows: int
    note: str


@dataclass(frozen=True)
class FailureBrake:
    """Stop the run once `count` rows have failed, or once `share` of the rows finished so far
    (after at least `min_rows`) have; `label` names the limit in the stop message."""

    count: int | None = None
    share: float | None = None
    min_rows: int = 20
    label: str = ""

    def tripped(self, failed: int, finished: int) -> bool:
        if self.count is not None and failed >= self.count:
            return True
        return self.share is not None and finished >= self.min_rows and failed >= self.share * finished


@dataclass(frozen=True)
class EngineSettings:
    concurrency: int = 4
    max_attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    grace_s: float = 5.0  # how long in-flight rows may finish after a stop
    breaker_window: int = 50  # rows looked at by the circuit breaker
    breaker_ratio: float = 0.5  # more than this share of them exhausting retries stops the run
    unreachable_rows: int = 3  # rows in a row that got no connection before the run stops
    budget: RowBudget | None = None  # a canary: at most this many rows
    brake: FailureBrake | None = None  # stop once too many rows have failed
    #: a row in doubt is looked up only this long after its latest doubtful attempt began (engine/settle.py);
    #: 0: at once (revoke and extend, whose requests are harmless to repeat)
    settle_s: float = 0.0


@dataclass
class EngineResult:
    stopped: str | None = None  # why the run stopped early, None when it went through
    interrupted: bool = False  # stopped by request_stop() (a signal), not by the platform
    held_back: int = 0  # rows the row budget held back and reported not_attempted
