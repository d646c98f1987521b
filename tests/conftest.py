"""Fixtures shared by the whole suite."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runner.simulator import RunningSimulator, SimulatorConfig, start_simulator

from .fake_http import FakeHttp

REPO = Path(__file__).resolve().parent.parent
NOW = 1_750_000_000.0  # the epoch seconds FakeClock starts at


class FakeClock:
    """Seconds that only move when a test says so."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

SAMPLES = REPO / "samples"


def sim_call(base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """GET (or, with a body, POST as JSON) a simulator's /_sim/ endpoint and parse the answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """Under pytest-xdist (`make test`), a test marked `alone` runs while no other worker runs a test: it counts
    requests per sliding second of the real clock, which another test's load on the same cores can bunch up."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return (yield)
    with _turn(item.config, alone=item.get_closest_marker("alone") is not None):
        return (yield)


@contextlib.contextmanager
def _turn(config: pytest.Config, *, alone: bool) -> Iterator[None]:
    """A readers-writer lock shared by the run's workers (flock on two files in the run's base temp folder):
    every test holds `room` shared, an `alone` test holds it exclusively. `gate` is a turnstile: a waiting
    `alone` test holds it, so the other workers cannot keep starting tests ahead of it."""
    folder = config._tmp_path_factory.getbasetemp().parent  # the controller's folder above popen-gwN
    with (folder / "alone.gate").open("a") as gate, (folder / "alone.room").open("a") as room:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(room, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
        yield  # closing the files at the end releases both locks


@pytest.fixture(autouse=True)
def private_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Token fallbacks of the last resort go to $XDG_STATE_HOME: keep them inside each test."""
    folder = tmp_path / "xdg-state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder


@dataclass
class ThreadedSimulator:
    """A simulator on its own event loop in a thread, for tests that run the synchronous CLI."""

    running: RunningSimulator
    loop: asyncio.AbstractEventLoop

    @property
    def base_url(self) -> str:
        return self.running.base_url

    @property
    def token(self) -> str:
        return self.running.access_token

    def get(self, path: str) -> Any:
        """GET a /_sim/ introspection endpoint."""
        return sim_call(self.base_url, path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return sim_call(self.base_url, path, body)


@pytest.fixture
def sim_thread_factory() -> Iterator[Callable[[SimulatorConfig], ThreadedSimulator]]:
    started: list[ThreadedSimulator] = []
    threads: list[threading.Thread] = []

    def start(config: SimulatorConfig) -> ThreadedSimulator:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        threads.append(thread)
        future: Future[RunningSimulator] = asyncio.run_coroutine_threadsafe(start_simulator(config), loop)
        sim = ThreadedSimulator(future.result(timeout=10), loop)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        asyncio.run_coroutine_threadsafe(sim.running.close(), sim.loop).result(timeout=10)
        sim.loop.call_soon_threadsafe(sim.loop.stop)
    for thread in threads:
        thread.join(timeout=10)
    for sim in started:
        sim.loop.close()


@dataclass
class ProcessSimulator:
    """The simulator as its own process (`sharebatch simulate`): no GIL shared with the client,
    so its clock measures arrivals the way a real server would."""

    base_url: str
    token: str
    process: subprocess.Popen[bytes]
    #: every owner account's first token pair by uid, from the ready file (`--account UID` adds accounts)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        return sim_call(self.base_url, path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a /_sim/ endpoint, e.g. /_sim/config to switch faults on a running simulator."""
        return sim_call(self.base_url, path, body)


def start_sim_process(tmp_path: Path, *args: str) -> Iterator[ProcessSimulator]:
    """`sharebatch simulate ARGS` as its own process on a free port, stopped at the end."""
    ready = tmp_path / "simulator.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "simulate", "--port", "0", "--ready-file", str(ready), "--seed", "1", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: ready.exists() or process.poll() is not None)
        assert process.poll() is None, "the simulator process exited at start"
        info = json.loads(ready.read_text())
        yield ProcessSimulator(info["base_url"], info["access_token"], process, info.get("accounts", {}))
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def sim_process(tmp_path: Path) -> Iterator[ProcessSimulator]:
    yield from start_sim_process(tmp_path)


@pytest.fixture
def sim_thread(sim_thread_factory: Callable[[SimulatorConfig], ThreadedSimulator]) -> ThreadedSimulator:
    return sim_thread_factory(SimulatorConfig(seed=1))


def wait_for(condition: Callable[[], bool], deadline_s: float = 30.0) -> None:
    """Poll until `condition()` holds; fail the test at the deadline."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.01)


CsvWriter = Callable[[str, list[list[str]]], Path]


@pytest.fixture
def write_csv(tmp_path: Path) -> CsvWriter:
    """Write rows (the first one is the header) to tmp_path/NAME as UTF-8 CSV."""
    import csv

    def write(name: str, rows: list[list[str]]) -> Path:
        path = tmp_path / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(rows)
        return path

    return write


def good_rows(count: int, *, devices: int | None = None, cover_mark: str = "", expiry: str = "30d") -> list[list[str]]:
    """A header and `count` rows that the simulator accepts; `devices` < count makes devices repeat."""
    devices = devices or count
    rows = [["pk", "dk", "recipient", "expiry", "cover_mark"]]
    for index in range(count):
        rows.append(["p1test", f"00D{index % devices:06d}", f"U{index:07d}", expiry, cover_mark])
    return rows


@pytest.fixture
def fake() -> Iterator[FakeHttp]:
    """aioresponses (see fake_http.py); every HTTP request of the test goes to it."""
    with FakeHttp() as mocked:
        yield mocked


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A fresh redis-server of this test's own (skips when the package is not installed)."""
    from .redisserver import redis_server

    yield from redis_server(tmp_path / "redis")
