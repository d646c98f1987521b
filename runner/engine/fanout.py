"""Fan-out: run an action over many rows, concurrently but under control.

- at most `concurrency` rows in flight; the rate itself is paced by the client's DispatchGate;
- rows of one device run one at a time, in input order, without blocking other devices;
- transient failures are retried with tenacity (exponential backoff with jitter, capped attempts);
- an attempt whose outcome is unknown (timeout, lost connection, 5xx, a garbled or undocumented
  answer, cancellation) puts the row in doubt: it is looked up before anything is sent again, once
  more when it ends, and the doubt stays with the row until a look-up finds the share; a row whose
  doubt no look-up could settle ends `unknown`;
- a fatal answer, a rejected token or a run of exhausted retries stops the run, and so does
  `request_stop()` (signals) or a failure brake (`FailureBrake`); whatever was not sent is
  reported `not_attempted`;
- a row budget (`RowBudget`, a canary run) takes at most that many rows; the rest are held back,
  never started, and reported `not_attempted` with the budget's note (the run is not "stopped").

The engine knows neither CSV nor HTTP: it sees work items, an Action and an OutcomeSink.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from runner.clock import now_ms
from runner.engine.lanes import Lanes
from runner.engine.protocols import Action, ActionResult, Found, OutcomeSink, Reconciled, WorkItem
from runner.engine.retrying import Retries
from runner.engine.rowends import LOOKED_UP_FIRST, RowEnds, RowState
from runner.engine.settings import EngineResult, EngineSettings
from runner.engine.settle import settles_at_ms, wait_until
from runner.errors import (
    ApiError,
    AuthExpiredError,
    FatalApiError,
    StoppedWhileSettlingError,
    TransientApiError,
    UnreachableError,
)
from runner.events import reset_departure_hook, set_departure_hook
from runner.models import RowOutcome, RowStatus, RunStats

log = logging.getLogger(__name__)

PayloadT = TypeVar("PayloadT")


class _NotSendableError(Exception):
    """The action refused to send the row now (its expiry passed); the row ends `invalid`."""


class Engine(Generic[PayloadT]):
    """Runs one action over an iterable of work items; see the module docstring."""

    def __init__(
        self,
        action: Action[PayloadT],
        sink: OutcomeSink,
        settings: EngineSettings,
        stats: RunStats,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        lanes: Lanes[PayloadT] | None = None,
    ) -> None:
        self._action = action
        self._lanes = lanes if lanes is not None else Lanes()  # accounts: each its own in-flight limit and stop
        self._sink = sink
        self._settings = settings
        self._stats = stats
        self._ends = RowEnds(sink, stats, settings.brake, lambda reason: self.request_stop(reason, interrupted=False))
        self._sleep = sleep
        self._stop = asyncio.Event()
        self._result = EngineResult()
        self._items: Iterator[WorkItem[PayloadT]] = iter(())
        self._busy: set[Hashable] = set()
        self._waiting: dict[Hashable, deque[WorkItem[PayloadT]]] = {}
        self._recent_exhausted: deque[bool] = deque(maxlen=settings.breaker_window)
        self._budget_left = settings.budget.rows if settings.budget is not None else None
        self._retries = Retries(settings, stats)
        self._unreachable_rows = 0  # rows in a row that never got a connection
        self._slots = asyncio.Semaphore(settings.concurrency)  # rows being worked on; a settling row gives its up
        self._tasks: set[asyncio.Task[None]] = set()
        self._all_tasks: list[asyncio.Task[None]] = []

    def request_stop(self, reason: str, *, interrupted: bool = True) -> None:
        """Stop dispatching; rows in flight get `grace_s` to finish."""
        if not self._stop.is_set():
            self._result.stopped = reason
            self._result.interrupted = interrupted
            self._stop.set()

    async def run(self, items: Iterable[WorkItem[PayloadT]]) -> EngineResult:
        self._items = iter(items)
        for _ in range(self._settings.concurrency):
            self._spawn_worker()
        stop_wait = asyncio.create_task(self._stop.wait())
        try:
            while self._tasks and not self._stop.is_set():
                first: set[asyncio.Future[Any]] = {*self._tasks, stop_wait}
                await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=self._settings.grace_s)
            for worker in self._tasks:
                worker.cancel()
            outcomes = await asyncio.gather(*self._all_tasks, return_exceptions=True)
        finally:
            stop_wait.cancel()
        self._mark_rest_not_attempted()
        # A bug in a worker must not pass for an orderly stop: the rows were marked, now say so.
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
                raise outcome
        return self._result

    def _spawn_worker(self) -> None:
        task = asyncio.create_task(self._worker())
        self._tasks.add(task)
        self._all_tasks.append(task)
        task.add_done_callback(self._tasks.discard)

    async def _worker(self) -> None:
        try:
            async with self._slots:
                await self._work()
        except Exception:
            # A bug must not let the other workers send the rest of the input unattended.
            self.request_stop("stopped: internal error (re-run with --debug for the traceback)", interrupted=False)
            raise

    async def _work(self) -> None:
        while not self._stop.is_set():
            item = self._take()
            if item is None:
                return
            while item is not None:
                await self._run_row(item)
                self._lanes.leave(item.payload)
                item = self._next_of_device(self._action.device(item.payload))
                if item is not None and self._stop.is_set():
                    self._waiting.setdefault(self._action.device(item.payload), deque()).appendleft(item)
                    return

    def _take(self) -> WorkItem[PayloadT] | None:
        """The next row whose device is free; rows of busy devices wait behind them."""
        if self._budget_left == 0:
            return None  # the rest are held back: never taken, never started
        for item in self._candidates():
            if self._lanes.stopped(item, self._sink):
                continue
            device = self._action.device(item.payload)
            if device in self._busy:
                self._waiting.setdefault(device, deque()).append(item)
                continue
            if not self._lanes.take(item):  # its lane (account) is full: the row waits in it
                continue
            self._busy.add(device)
            self._spend_budget()
            return item
        return None

    def _candidates(self) -> Iterator[WorkItem[PayloadT]]:
        """Rows that waited for room in their lane first, then the input's (next(), so closing this leaves it open)."""
        while (item := self._lanes.next_waiting() or next(self._items, None)) is not None:
            yield item

    def _next_of_device(self, device: Hashable) -> WorkItem[PayloadT] | None:
        queue = self._waiting.get(device)
        while queue and self._budget_left != 0:
            item = queue.popleft()
            if not queue:
                del self._waiting[device]
            if self._lanes.stopped(item, self._sink):
                continue
            self._lanes.enter(item.payload)
            self._spend_budget()
            return item
        self._busy.discard(device)
        return None

    def _spend_budget(self) -> None:
        if self._budget_left is not None:
            self._budget_left -= 1

    async def _run_row(self, item: WorkItem[PayloadT]) -> None:
        state = RowState(row=item.row, in_doubt_since_ms=item.in_doubt_since_ms, settle_from_ms=item.settle_from_ms)
        try:
            result: ActionResult = await self._attempt_with_retries(state, item.payload)
        except asyncio.CancelledError:
            self._ends.interrupted(state)
            raise
        except _NotSendableError as exc:
            self._ends.finish(state, RowStatus.INVALID, str(exc), in_doubt_since_ms=state.in_doubt_since_ms)
            return
        except StoppedWhileSettlingError:
            self._ends.unsettled(state)
            return
        except AuthExpiredError as exc:
            # No look-up can get through with a dead token: a row in doubt stays in doubt.
            if state.in_doubt_since_ms is None:
                self._ends.finish(state, RowStatus.NOT_ATTEMPTED, "not applied: the platform rejected the access token",
                                  http_status=exc.http_status, code=exc.code)
            else:
                self._ends.finish(state, RowStatus.UNKNOWN, "the platform rejected the access token; an earlier "
                                  f"attempt may have been applied. {LOOKED_UP_FIRST}", http_status=exc.http_status,
                                  code=exc.code, in_doubt_since_ms=state.in_doubt_since_ms)
            self._lanes.stop(item.payload, f"stopped: {exc}", or_else=self.request_stop)
            return
        except UnreachableError as exc:
            if state.in_doubt_since_ms is None:
                self._finish_unreachable(state, item.payload, exc)
                return
            await self._fail(state, item.payload, exc)
            return
        except ApiError as exc:
            await self._fail(state, item.payload, exc)
            return
        self._unreachable_rows = 0
        self._recent_exhausted.append(False)
        if not result.confirmed:
            # Said done without its share code: in doubt until the look-up finds it.
            state.in_doubt_since_ms = state.in_doubt_since_ms or state.last_started_ms or now_ms()
            try:
                await self._confirm(state, item.payload, result)
            except asyncio.CancelledError:
                self._ends.interrupted(state)
                raise
            return
        self._ends.success(state, result)

    async def _fail(self, state: RowState, payload: PayloadT, exc: ApiError) -> None:
        exhausted = isinstance(exc, TransientApiError)
        self._recent_exhausted.append(exhausted)
        message = f"gave up after {state.attempts} attempts: {exc}" if exhausted else str(exc)
        try:
            await self._settle_failure(state, payload, exc, message)
        except asyncio.CancelledError:  # the grace ended during the last look-up: still one outcome
            self._ends.interrupted(state)
            raise
        if isinstance(exc, FatalApiError):
            self._lanes.stop(payload, f"stopped: {exc}", or_else=self.request_stop)
        elif exhausted:
            self._check_breaker()

    def _finish_unreachable(self, state: RowState, payload: PayloadT, exc: UnreachableError) -> None:
        """No connection was ever made for this row: it was not attempted, and the platform is not to blame.

        A wrong region, port or network fails every row alike, so a few such rows in a row (or one
        failed TLS check) stop the run with the one line that names the host, the cause and the fix.
        """
        self._unreachable_rows += 1
        self._ends.finish(state, RowStatus.NOT_ATTEMPTED, f"not sent: {exc}", code=exc.code)
        if exc.attempt_limit == 1 or self._unreachable_rows >= self._settings.unreachable_rows:
            self._lanes.stop(payload, f"stopped: {exc}; nothing reached the platform, run the same command again "
                             "once it is fixed", or_else=self.request_stop)

    async def _settle_failure(self, state: RowState, payload: PayloadT, exc: ApiError, message: str) -> None:
        """A row that ends without success: if an attempt may have been applied, look before calling it failed.

        Found: the share exists, so the row succeeded. Not found: failed, but the doubt stays with the
        row (journal and failed-rows file), because a request that timed out may still be applied
        after our look-up; it is looked up again before it is ever re-sent. The look-up failing
        leaves the row `unknown`.
        """
        since = state.in_doubt_since_ms
        if since is None:
            self._ends.finish(state, RowStatus.FAILED, message, code=exc.code, http_status=exc.http_status)
            return
        if exc.during_lookup:
            self._ends.finish(state, RowStatus.UNKNOWN, f"an earlier attempt may have been applied and the share list "
                              f"could not be read ({exc}). {LOOKED_UP_FIRST}", code=exc.code,
                              http_status=exc.http_status, in_doubt_since_ms=since)
            return
        try:
            found = await self._verify(state, payload)
        except StoppedWhileSettlingError:
            self._ends.unsettled(state)
            return
        except ApiError as lookup_error:
            self._ends.finish(state, RowStatus.UNKNOWN, f"{message}; it may have been applied and the share list could "
                              f"not be read ({lookup_error}). {LOOKED_UP_FIRST}", code=exc.code,
                              http_status=exc.http_status, in_doubt_since_ms=since)
            return
        if found.result is not None:
            self._ends.success(state, found.result)
        elif found.found is Found.RESEND_HARMLESS:
            self._ends.finish(state, RowStatus.FAILED, f"{message}; running it again is harmless (the change is "
                              "idempotent)", code=exc.code, http_status=exc.http_status, in_doubt_since_ms=since)
        elif state.in_doubt_since_ms is None:  # looked up once nothing could land any more: nothing was applied
            self._ends.finish(state, RowStatus.FAILED, f"{message}; the device's share list, read once the attempt "
                              "could no longer land, shows nothing from it: not applied", code=exc.code,
                              http_status=exc.http_status)
        else:
            self._ends.finish(state, RowStatus.FAILED, f"{message}; the share list does not show it. {LOOKED_UP_FIRST}",
                              code=exc.code, http_status=exc.http_status, in_doubt_since_ms=since)

    async def _look_up(self, payload: PayloadT, since_ms: int) -> Reconciled:
        """`Action.reconcile`, with its UNKNOWN answer raised as the failed look-up it is."""
        found = await self._action.reconcile(payload, since_ms)
        if found.found is Found.UNKNOWN:
            raise ApiError(found.why or "the look-up could not settle whether it was applied")
        return found

    async def _confirm(self, state: RowState, payload: PayloadT, answered: ActionResult) -> None:
        """The platform said "done" without the proof (a share code): find the share before calling it a success."""
        since = state.last_started_ms if state.last_started_ms is not None else now_ms()
        try:
            found: Reconciled | None = await self._look_up(payload, since)
        except ApiError as lookup_error:
            found, why = None, f"the share list could not be read ({lookup_error})"
        else:
            why = "the share list does not show it"
        if found is None or found.result is None:
            self._ends.finish(state, RowStatus.UNKNOWN, "the platform answered success without a share code and "
                              f"{why}. {LOOKED_UP_FIRST}", code=answered.code, http_status=answered.http_status,
                              latency_ms=answered.latency_ms, in_doubt_since_ms=state.in_doubt_since_ms or since)
            return
        self._ends.success(state, ActionResult(
            share_code=found.result.share_code, http_status=answered.http_status, latency_ms=answered.latency_ms,
            message="the platform answered success without a share code; found it in the device's share list",
            status=answered.status, code=answered.code,
        ))

    async def _attempt_with_retries(self, state: RowState, payload: PayloadT) -> ActionResult:
        """The first attempt runs bare; only a transient failure brings in the tenacity policy.

        Most rows succeed at once, and building the retry machinery for each of them was the
        largest cost of the engine in the profile. On a failure, tenacity sees that same failure
        as its attempt 1 (replayed), so waits, limits and hooks are exactly those of the policy.
        """
        try:
            return await self._attempt(state, payload)
        except TransientApiError as first_failure:
            replay: list[TransientApiError] = [first_failure]

        async def attempt(state: RowState, payload: PayloadT) -> ActionResult:
            if replay:
                raise replay.pop()
            return await self._attempt(state, payload)

        result: ActionResult = await self._retries.policy(self._stop, self._sleep)(attempt, state, payload)
        return result

    async def _attempt(self, state: RowState, payload: PayloadT) -> ActionResult:
        if state.in_doubt_since_ms is not None:
            found = await self._verify(state, payload)
            if found.result is not None:
                return found.result
        reason = self._action.why_not_send(payload, now_ms())
        if reason is not None:
            raise _NotSendableError(reason)
        hook = set_departure_hook(lambda: self._departing(state))
        try:
            return await self._action.perform(payload)
        except ApiError as exc:
            if exc.may_have_applied and state.last_started_ms is not None:
                state.in_doubt_since_ms = state.in_doubt_since_ms or state.last_started_ms
                state.settle_from_ms = state.last_started_ms
            raise
        except asyncio.CancelledError:
            # Cancelled with the request out (a signal's grace ran out): it may have been applied.
            if state.sending_since_ms is not None:
                state.in_doubt_since_ms = state.in_doubt_since_ms or state.sending_since_ms
            raise
        finally:
            reset_departure_hook(hook)
            state.sending_since_ms = None

    async def _departing(self, state: RowState) -> None:
        """The request is about to be written (it passed the rate gate): mark it in flight, on disk, first."""
        if state.sending_since_ms is not None:
            return  # a replay of the same attempt (a renewed token): already marked
        started_ms = now_ms()
        state.attempts += 1  # an attempt counts once it leaves; waiting in the rate gate is not one
        await self._sink.attempt_started(state.row, started_ms)
        state.sending_since_ms = state.last_started_ms = started_ms

    async def _verify(self, state: RowState, payload: PayloadT) -> Reconciled:
        """Look the row up once its doubtful attempts can no longer land; "not there" then ends the doubt."""
        await self._wait_settled(state)
        try:
            found = await self._look_up(payload, state.in_doubt_since_ms or 0)
        except ApiError as exc:
            exc.during_lookup = True  # so the row's end does not look it up a second time
            raise
        if found.found is Found.NOT_APPLIED and self._settings.settle_s > 0:
            state.in_doubt_since_ms = state.settle_from_ms = None  # settled and not there: nothing was applied
        return found

    async def _wait_settled(self, state: RowState) -> None:
        """Wait (without holding a concurrency slot) until the row's latest doubtful attempt can no longer land."""
        deadline = settles_at_ms(state.settle_from_ms or state.in_doubt_since_ms, self._settings.settle_s)
        if deadline is None or deadline <= now_ms():
            return
        self._slots.release()
        if not self._stop.is_set():
            self._spawn_worker()  # the slot given up keeps working on other devices' rows
        try:
            await wait_until(deadline, self._stop)
        finally:
            await self._slots.acquire()

    def _check_breaker(self) -> None:
        window = self._recent_exhausted
        if len(window) == window.maxlen and sum(window) > self._settings.breaker_ratio * len(window):
            self.request_stop(
                f"stopped: {sum(window)} of the last {len(window)} rows exhausted their retries; "
                "the platform keeps failing", interrupted=False)

    def _mark_rest_not_attempted(self) -> None:
        held = self._budget_left == 0 and not self._result.stopped
        budget = self._settings.budget
        reason = self._result.stopped or (budget.note if held and budget is not None else "not sent")
        leftovers: list[WorkItem[PayloadT]] = [item for queue in self._waiting.values() for item in queue]
        self._waiting.clear()
        leftovers += [item for item in self._lanes.drain() if not self._lanes.stopped(item, self._sink)]
        for item in [*leftovers, *self._items]:
            if item.in_doubt_since_ms is None:
                self._result.held_back += held
                self._sink.row_finished(RowOutcome(row=item.row, status=RowStatus.NOT_ATTEMPTED, message=reason))
            else:  # in doubt from an earlier run, and not looked up before this one stopped
                self._sink.row_finished(RowOutcome(
                    row=item.row, status=RowStatus.UNKNOWN, in_doubt_since_ms=item.in_doubt_since_ms,
                    message=f"{reason}; an earlier attempt may have been applied. {LOOKED_UP_FIRST}"))

