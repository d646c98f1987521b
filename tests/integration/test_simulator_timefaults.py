"""The simulator's faults of time: a request applied after the client gave up, and a skewed clock."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime

import aiohttp
import pytest

from runner.simulator import FaultKind, SimulatorConfig

from .test_simulator_http import LIST, SHARE, SimulatorFactory, call, sim_json

pytestmark = pytest.mark.integration


async def test_late_apply_applies_the_share_after_the_client_gave_up(simulator_factory: SimulatorFactory) -> None:
    sim = await simulator_factory(SimulatorConfig(seed=1, fault_rate=1.0, fault_kinds=(FaultKind.LATE_APPLY,),
                                                  late_apply_s=(0.4, 0.5)))
    async with aiohttp.ClientSession() as http:
        with pytest.raises(TimeoutError):
            await call(http, sim, "POST", SHARE, {"pk": "p1", "dk": "D1", "shareUid": "C2"},
                       timeout=aiohttp.ClientTimeout(total=0.1))
        gave_up = time.time()
        assert await sim_json(http, sim, "/_sim/shares") == []  # nothing yet: the client's look-up finds nothing
        await asyncio.wait_for(sim.late_applies_landed(), 10)
        [late] = await sim_json(http, sim, "/_sim/shares")
        assert late["state"] == "valid"
        _, body = await call(http, sim, "GET", LIST, {"pk": "p1", "dk": "D1"})
        [entry] = body["data"]
        assert entry["shareInfo"]["shareTimeTs"] >= gave_up * 1000  # created after the client had given up


async def test_a_clock_offset_shifts_the_date_header_and_the_share_times(simulator_factory: SimulatorFactory) -> None:
    sim = await simulator_factory(SimulatorConfig(seed=1, clock_offset_s=-90))
    async with aiohttp.ClientSession() as http:
        before = time.time()
        async with http.post(sim.base_url + SHARE, params={"pk": "p1", "dk": "D1", "shareUid": "C2"},
                             headers={"Authorization": sim.access_token}) as resp:
            assert resp.status == 200
            date = parsedate_to_datetime(resp.headers["Date"]).timestamp()
        assert before - 92 <= date <= time.time() - 88
        _, body = await call(http, sim, "GET", LIST, {"pk": "p1", "dk": "D1"})
        created_ms = body["data"][0]["shareInfo"]["shareTimeTs"]
        assert before * 1000 - 91_000 <= created_ms <= time.time() * 1000 - 89_000
        async with http.post(sim.base_url + "/_sim/config", json={"clock_offset_s": 0, "late_apply_s": [1, 2]}) as r:
            assert r.status == 200
        async with http.post(sim.base_url + "/_sim/config", json={"late_apply_s": [3, 1]}) as r:
            assert r.status == 400
