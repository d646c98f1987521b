"""The engine's retry policy (tenacity, imported on the first retry) and the first-failure warnings.

A run where every row succeeds at once never imports tenacity; a person reading cron mail hears of
each kind of failure once, when it first happens, with the call that failed named.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from runner.engine.settings import EngineSettings
from runner.errors import TransientApiError

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, RetryCallState

log = logging.getLogger("runner.engine.fanout")  # the name operators' log filters already know


def retry_policy(
    settings: EngineSettings,
    stop: asyncio.Event,
    sleep: Callable[[float], Awaitable[None]],
    before_sleep: Callable[[RetryCallState], None],
) -> AsyncRetrying:
    """Capped attempts, exponential backoff with jitter, and no further attempt once the run stops."""
    from tenacity import AsyncRetrying, stop_after_attempt, stop_when_event_set, wait_exponential_jitter

    return AsyncRetrying(
        stop=stop_after_attempt(settings.max_attempts) | stop_when_event_set(stop),  # type: ignore[arg-type]
        retry=_should_retry,
        wait=wait_exponential_jitter(
            multiplier=settings.backoff_initial_s, max=settings.backoff_max_s, jitter=settings.backoff_initial_s
        ),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


def _should_retry(retry_state: RetryCallState) -> bool:
    if retry_state.outcome is None or not retry_state.outcome.failed:
        return False
    exc = retry_state.outcome.exception()
    if not isinstance(exc, TransientApiError):
        return False
    return exc.attempt_limit is None or retry_state.attempt_number < exc.attempt_limit


def failed_call(exc: BaseException | None) -> str:
    """Which call met the failure: the row's own request, or the look-up in the device's share list."""
    return "the look-up of the device's share list" if getattr(exc, "during_lookup", False) else "the row's request"


class FirstFailures:
    """Warns once per kind of failure ("cannot connect"), not once per retry; the rest are `retry` events."""

    def __init__(self, max_attempts: int) -> None:
        self._max_attempts = max_attempts
        self._told: set[tuple[object, ...]] = set()

    def tell(self, exc: BaseException | None, row: int | None, attempt: int) -> None:
        if exc is None:
            return
        kind = (type(exc).__name__, getattr(exc, "http_status", None), getattr(exc, "code", None),
                str(exc).split(":", 1)[0][:60], failed_call(exc))
        if kind in self._told:
            return
        self._told.add(kind)
        log.warning(f"row {row}: {failed_call(exc)} failed: {exc}; retrying (attempt {attempt} of "
                    f"{self._max_attempts} failed); further failures of this kind are retried without a line each",
                    extra={"event": "first_failure", "row": row, "attempt": attempt, "reason": str(exc),
                           "call": "lookup" if getattr(exc, "during_lookup", False) else "request"})
