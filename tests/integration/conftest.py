"""Fixtures that start the built-in simulator on 127.0.0.1 (a free port) and close it afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

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
