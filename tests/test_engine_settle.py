"""The settle window: a row in doubt is verified only once its attempt can no longer land, without
holding a concurrency slot; rows of its device wait, other devices' rows go on."""

from __future__ import annotations

import asyncio

from runner.engine.protocols import ActionResult
from runner.models import RowStatus

from .test_engine import ScriptedAction, items, make_run, ok, unavailable

SETTLE_S = 0.3  # a short window so the test stays fast; the engine waits on its own clock


async def test_a_row_in_doubt_is_verified_after_the_settle_window_while_other_devices_go_on() -> None:
    action = ScriptedAction(script={2: [unavailable(applied=True), ok(2)]}, found={2: [None]})
    # rows 2 and 3 share device A (row 3 waits behind row 2); rows 4 and 5 are other devices
    run = make_run(action, items(["A", "A", "B", "C"]), concurrency=1, settle_s=SETTLE_S, max_attempts=3)
    _, outcomes = await run.go()
    assert [kind for kind, row in action.events if row == 2] == ["perform", "reconcile", "perform"]
    reconciled_at = action.events.index(("reconcile", 2))
    # with one slot, B and C went while row 2 waited to settle; row 3 (same device) only after row 2
    assert action.events.index(("perform", 4)) < reconciled_at
    assert action.events.index(("perform", 5)) < reconciled_at
    assert action.events.index(("perform", 3)) > action.events.index(("perform", 2), reconciled_at)
    assert {outcome.status for outcome in outcomes.values()} == {RowStatus.SUCCESS}
    assert [row for row, _ in run.sink.started].count(2) == 2  # both attempts were marked in flight
    assert outcomes[2].in_doubt_since_ms is None  # settled and verified: no doubt left


async def test_a_settled_look_up_that_finds_nothing_ends_the_doubt_and_the_row_fails_plainly() -> None:
    action = ScriptedAction(script={2: [unavailable(applied=True)]}, found={2: [None]})
    run = make_run(action, items(["A"]), settle_s=SETTLE_S, max_attempts=1)
    _, outcomes = await run.go()
    assert outcomes[2].status is RowStatus.FAILED
    assert outcomes[2].in_doubt_since_ms is None
    assert "not applied" in outcomes[2].message


async def test_without_a_settle_window_the_doubt_stays_with_a_failed_row() -> None:
    action = ScriptedAction(script={2: [unavailable(applied=True)]}, found={2: [None]})
    run = make_run(action, items(["A"]), max_attempts=1)
    _, outcomes = await run.go()
    assert outcomes[2].status is RowStatus.FAILED
    assert outcomes[2].in_doubt_since_ms is not None


async def test_a_stop_while_a_row_waits_to_settle_leaves_it_unknown_at_once() -> None:
    found = ActionResult(share_code="SC-late", http_status=200, latency_ms=None)
    action = ScriptedAction(script={2: [unavailable(applied=True)]}, found={2: [found]})
    run = make_run(action, items(["A"]), settle_s=600, max_attempts=3)  # a window the test never waits out
    going = asyncio.ensure_future(run.go())
    await action.crowd.wait()  # the request is out (and will be answered with a lost answer)
    run.engine.request_stop("stopped: test")
    _, outcomes = await asyncio.wait_for(going, 10)
    assert outcomes[2].status is RowStatus.UNKNOWN
    assert outcomes[2].in_doubt_since_ms is not None
    assert ("reconcile", 2) not in action.events  # never looked up before the attempt could settle
