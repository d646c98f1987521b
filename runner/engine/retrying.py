"""The retry policy of the engine's rows (tenacity), and what a retry tells the person watching.

Built only on a row's first transient failure: most rows succeed at once, and building the
retry machinery for each of them was the largest cost of the engine in the profile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from runner.engine.settings import EngineSettings
from runner.errors import TransientApiError
from runner.events import log_event
from runner.models import RunStats

if TYPE_CHECKING:  # tenacity is imported on the first retry (see Retries.policy)
    from tenacity import AsyncRetrying, RetryCallState

log = logging.getLogger("runner.engine.fanout")  # the engine's logger: one place to filter its lines


class Retries:
    """Builds the tenacity policy and counts and reports each retry."""

    def __init__(self, settings: EngineSettings, stats: RunStats) -> None:
        self._settings = settings
        self._stats = stats
        self._kinds_told: set[tuple[object, ...]] = set()

    def policy(self, stop: asyncio.Event, sleep: Callable[[float], Awaitable[None]]) -> AsyncRetrying:
        # imported on the first retry, not with the module: a run where every row succeeds at once never needs it
        from tenacity import AsyncRetrying, stop_after_attempt, stop_when_event_set, wait_exponential_jitter

        settings = self._settings
        return AsyncRetrying(
            stop=stop_after_attempt(settings.max_attempts) | stop_when_event_set(stop),  # type: ignore[arg-type]
            retry=_should_retry,
            wait=wait_exponential_jitter(
                multiplier=settings.backoff_initial_s, max=settings.backoff_max_s, jitter=settings.backoff_initial_s
            ),
            sleep=sleep,
            before_sleep=self._before_retry,
            reraise=True,
        )

    def _before_retry(self, retry_state: RetryCallState) -> None:
        self._stats.retries += 1
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        state = retry_state.args[0] if retry_state.args else None
        row = getattr(state, "row", None)
        log_event("retry", f"retrying row {row} after attempt {retry_state.attempt_number}: {exc}", row=row,
                  attempt=retry_state.attempt_number, reason=str(exc),
                  code=getattr(exc, "code", None), http_status=getattr(exc, "http_status", None))
        self._tell_first_of_its_kind(exc, row, retry_state.attempt_number)

    def _tell_first_of_its_kind(self, exc: BaseException | None, row: int | None, attempt: int) -> None:
        """A person (cron mail) hears of a kind of failure when it first happens ("cannot connect"), with the call
        that failed named, not only when the row gives up a minute later; the rest of that kind are `retry`
        events only."""
        if exc is None:
            return
        kind = (type(exc).__name__, getattr(exc, "http_status", None), getattr(exc, "code", None),
                str(exc).split(":", 1)[0][:60], failed_call(exc))
        if kind in self._kinds_told:
            return
        self._kinds_told.add(kind)
        log.warning(f"row {row}: {failed_call(exc)} failed: {exc}; retrying (attempt {attempt} of "
                    f"{self._settings.max_attempts} failed); further failures of this kind are retried without a "
                    "line each",
                    extra={"event": "first_failure", "row": row, "attempt": attempt, "reason": str(exc),
                           "call": "lookup" if getattr(exc, "during_lookup", False) else "request"})


def failed_call(exc: BaseException | None) -> str:
    """Which call met the failure: the row's own request, or the look-up in the device's share list."""
    return "the look-up of the device's share list" if getattr(exc, "during_lookup", False) else "the row's request"


def _should_retry(retry_state: RetryCallState) -> bool:
    if retry_state.outcome is None or not retry_state.outcome.failed:
        return False
    exc = retry_state.outcome.exception()
    if not isinstance(exc, TransientApiError):
        return False
    return exc.attempt_limit is None or retry_state.attempt_number < exc.attempt_limit
