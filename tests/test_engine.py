"""Engine with a scripted fake action (answers per row, a log of calls, aiometer-style spy counters).

Retry waits are zeroed (`backoff_initial_s=0` and a no-op `sleep`); tests that need rows to be in
flight at a given moment coordinate through asyncio.Event, never by sleeping.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import pytest

from runner.batches.actions import RECONCILED_MESSAGE
from runner.engine.fanout import Engine
from runner.engine.protocols import ActionResult, Found, Reconciled, WorkItem
from runner.engine.settings import EngineResult, EngineSettings, FailureBrake, RowBudget
from runner.errors import (
    ApiError,
    AuthExpiredError,
    FatalApiError,
    RowRejectedError,
    TransientApiError,
)
from runner.events import departing
from runner.models import RowOutcome, RowStatus, RunStats


@dataclass(frozen=True)
class Job:
    """The payload of a fake row: its number and the device it touches."""

    row: int
    device: str


Answer = ActionResult | BaseException


def ok(row: int) -> ActionResult:
    return ActionResult(share_code=f"SC-{row}", http_status=200, latency_ms=3)


def unavailable(*, applied: bool = False) -> TransientApiError:
    return TransientApiError("HTTP 503", http_status=503, may_have_applied=applied)


@dataclass
class ScriptedAction:
    """An Action whose perform() answers each row from a script; the last answer of a script repeats.

    It records every call and, like aiometer's Spy, the peak number of rows in flight and any two
    rows of one device in flight together. `crowd` is set once `crowd_size` rows are in flight at
    once, and perform() waits for it, so a test can hold rows in flight until the engine has
    filled its slots. `release`, when given, keeps every perform() waiting until it is set.
    """

    script: dict[int, list[Answer]] = field(default_factory=dict)
    #: reconcile()'s answers; None stands for Found.NOT_APPLIED, an ActionResult for Found.APPLIED
    found: dict[int, list[ActionResult | Reconciled | BaseException | None]] = field(default_factory=dict)
    crowd_size: int = 1
    release: asyncio.Event | None = None
    lookup_release: asyncio.Event | None = None  # when given, every reconcile() waits for it
    lookup_started: asyncio.Event = field(default_factory=asyncio.Event)
    cleanup_yields: dict[int, int] = field(default_factory=dict)  # yields a cancelled perform takes to clean up
    events: list[tuple[str, int]] = field(default_factory=list)  # ("perform" | "reconcile", row), in order
    reconcile_since: list[int] = field(default_factory=list)
    unsendable: dict[int, str] = field(default_factory=dict)  # row -> why_not_send's answer
    in_flight: int = 0
    peak: int = 0
    device_overlaps: list[tuple[str, int]] = field(default_factory=list)
    crowd: asyncio.Event = field(default_factory=asyncio.Event)
    _per_device: Counter[str] = field(default_factory=Counter)
    _answered: Counter[int] = field(default_factory=Counter)

    def device(self, payload: Job) -> Hashable:
        return payload.device

    def performed(self, row: int | None = None) -> list[int]:
        return [r for kind, r in self.events if kind == "perform" and (row is None or r == row)]

    async def perform(self, payload: Job) -> ActionResult:
        await departing()  # as the platform client does once the request passes the rate gate
        self.events.append(("perform", payload.row))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self._per_device[payload.device] += 1
        if self._per_device[payload.device] > 1:
            self.device_overlaps.append((payload.device, payload.row))
        try:
            if self.in_flight >= self.crowd_size:
                self.crowd.set()
            await self.crowd.wait()
            await asyncio.sleep(0)  # a chance for other rows to start while this one is out
            if self.release is not None:
                await self.release.wait()
            return self._answer(payload.row)
        except asyncio.CancelledError:
            for _ in range(self.cleanup_yields.get(payload.row, 0)):  # like a connection being released
                await asyncio.sleep(0)
            raise
        finally:
            self.in_flight -= 1
            self._per_device[payload.device] -= 1

    def _answer(self, row: int) -> ActionResult:
        answers = self.script.get(row) or [ok(row)]
        answer = answers[min(self._answered[row], len(answers) - 1)]
        self._answered[row] += 1
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def why_not_send(self, payload: Job, now_ms: int) -> str | None:
        return self.unsendable.get(payload.row)

    async def reconcile(self, payload: Job, since_ms: int) -> Reconciled:
        self.events.append(("reconcile", payload.row))
        self.reconcile_since.append(since_ms)
        self.lookup_started.set()
        if self.lookup_release is not None:
            await self.lookup_release.wait()
        answers = self.found.get(payload.row) or [None]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Reconciled):
            return answer
        return Reconciled(Found.NOT_APPLIED) if answer is None else Reconciled(Found.APPLIED, answer)


@dataclass
class RecordingSink:
    started: list[tuple[int, int]] = field(default_factory=list)
    outcomes: list[RowOutcome] = field(default_factory=list)

    async def attempt_started(self, row: int, started_ms: int) -> None:
        self.started.append((row, started_ms))

    def row_finished(self, outcome: RowOutcome) -> None:
        self.outcomes.append(outcome)

    def by_row(self, rows: Iterable[int]) -> dict[int, RowOutcome]:
        """Each row's outcome, after checking that every row got exactly one."""
        counts = Counter(outcome.row for outcome in self.outcomes)
        assert sorted(counts) == sorted(rows), "a row got no outcome, or an unknown row got one"
        assert max(counts.values(), default=1) == 1, f"rows with several outcomes: {counts}"
        return {outcome.row: outcome for outcome in self.outcomes}


async def no_sleep(_seconds: float) -> None:
    return None


def items(devices: Sequence[str], *, in_doubt_since_ms: dict[int, int] | None = None) -> list[WorkItem[Job]]:
    """Rows 2, 3, ... (the row numbers a spreadsheet shows), one per device name given."""
    since = in_doubt_since_ms or {}
    return [WorkItem(row=row, payload=Job(row, device), in_doubt_since_ms=since.get(row))
            for row, device in enumerate(devices, start=2)]


@dataclass
class Run:
    action: ScriptedAction
    sink: RecordingSink
    stats: RunStats
    engine: Engine[Job]
    work: list[WorkItem[Job]]

    @property
    def rows(self) -> list[int]:
        return [item.row for item in self.work]

    async def go(self) -> tuple[EngineResult, dict[int, RowOutcome]]:
        result = await self.engine.run(self.work)
        return result, self.sink.by_row(self.rows)


def make_run(action: ScriptedAction, work: list[WorkItem[Job]], **settings: float) -> Run:
    sink = RecordingSink()
    stats = RunStats()
    engine_settings = EngineSettings(**{"backoff_initial_s": 0, **settings})  # type: ignore[arg-type]
    return Run(action, sink, stats, Engine(action, sink, engine_settings, stats, sleep=no_sleep), work)


# --- retries ----------------------------------------------------------------------------------------


async def test_transient_failure_is_retried_up_to_max_attempts_then_failed() -> None:
    run = make_run(ScriptedAction(script={3: [unavailable()]}), items(["A", "B", "C"]), max_attempts=3)
    result, outcomes = await run.go()
    assert run.action.performed(3) == [3, 3, 3]
    assert outcomes[3].status is RowStatus.FAILED
    assert outcomes[3].message.startswith("gave up after 3 attempts")
    assert outcomes[3].attempts == 3
    assert outcomes[3].http_status == 503
    assert [outcomes[2].status, outcomes[4].status] == [RowStatus.SUCCESS, RowStatus.SUCCESS]
    assert run.stats.retries == 2
    assert run.stats.by_code == {"transport": 1}
    assert result.stopped is None


async def test_transient_failure_that_clears_up_succeeds_and_counts_its_retries() -> None:
    run = make_run(ScriptedAction(script={2: [unavailable(), unavailable(), ok(2)]}), items(["A"]), max_attempts=5)
    _, outcomes = await run.go()
    assert outcomes[2].status is RowStatus.SUCCESS
    assert outcomes[2].share_code == "SC-2"
    assert outcomes[2].attempts == 3
    assert run.stats.retries == 2
    assert [row for row, _ in run.sink.started] == [2, 2, 2]


async def test_business_rejection_is_not_retried() -> None:
    rejected = RowRejectedError("code 5360 (device binding not verified)", code=5360, http_status=200)
    run = make_run(ScriptedAction(script={2: [rejected]}), items(["A"]), max_attempts=5)
    _, outcomes = await run.go()
    assert run.action.performed() == [2]
    assert outcomes[2].status is RowStatus.FAILED
    assert outcomes[2].code == 5360
    assert outcomes[2].attempts == 1
    assert run.stats.retries == 0
    assert run.stats.by_code == {"5360": 1}


async def test_transient_once_code_is_tried_exactly_twice() -> None:
    once = TransientApiError("code 5138 (device sharing failed)", code=5138, attempt_limit=2)
    run = make_run(ScriptedAction(script={2: [once]}), items(["A"]), max_attempts=5)
    _, outcomes = await run.go()
    assert run.action.performed() == [2, 2]
    assert outcomes[2].status is RowStatus.FAILED
    assert outcomes[2].message.startswith("gave up after 2 attempts")
    assert outcomes[2].code == 5138


# --- concurrency and per-device order ----------------------------------------------------------------


async def test_rows_of_one_device_never_overlap_and_keep_input_order_while_devices_run_in_parallel() -> None:
    devices = ["A", "A", "B", "A", "C", "B", "D", "C", "A", "E", "D", "B"]
    run = make_run(ScriptedAction(crowd_size=4), items(devices), concurrency=4)
    _, outcomes = await run.go()
    assert run.action.device_overlaps == []
    assert run.action.peak == 4
    performed = run.action.performed()
    for device in set(devices):
        rows_of_device = [item.row for item in run.work if item.payload.device == device]
        assert [row for row in performed if row in rows_of_device] == rows_of_device
    assert {outcome.status for outcome in outcomes.values()} == {RowStatus.SUCCESS}


@pytest.mark.parametrize("cap", [1, 3, 6])
async def test_rows_in_flight_never_exceed_the_concurrency_cap(cap: int) -> None:
    run = make_run(ScriptedAction(crowd_size=cap), items([f"D{n}" for n in range(20)]), concurrency=cap)
    _, outcomes = await run.go()
    assert run.action.peak == cap
    assert len(outcomes) == 20


async def test_one_device_with_many_rows_runs_them_one_at_a_time() -> None:
    run = make_run(ScriptedAction(), items(["A"] * 6), concurrency=4)
    _, outcomes = await run.go()
    assert run.action.peak == 1
    assert run.action.performed() == run.rows
    assert len(outcomes) == 6


# --- ambiguous attempts and reconciliation ------------------------------------------------------------


async def test_ambiguous_failure_is_reconciled_before_resending_and_adopts_the_found_share() -> None:
    found = ActionResult(share_code="SC-found", http_status=200, latency_ms=None, message=RECONCILED_MESSAGE)
    action = ScriptedAction(script={2: [unavailable(applied=True)]}, found={2: [found]})
    run = make_run(action, items(["A"]))
    _, outcomes = await run.go()
    assert action.events == [("perform", 2), ("reconcile", 2)]
    assert action.reconcile_since == [run.sink.started[0][1]]  # anything since the lost attempt started
    assert outcomes[2].status is RowStatus.SUCCESS
    assert outcomes[2].share_code == "SC-found"
    assert "reconciled" in outcomes[2].message
    assert outcomes[2].attempts == 1


async def test_ambiguous_failure_with_nothing_found_is_sent_again() -> None:
    action = ScriptedAction(script={2: [unavailable(applied=True), ok(2)]}, found={2: [None]})
    run = make_run(action, items(["A"]))
    _, outcomes = await run.go()
    assert action.events == [("perform", 2), ("reconcile", 2), ("perform", 2)]
    assert outcomes[2].status is RowStatus.SUCCESS
    assert outcomes[2].share_code == "SC-2"
    assert outcomes[2].attempts == 2


async def test_an_unknown_look_up_never_sends_again_and_ends_unknown() -> None:
    action = ScriptedAction(script={2: [unavailable(applied=True), ok(2)]},
                            found={2: [Reconciled(Found.UNKNOWN, why="the list was cut short")]})
    run = make_run(action, items(["A"]), max_attempts=3)
    _, outcomes = await run.go()
    assert action.performed() == [2]
    assert outcomes[2].status is RowStatus.UNKNOWN
    assert "the list was cut short" in outcomes[2].message


async def test_harmless_to_resend_is_sent_again_and_a_last_failure_says_so() -> None:
    action = ScriptedAction(script={2: [unavailable(applied=True)]}, found={2: [Reconciled(Found.RESEND_HARMLESS)]})
    run = make_run(action, items(["A"]), max_attempts=2)
    _, outcomes = await run.go()
    assert action.performed() == [2, 2]
    assert outcomes[2].status is RowStatus.FAILED
    assert "running it again is harmless" in outcomes[2].message
    assert "share list does not show it" not in outcomes[2].message


def test_a_reconciled_result_comes_with_applied_only() -> None:
    result = ActionResult(share_code="SC", http_status=200, latency_ms=None)
    with pytest.raises(ValueError, match="APPLIED"):
        Reconciled(Found.NOT_APPLIED, result)
    with pytest.raises(ValueError, match="APPLIED"):
        Reconciled(Found.APPLIED)


async def test_failure_that_was_not_applied_is_resent_without_a_look_up() -> None:
    action = ScriptedAction(script={2: [unavailable(applied=False), ok(2)]})
    run = make_run(action, items(["A"]))
    _, outcomes = await run.go()
    assert action.events == [("perform", 2), ("perform", 2)]
    assert outcomes[2].status is RowStatus.SUCCESS


async def test_ambiguous_row_whose_retries_run_out_gets_one_last_look_before_it_fails() -> None:
    found = ActionResult(share_code="SC-late", http_status=200, latency_ms=None, message=RECONCILED_MESSAGE)
    action = ScriptedAction(script={2: [unavailable(applied=True)]}, found={2: [None, None, found]})
    run = make_run(action, items(["A"]), max_attempts=3)
    _, outcomes = await run.go()
    assert action.performed() == [2, 2, 2]
    assert action.events[-1] == ("reconcile", 2)
    assert outcomes[2].status is RowStatus.SUCCESS
    assert outcomes[2].share_code == "SC-late"


async def test_ambiguous_row_not_found_at_its_end_fails_but_keeps_its_doubt() -> None:
    """A timed-out request may still be applied after the look-up: the doubt goes with the row."""
    action = ScriptedAction(script={2: [unavailable(applied=True)]}, found={2: [None]})
    run = make_run(action, items(["A"]), max_attempts=2)
    _, outcomes = await run.go()
    assert outcomes[2].status is RowStatus.FAILED
    assert outcomes[2].in_doubt_since_ms == run.sink.started[0][1]
    assert "looked up" in outcomes[2].message


async def test_ambiguous_row_whose_last_look_up_fails_ends_unknown_not_failed() -> None:
    lookup = TransientApiError("no answer within the timeout")
    action = ScriptedAction(script={2: [unavailable(applied=True)]}, found={2: [lookup]})
    run = make_run(action, items(["A"]), max_attempts=1)
    _, outcomes = await run.go()
    assert outcomes[2].status is RowStatus.UNKNOWN
    assert outcomes[2].in_doubt_since_ms == run.sink.started[0][1]
    assert "could not be read" in outcomes[2].message


async def test_a_rejection_in_doubt_is_looked_up_and_adopted_when_the_share_exists() -> None:
    odd = RowRejectedError("code 5999", code=5999, may_have_applied=True)
    found = ActionResult(share_code="SC-odd", http_status=200, latency_ms=None, message=RECONCILED_MESSAGE)
    action = ScriptedAction(script={2: [odd]}, found={2: [found]})
    run = make_run(action, items(["A"]))
    _, outcomes = await run.go()
    assert action.events == [("perform", 2), ("reconcile", 2)]
    assert (outcomes[2].status, outcomes[2].share_code, outcomes[2].in_doubt_since_ms) == (
        RowStatus.SUCCESS, "SC-odd", None)


async def test_a_success_without_a_share_code_is_confirmed_by_a_look_up() -> None:
    bare = ActionResult(share_code=None, http_status=200, latency_ms=4, confirmed=False)
    found = ActionResult(share_code="SC-listed", http_status=200, latency_ms=None)
    action = ScriptedAction(script={2: [bare], 3: [bare]}, found={2: [found], 3: [None]})
    run = make_run(action, items(["A", "B"]))
    _, outcomes = await run.go()
    assert (outcomes[2].status, outcomes[2].share_code) == (RowStatus.SUCCESS, "SC-listed")
    assert outcomes[3].status is RowStatus.UNKNOWN
    assert outcomes[3].in_doubt_since_ms is not None


async def test_a_row_the_action_will_not_send_is_invalid_and_nothing_is_sent() -> None:
    action = ScriptedAction(unsendable={2: "not sent: its expiry had passed"})
    run = make_run(action, items(["A", "B"]))
    _, outcomes = await run.go()
    assert action.performed() == [3]
    assert (outcomes[2].status, outcomes[2].message) == (RowStatus.INVALID, "not sent: its expiry had passed")
    assert run.sink.started == [(3, run.sink.started[0][1])]


async def test_a_row_in_doubt_from_an_earlier_run_that_this_run_never_reached_stays_unknown() -> None:
    fatal = FatalApiError("code 5325 (access blocked for 24 hours)", code=5325)
    action = ScriptedAction(script={2: [fatal]})
    run = make_run(action, items(["A", "B"], in_doubt_since_ms={3: 1_764_000_000_000}), concurrency=1)
    _, outcomes = await run.go()
    assert outcomes[3].status is RowStatus.UNKNOWN
    assert outcomes[3].in_doubt_since_ms == 1_764_000_000_000


async def test_row_left_in_flight_by_an_earlier_run_is_reconciled_before_anything_is_sent() -> None:
    found = ActionResult(share_code="SC-old", http_status=200, latency_ms=None, message=RECONCILED_MESSAGE)
    action = ScriptedAction(found={2: [found]})
    run = make_run(action, items(["A", "B"], in_doubt_since_ms={2: 1_764_000_000_000}))
    _, outcomes = await run.go()
    assert action.events[0] == ("reconcile", 2)
    assert action.reconcile_since == [1_764_000_000_000]
    assert action.performed() == [3]
    assert outcomes[2].status is RowStatus.SUCCESS
    assert outcomes[2].share_code == "SC-old"
    assert outcomes[2].attempts == 0  # this run's; the journal counts the crashed run's attempt


async def test_row_left_in_flight_that_did_not_apply_is_sent_after_the_look_up() -> None:
    action = ScriptedAction(found={2: [None]})
    run = make_run(action, items(["A"], in_doubt_since_ms={2: 1_764_000_000_000}))
    _, outcomes = await run.go()
    assert action.events == [("reconcile", 2), ("perform", 2)]
    assert outcomes[2].status is RowStatus.SUCCESS
    assert outcomes[2].attempts == 1


@pytest.mark.parametrize(
    "error",
    [AuthExpiredError("the platform rejected the access token", code=5032),
     FatalApiError("code 5325 (access blocked for 24 hours)", code=5325),
     RowRejectedError("code 5141 (no permission to query this device)", code=5141)],
    ids=["token-rejected", "fatal", "row-rejected"],
)
async def test_row_whose_check_after_an_ambiguous_attempt_fails_stays_in_doubt(error: ApiError) -> None:
    """The share may exist: the journal must keep the row in flight so the next run checks first."""
    action = ScriptedAction(script={2: [unavailable(applied=True)]}, found={2: [error]})
    run = make_run(action, items(["A"]))
    _, outcomes = await run.go()
    assert action.events == [("perform", 2), ("reconcile", 2)]
    assert outcomes[2].status is not RowStatus.SUCCESS
    assert outcomes[2].in_doubt_since_ms == run.sink.started[0][1]
    assert "not applied" not in outcomes[2].message


async def test_row_left_in_flight_stays_in_doubt_when_its_check_meets_a_rejected_token() -> None:
    expired = AuthExpiredError("the platform rejected the access token", code=5032)
    action = ScriptedAction(found={2: [expired]})
    run = make_run(action, items(["A", "B"], in_doubt_since_ms={2: 1_764_000_000_000}), concurrency=1)
    result, outcomes = await run.go()
    assert action.performed() == []
    assert outcomes[2].in_doubt_since_ms == 1_764_000_000_000
    assert outcomes[3].status is RowStatus.NOT_ATTEMPTED
    assert result.stopped is not None


async def test_token_rejected_on_a_clean_row_is_not_in_doubt() -> None:
    expired = AuthExpiredError("the platform rejected the access token", code=5032)
    run = make_run(ScriptedAction(script={2: [expired]}), items(["A"]))
    _, outcomes = await run.go()
    assert outcomes[2].status is RowStatus.NOT_ATTEMPTED
    assert outcomes[2].in_doubt_since_ms is None
    assert outcomes[2].message.startswith("not applied")


# --- stopping ----------------------------------------------------------------------------------------


async def test_fatal_answer_stops_the_run_and_leaves_the_rest_not_attempted() -> None:
    fatal = FatalApiError("code 5325 (access blocked for 24 hours)", code=5325, http_status=200)
    run = make_run(ScriptedAction(script={3: [fatal]}), items(["A", "B", "C", "D", "E"]), concurrency=1)
    result, outcomes = await run.go()
    assert run.action.performed() == [2, 3]
    assert outcomes[2].status is RowStatus.SUCCESS
    assert outcomes[3].status is RowStatus.FAILED
    assert outcomes[3].code == 5325
    assert [outcomes[row].status for row in (4, 5, 6)] == [RowStatus.NOT_ATTEMPTED] * 3
    assert result.stopped is not None
    assert "5325" in result.stopped
    assert outcomes[4].message == result.stopped
    assert result.interrupted is False


async def test_rejected_token_leaves_its_row_not_attempted_and_stops_the_run() -> None:
    expired = AuthExpiredError("the platform rejected the access token", code=5032, http_status=200)
    run = make_run(ScriptedAction(script={3: [expired]}), items(["A", "B", "C", "D"]), concurrency=1)
    result, outcomes = await run.go()
    assert run.action.performed() == [2, 3]
    assert outcomes[2].status is RowStatus.SUCCESS
    assert [outcomes[row].status for row in (3, 4, 5)] == [RowStatus.NOT_ATTEMPTED] * 3
    assert outcomes[3].code == 5032
    assert result.stopped is not None
    assert "token" in result.stopped
    assert result.interrupted is False


async def test_breaker_stops_the_run_when_a_full_window_of_rows_exhausts_its_retries() -> None:
    action = ScriptedAction(script={row: [unavailable()] for row in range(2, 17)})
    run = make_run(action, items([f"D{n}" for n in range(15)]), concurrency=1, max_attempts=2, breaker_window=10)
    result, outcomes = await run.go()
    assert [row for row in run.rows if outcomes[row].status is RowStatus.FAILED] == run.rows[:10]
    assert [row for row in run.rows if outcomes[row].status is RowStatus.NOT_ATTEMPTED] == run.rows[10:]
    assert len(action.performed()) == 20
    assert result.stopped is not None
    assert "10 of the last 10" in result.stopped
    assert result.interrupted is False


async def test_breaker_ignores_business_rejections() -> None:
    rejected = RowRejectedError("code 5360", code=5360)
    action = ScriptedAction(script={row: [rejected] for row in range(2, 17)})
    run = make_run(action, items([f"D{n}" for n in range(15)]), concurrency=1, breaker_window=10)
    result, outcomes = await run.go()
    assert {outcome.status for outcome in outcomes.values()} == {RowStatus.FAILED}
    assert result.stopped is None


async def test_stop_request_leaves_unstarted_rows_not_attempted_and_lets_rows_in_flight_finish() -> None:
    release = asyncio.Event()
    action = ScriptedAction(crowd_size=2, release=release)
    run = make_run(action, items(["A", "B", "C", "D", "E", "F"]), concurrency=2, grace_s=30)
    running = asyncio.create_task(run.go())
    await action.crowd.wait()  # rows 2 and 3 are out
    run.engine.request_stop("interrupted by SIGINT")
    release.set()
    result, outcomes = await running
    assert action.performed() == [2, 3]
    assert [outcomes[row].status for row in (2, 3)] == [RowStatus.SUCCESS] * 2
    assert [outcomes[row].status for row in (4, 5, 6, 7)] == [RowStatus.NOT_ATTEMPTED] * 4
    assert outcomes[4].message == "interrupted by SIGINT"
    assert result.stopped == "interrupted by SIGINT"
    assert result.interrupted is True


async def test_stop_request_keeps_the_waiting_rows_of_a_busy_device_not_attempted() -> None:
    release = asyncio.Event()
    action = ScriptedAction(crowd_size=2, release=release)
    run = make_run(action, items(["A", "A", "B", "A"]), concurrency=2, grace_s=30)
    running = asyncio.create_task(run.go())
    await action.crowd.wait()  # rows 2 (A) and 4 (B) are out; rows 3 and 5 wait behind device A
    run.engine.request_stop("interrupted by SIGTERM")
    release.set()
    _, outcomes = await running
    assert action.performed() == [2, 4]
    assert [outcomes[row].status for row in (3, 5)] == [RowStatus.NOT_ATTEMPTED] * 2


async def test_rows_still_out_when_the_grace_ends_are_unknown_and_every_row_has_its_outcome_on_return() -> None:
    action = ScriptedAction(crowd_size=3, release=asyncio.Event(), cleanup_yields={2: 0, 3: 1, 4: 6})
    run = make_run(action, items(["A", "B", "C", "D"]), concurrency=3, grace_s=0.05)  # real time, kept short
    running = asyncio.create_task(run.go())
    await action.crowd.wait()
    run.engine.request_stop("interrupted by SIGINT")
    result, outcomes = await running
    assert [outcomes[row].status for row in (2, 3, 4)] == [RowStatus.UNKNOWN] * 3
    started = dict(run.sink.started)
    assert [outcomes[row].in_doubt_since_ms for row in (2, 3, 4)] == [started[2], started[3], started[4]]
    assert all("interrupted" in outcomes[row].message for row in (2, 3, 4))
    assert outcomes[5].status is RowStatus.NOT_ATTEMPTED
    assert result.interrupted is True


async def test_unexpected_error_in_the_action_surfaces_from_run_after_the_rest_are_marked_not_attempted() -> None:
    action = ScriptedAction(script={3: [ValueError("shareTimeTs is not a number")]})
    run = make_run(action, items(["A", "B", "C", "D"]), concurrency=1)
    with pytest.raises(ValueError, match="shareTimeTs"):
        await run.engine.run(run.work)
    counts = Counter(outcome.row for outcome in run.sink.outcomes)
    assert max(counts.values()) == 1
    outcomes = {outcome.row: outcome for outcome in run.sink.outcomes}
    assert outcomes[2].status is RowStatus.SUCCESS
    assert [outcomes[row].status for row in (4, 5)] == [RowStatus.NOT_ATTEMPTED] * 2


# --- accounting --------------------------------------------------------------------------------------


async def test_every_row_gets_exactly_one_outcome_in_a_mixed_run() -> None:
    script: dict[int, list[Answer]] = {
        3: [unavailable()],
        4: [RowRejectedError("code 5864", code=5864)],
        5: [unavailable(applied=True), ok(5)],
        7: [TransientApiError("code 5138", code=5138, attempt_limit=2)],
    }
    devices = ["A", "B", "A", "C", "B", "D", "A", "C", "E"]
    run = make_run(ScriptedAction(script=script, crowd_size=3), items(devices), concurrency=3, max_attempts=3)
    _, outcomes = await run.go()
    statuses = Counter(outcome.status for outcome in outcomes.values())
    assert statuses == {RowStatus.SUCCESS: 6, RowStatus.FAILED: 3}
    assert run.stats.retries == 2 + 1 + 1  # row 3: 2, row 5: 1, row 7: 1


async def test_empty_input_finishes_at_once_without_outcomes() -> None:
    run = make_run(ScriptedAction(), [])
    result, outcomes = await run.go()
    assert outcomes == {}
    assert result == EngineResult()



# --- a row budget (canary) and a failure brake ---------------------------------------------------


async def test_a_row_budget_takes_that_many_rows_across_devices_and_holds_the_rest_back_never_started() -> None:
    action = ScriptedAction(crowd_size=1)
    work = items(["A", "A", "B", "A", "C", "B"], in_doubt_since_ms={7: 1_764_000_000_000})
    run = make_run(action, work, concurrency=3)
    run.engine = Engine(action, run.sink, EngineSettings(concurrency=3, backoff_initial_s=0,
                                                         budget=RowBudget(3, "held back by the budget")),
                        run.stats, sleep=no_sleep)
    result, outcomes = await run.go()
    assert len(action.performed()) == 3
    assert len(run.sink.started) == 3  # a row held back never reaches attempt_started: never in flight
    held = [outcome for outcome in outcomes.values() if outcome.status is not RowStatus.SUCCESS]
    assert len(held) == 3
    assert result.stopped is None
    for outcome in held:
        if outcome.row == 7:  # in doubt from an earlier run: still in doubt, not a plain not_attempted
            assert outcome.status is RowStatus.UNKNOWN
            assert outcome.in_doubt_since_ms == 1_764_000_000_000
        else:
            assert outcome.status is RowStatus.NOT_ATTEMPTED
            assert outcome.message == "held back by the budget"
            assert outcome.in_doubt_since_ms is None
    assert result.held_back == sum(outcome.status is RowStatus.NOT_ATTEMPTED for outcome in held)


@pytest.mark.parametrize(("brake", "failed_before_stop"), [
    (FailureBrake(count=2, label="two"), 2),
    (FailureBrake(share=0.5, min_rows=4, label="half"), 2),
])
async def test_a_failure_brake_stops_the_run_like_a_fatal_answer(brake: FailureBrake, failed_before_stop: int) -> None:
    rejected = RowRejectedError("code 5360 (device binding not verified)", code=5360)
    action = ScriptedAction(script={3: [rejected], 5: [rejected], 7: [rejected]})
    work = items(["A", "B", "C", "D", "E", "F", "G", "H"])
    run = make_run(action, work, concurrency=1)
    run.engine = Engine(action, run.sink, EngineSettings(concurrency=1, backoff_initial_s=0, brake=brake), run.stats,
                        sleep=no_sleep)
    result, outcomes = await run.go()
    assert sum(outcome.status is RowStatus.FAILED for outcome in outcomes.values()) == failed_before_stop
    assert result.stopped is not None
    assert brake.label in result.stopped
    assert result.interrupted is False
    assert outcomes[9].status is RowStatus.NOT_ATTEMPTED
    assert outcomes[9].message == result.stopped


def test_a_share_brake_waits_for_its_minimum_of_rows() -> None:
    brake = FailureBrake(share=0.1, min_rows=20)
    assert not brake.tripped(failed=5, finished=19)
    assert brake.tripped(failed=2, finished=20)
    assert not brake.tripped(failed=1, finished=20)


@pytest.mark.parametrize("answer", ["gave-up", "no-share-code"])
async def test_a_stop_during_a_rows_last_look_up_still_gives_it_one_outcome_in_doubt(answer: str) -> None:
    script: list[Answer] = ([unavailable(applied=True)] if answer == "gave-up"
                            else [ActionResult(share_code=None, http_status=200, latency_ms=1, confirmed=False)])
    action = ScriptedAction(script={2: script}, lookup_release=asyncio.Event())
    run = make_run(action, items(["A"]), max_attempts=1, grace_s=0.05)  # real time, kept short
    running = asyncio.create_task(run.go())
    await action.lookup_started.wait()
    run.engine.request_stop("interrupted by SIGTERM")
    _, outcomes = await running
    assert outcomes[2].status is RowStatus.UNKNOWN
    assert outcomes[2].in_doubt_since_ms == run.sink.started[0][1]
