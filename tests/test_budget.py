"""The shared account budget (--limiter): its rules, the file one host shares, and Redis for several hosts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.platform.budget import budget_key, open_gate, rules
from runner.platform.budget.localfile import FileBudget, budget_file
from runner.platform.pacing import MAX_CATCH_UP_S, PACING_MARGIN, THROTTLE_FACTOR
from runner.simulator.traffic import max_in_window

from .conftest import REPO, wait_for

INTERVAL_20 = (1 + PACING_MARGIN) / 20


def test_releases_are_spaced_by_the_interval_and_recorded_when_they_happen() -> None:
    state = rules.BudgetState()
    assert rules.try_release(state, 100.0, "a", 20)[0] == 0.0
    assert rules.try_release(state, 100.0, "a", 20)[0] == pytest.approx(INTERVAL_20)
    # a late ask is not saved up: the next one waits a whole interval from it
    assert rules.try_release(state, 101.0, "a", 20)[0] == 0.0
    assert rules.try_release(state, 101.0 + INTERVAL_20 / 2, "a", 20)[0] == pytest.approx(INTERVAL_20 / 2)


def test_the_lowest_rate_of_the_live_members_holds_until_its_member_goes_quiet() -> None:
    state = rules.BudgetState()
    assert rules.try_release(state, 100.0, "slow", 5)[0] == 0.0
    assert rules.try_release(state, 100.01, "fast", 20)[0] == pytest.approx((1 + PACING_MARGIN) / 5 - 0.01)
    later = 100.0 + rules.MEMBER_STALE_S + 1  # "slow" has not asked since: its rate no longer counts
    assert rules.try_release(state, later, "fast", 20)[0] == 0.0
    assert rules.try_release(state, later, "fast", 20)[0] == pytest.approx(INTERVAL_20)
    assert set(state.rates) == {"fast"}


def test_a_pause_and_a_throttle_written_by_one_member_hold_the_others() -> None:
    state = rules.BudgetState()
    rules.pause(state, 100.0, 3.0)
    assert rules.try_release(state, 100.5, "other", 20)[0] == pytest.approx(2.5)
    rules.throttle(state, 103.0)
    assert rules.try_release(state, 103.0, "other", 20)[0] == 0.0
    throttled = (1 + PACING_MARGIN) / (20 * THROTTLE_FACTOR)
    assert rules.try_release(state, 103.0, "other", 20)[0] == pytest.approx(throttled)


def test_one_ask_takes_only_the_slots_due_within_the_catch_up_time() -> None:
    interval = (1 + PACING_MARGIN) / 1000
    due = 1 + int(MAX_CATCH_UP_S / interval)  # the slot now, and those due in the next 5 ms
    state = rules.BudgetState()
    assert rules.try_release(state, 100.0, "a", 1000, want=50) == (0.0, due)
    assert state.last_sent == pytest.approx(100.0 + (due - 1) * interval)
    wait, granted = rules.try_release(state, 100.0, "a", 1000, want=50)
    assert (granted, wait) == (0, pytest.approx(due * interval))
    # never more than asked for, and at a rate whose interval exceeds 5 ms one slot at a time
    assert rules.try_release(rules.BudgetState(), 100.0, "a", 1000, want=2) == (0.0, 2)
    assert rules.try_release(rules.BudgetState(), 100.0, "a", 20, want=50) == (0.0, 1)


@pytest.mark.alone
async def test_a_busy_gate_asks_the_store_once_for_many_requests_and_stays_within_the_rate(tmp_path: Path) -> None:
    from runner.platform.budget.gate import SharedGate

    class Counted(FileBudget):
        asks = 0

        async def try_release(self, rate: float, want: int = 1) -> tuple[float, int]:
            Counted.asks += 1
            return await super().try_release(rate, want)

    store = Counted(budget_file(tmp_path, "host/C1"), "mine")
    gate = SharedGate(store, 2000.0)
    times: list[float] = []

    async def spend(count: int) -> None:
        for _ in range(count):
            await gate.acquire()
            times.append(time.monotonic())

    try:
        await asyncio.gather(*(spend(40) for _ in range(64)))  # 1.3 s of releases
    finally:
        await gate.close()
        store.close()
    times.sort()
    assert len(times) == 2560
    assert max_in_window(times) <= 2000
    assert Counted.asks < 2560 / 4  # the slots due together were taken together


def test_a_state_from_a_clock_that_went_back_is_forgotten_and_garbage_is_a_fresh_state() -> None:
    state = rules.BudgetState(last_sent=5000.0, paused_until=100.0 + 2 * rules.MAX_PAUSE_S)
    assert rules.try_release(state, 100.0, "a", 20)[0] == 0.0
    assert rules.BudgetState.from_json({"rates": "nonsense"}) == rules.BudgetState()
    state = rules.BudgetState(last_sent=1.5, paused_until=2.0, factor=0.7, last_throttle=1.0, rates={"a": (5.0, 1.0)})
    assert rules.BudgetState.from_json(state.to_json()) == state


def test_the_key_is_the_account_in_its_data_center_and_the_file_name_hides_it(tmp_path: Path) -> None:
    assert budget_key("https://iot-api.acceleronix.io", "C1") == "iot-api.acceleronix.io/C1"
    assert budget_key("https://iot-api.quectelcn.com", "C1") != budget_key("https://iot-api.acceleronix.io", "C1")
    path = budget_file(tmp_path, budget_key("https://iot-api.acceleronix.io", "C1"))
    assert "C1" not in path.name


async def test_two_gates_on_one_file_share_the_budget_and_a_pause(tmp_path: Path) -> None:
    path = budget_file(tmp_path, "host/C1")
    first, second = FileBudget(path, "one"), FileBudget(path, "two")
    try:
        assert (await first.try_release(20))[0] == 0.0
        assert (await second.try_release(20))[0] > 0.0  # the other process just spent the slot
        await second.pause(30.0)
        assert (await first.try_release(20))[0] > 25.0
        assert os.stat(path).st_mode & 0o777 == 0o600
    finally:
        first.close()
        second.close()


def _spend_in_processes(limiter: str, tmp_path: Path, *, workers: int, each: int, rate: float) -> list[float]:
    """Start `workers` processes on one account's budget together; every release time, sorted."""
    go = tmp_path / "go"
    outs = [tmp_path / f"times-{i}.txt" for i in range(workers)]
    processes = [subprocess.Popen([sys.executable, "-m", "tests.budget_worker", limiter, "sim/C100001", str(rate),
                                   str(each), str(out), str(go)], cwd=REPO, env=os.environ.copy())
                 for out in outs]
    try:
        go.touch()
        for process in processes:
            assert process.wait(timeout=60) == 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    wait_for(lambda: all(out.exists() for out in outs))
    return sorted(float(line) for out in outs for line in out.read_text(encoding="utf-8").split())


@pytest.mark.alone
def test_processes_on_one_host_share_the_rate_through_the_state_file(tmp_path: Path) -> None:
    times = _spend_in_processes("local", tmp_path, workers=3, each=15, rate=20)
    assert len(times) == 45
    assert max_in_window(times) <= 20
    # together, not three times the rate: 45 releases at 20/s take more than two seconds
    assert times[-1] - times[0] >= 44 / 20 * 0.98


@pytest.mark.alone
def test_processes_share_the_rate_through_redis(tmp_path: Path, redis_url: str) -> None:
    times = _spend_in_processes(redis_url, tmp_path, workers=3, each=15, rate=20)
    assert len(times) == 45
    assert max_in_window(times) <= 20
    assert times[-1] - times[0] >= 44 / 20 * 0.98


async def test_the_lua_script_follows_the_same_rules_as_the_file(redis_url: str) -> None:
    async with open_gate(redis_url, 5.0, "sim/C1") as slow, open_gate(redis_url, 20.0, "sim/C1") as fast:
        from runner.platform.budget.gate import SharedGate

        assert isinstance(slow, SharedGate)
        assert isinstance(fast, SharedGate)
        store = fast._store
        assert (await slow._store.try_release(5.0))[0] == 0.0
        wait = (await store.try_release(20.0))[0]
        assert wait == pytest.approx((1 + PACING_MARGIN) / 5, abs=0.05)  # the lower rate holds
        await slow._store.pause(20.0)
        assert (await store.try_release(20.0))[0] == pytest.approx(20.0, abs=0.5)  # the other's pause holds it
    async with open_gate(redis_url, 1000.0, "sim/C2") as busy:
        assert isinstance(busy, SharedGate)
        due = 1 + int(MAX_CATCH_UP_S / ((1 + PACING_MARGIN) / 1000))
        assert await busy._store.try_release(1000.0, 50) == (0.0, due)  # as rules.try_release grants


async def test_an_unreachable_redis_is_a_usage_error_before_anything_is_sent() -> None:
    from runner.errors import UsageError

    with pytest.raises(UsageError, match=r"Redis at 127\.0\.0\.1:1/0 does not answer.*--limiter local"):
        async with open_gate("redis://127.0.0.1:1/0", 5.0, "sim/C1"):
            pass


async def test_a_redis_that_answers_but_refuses_says_why_not_that_it_does_not_answer(tmp_path: Path) -> None:
    from runner.errors import UsageError

    from .redisserver import redis_server

    servers = redis_server(tmp_path / "redis", "--requirepass", "right-one")
    url = next(servers)
    try:
        wrong = url.replace("redis://", "redis://:wrong-one@")
        with pytest.raises(UsageError) as refused:
            async with open_gate(wrong, 5.0, "sim/C1"):
                pass
        assert "refused the password: put the right one in the URL" in str(refused.value)
        assert "wrong-one" not in str(refused.value)
        with pytest.raises(UsageError, match=r"/99 refused the connection \(DB index is out of range\): fix the URL"):
            async with open_gate(url.replace("redis://", "redis://:right-one@").replace("/0", "/99"), 5.0, "sim/C1"):
                pass
    finally:
        servers.close()


async def test_a_retry_after_met_by_one_gate_holds_every_gate_of_the_account(tmp_path: Path) -> None:
    from runner.platform.budget.gate import SharedGate

    path = budget_file(tmp_path, "host/C1")
    mine, theirs = FileBudget(path, "mine"), FileBudget(path, "theirs")
    try:
        gate = SharedGate(mine, 20.0)
        gate.pause(30.0)  # the client met Retry-After: 30
        gate.throttled()  # and a 429
        await gate.close()
        wait = (await theirs.try_release(20.0))[0]  # another process of the account asks
        assert 29.0 < wait <= 30.0
    finally:
        mine.close()
        theirs.close()


async def test_a_process_that_is_done_no_longer_holds_the_others_to_its_rate(tmp_path: Path) -> None:
    async with open_gate("local", 2.0, "host/C1") as slow:
        await slow.acquire()
    store = FileBudget(budget_file(tmp_path / "xdg-state" / "sharebatch", "host/C1"), "fast")
    try:
        assert (await store.try_release(20.0))[0] == pytest.approx(INTERVAL_20, abs=0.01)  # not 1/2 s
    finally:
        store.close()


async def test_a_state_folder_that_cannot_be_written_leaves_the_run_pacing_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from runner.platform.pacing import DispatchGate

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    async with open_gate("local", 5.0, "host/C1") as gate:
        assert isinstance(gate, DispatchGate)
    assert "this run paces itself alone, as with --limiter off" in caplog.text
