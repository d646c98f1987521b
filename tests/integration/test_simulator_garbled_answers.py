"""The simulator's apply-then-garble faults, the fault budget and the listed status, over a real socket."""

from __future__ import annotations

import json

import aiohttp
import pytest

from runner.simulator import FaultKind, RunningSimulator, SimulatorConfig
from runner.simulator.config import DEFAULT_FAULT_KINDS

from .test_simulator_http import LIST, SHARE, SimulatorFactory, call, http, share_infos, sim_json

pytestmark = pytest.mark.integration
__all__ = ["http"]  # the fixture, imported for its side effect

PARAMS = {"pk": "p1", "dk": "D1", "shareUid": "C200001", "coverMark": "2"}


def faulty(kind: FaultKind, **extra: object) -> SimulatorConfig:
    return SimulatorConfig(seed=1, fault_rate=1.0, fault_kinds=(kind,), **extra)  # type: ignore[arg-type]


async def raw_share(http: aiohttp.ClientSession, sim: RunningSimulator) -> tuple[int, str, bytes]:
    async with http.post(sim.base_url + SHARE, params=PARAMS, headers={"Authorization": sim.access_token}) as resp:
        return resp.status, resp.content_type, await resp.read()


async def test_html_after_apply_applies_the_share_and_answers_200_with_a_page(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.HTML_AFTER_APPLY))
    status, content_type, body = await raw_share(http, sim)
    assert (status, content_type) == (200, "text/html")
    assert body.startswith(b"<html>")
    [record] = await sim_json(http, sim, "/_sim/requests")
    assert record["fault"] == "html_after_apply"
    assert [i["shareCode"] for i in await share_infos(http, sim)] == [record["share_code"]]


async def test_truncated_after_apply_applies_the_share_and_answers_half_the_json(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.TRUNCATED_AFTER_APPLY))
    status, _, body = await raw_share(http, sim)
    assert status == 200
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        json.loads(body)
    assert body.startswith(b'{"code": 200')
    [shared] = await sim_json(http, sim, "/_sim/shares")
    assert shared["state"] == "valid"


async def test_empty_data_after_apply_answers_success_without_the_share_code(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.EMPTY_DATA_AFTER_APPLY))
    status, body = await call(http, sim, "POST", SHARE, PARAMS)
    assert (status, body["code"], body["data"]) == (200, 200, None)
    [shared] = await sim_json(http, sim, "/_sim/shares")
    assert shared["state"] == "valid"


async def test_odd_code_after_apply_answers_an_undocumented_code_but_holds_the_share(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.ODD_CODE_AFTER_APPLY))
    status, body = await call(http, sim, "POST", SHARE, PARAMS)
    assert (status, body["code"]) == (200, 5999)
    [record] = await sim_json(http, sim, "/_sim/requests")
    assert (record["code"], bool(record["share_code"])) == (5999, True)


async def test_a_fault_that_cannot_apply_answers_the_platforms_code_unchanged(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.ODD_CODE_AFTER_APPLY))
    status, body = await call(http, sim, "POST", SHARE, {**PARAMS, "coverMark": "9"})
    assert (status, body["code"]) == (200, 5133)
    assert await sim_json(http, sim, "/_sim/shares") == []


async def test_the_fault_budget_fails_exactly_that_many_requests(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.SERVER_ERROR, fault_budget=2))
    statuses = [(await raw_share(http, sim))[0] for _ in range(4)]
    assert [status >= 500 for status in statuses] == [True, True, False, False]
    assert sim.config.fault_budget == 0
    async with http.post(sim.base_url + "/_sim/config", json={"fault_budget": 1}) as resp:
        assert resp.status == 200
    assert (await raw_share(http, sim))[0] >= 500


async def test_a_negative_fault_budget_is_refused(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    async with http.post(simulator.base_url + "/_sim/config", json={"fault_budget": -1}) as resp:
        assert resp.status == 400
    assert simulator.config.fault_budget is None


async def test_listed_status_changes_how_a_valid_share_is_listed_but_not_an_ended_one(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(SimulatorConfig(seed=1, listed_status=3))
    await call(http, sim, "POST", SHARE, {**PARAMS, "coverMark": "1"})
    await call(http, sim, "POST", SHARE, {**PARAMS, "coverMark": "1"})
    status, body = await call(http, sim, "GET", LIST, {"pk": "p1", "dk": "D1"})
    assert status == 200
    assert [row["shareInfo"]["shareStatus"] for row in body["data"]] == [0, 3]


def test_the_default_fault_mix_is_the_first_waves() -> None:
    assert SimulatorConfig().fault_kinds == DEFAULT_FAULT_KINDS
    assert FaultKind.HTML_AFTER_APPLY not in DEFAULT_FAULT_KINDS
