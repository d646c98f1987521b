"""Fixtures that start the built-in simulator on 127.0.0.1 (a free port) and close it afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runner.cli import main
from runner.simulator import RunningSimulator, SimulatorConfig, start_simulator

SimulatorFactory = Callable[[SimulatorConfig], Awaitable[RunningSimulator]]


@pytest.fixture
async def simulator_factory() -> AsyncIterator[SimulatorFactory]:
    """Start simulators with any config; every one started is closed at teardown."""
    started: list[RunningSimulator] = []

    async def start(config: SimulatorConfig) -> RunningSimulator:
        sim = await start_simulator(config)
        started.append(sim)
        return sim

    yield start
    for sim in reversed(started):
        await sim.close()


@pytest.fixture
async def simulator(simulator_factory: SimulatorFactory) -> RunningSimulator:
    """A simulator with the default config and seed 1: no latency, no faults, no rate limit."""
    return await simulator_factory(SimulatorConfig(seed=1))


@dataclass(frozen=True)
class DemoRun:
    """What `sharebatch demo` printed and the empty folder it ran from (its outputs are under out/demo)."""

    result: Result
    folder: Path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`sharebatch demo` run once from an empty folder (it takes ~5 s); the tests that read what it printed
    and wrote share it and only read its out dir (`status` reads the journal without changing it)."""
    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("XDG_STATE_HOME", str(folder / "xdg-state"))  # as tests/conftest.py's private_state_folder
        result = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
    return DemoRun(result, folder)
