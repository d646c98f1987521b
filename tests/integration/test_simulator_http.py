"""The simulator over a real socket: every answer a client can meet, checked with aiohttp."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from runner.simulator import FaultKind, RunningSimulator, SimulatorConfig

pytestmark = pytest.mark.integration

SHARE = "/v2/binding/enduserapi/shareByUid"
LIST = "/v2/binding/enduserapi/deviceShareUserList"
REVOKE = "/v2/binding/enduserapi/ownerUserUnshareDevice"
REFRESH = "/v2/enduser/enduserapi/refreshToken"
SET_TIME = "/v2/binding/enduserapi/setShareTime"
DAY_MS = 86_400_000

SimulatorFactory = Callable[[SimulatorConfig], Awaitable[RunningSimulator]]


def future_ms(days: float = 1) -> int:
    return int(time.time() * 1000 + days * DAY_MS)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    sim: RunningSimulator,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    token: str | None = "owner",
    **kwargs: Any,
) -> tuple[int, Any]:
    """(HTTP status, parsed JSON body); token "owner" means the simulator's own access token."""
    headers = {} if token is None else {"Authorization": sim.access_token if token == "owner" else token}
    query = {k: str(v) for k, v in (params or {}).items()}
    async with http.request(method, sim.base_url + path, params=query, headers=headers, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None)


async def share(http: aiohttp.ClientSession, sim: RunningSimulator, **params: Any) -> dict[str, Any]:
    params = {"pk": "p1", "dk": "D1", "shareUid": "C200001", **params}
    status, body = await call(http, sim, "POST", SHARE, params)
    assert status == 200
    return dict(body)


async def share_infos(http: aiohttp.ClientSession, sim: RunningSimulator, dk: str = "D1") -> list[dict[str, Any]]:
    status, body = await call(http, sim, "GET", LIST, {"pk": "p1", "dk": dk})
    assert (status, body["code"]) == (200, 200)
    return [row["shareInfo"] for row in body["data"]]


async def sim_json(http: aiohttp.ClientSession, sim: RunningSimulator, path: str) -> Any:
    async with http.get(sim.base_url + path) as resp:
        assert resp.status == 200
        return await resp.json()


# --- shareByUid ---------------------------------------------------------------------------------


async def test_share_returns_a_new_share_code_each_time(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    first = await share(http, simulator, coverMark=2)
    second = await share(http, simulator, coverMark=2, shareUid="C200002")
    assert first["code"] == second["code"] == 200
    assert isinstance(first["data"], str)
    assert first["data"]
    assert first["data"] != second["data"]
    assert set(first) == {"code", "msg", "data", "extMsg"}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"pk": ""}, 5066),
        ({"dk": ""}, 5067),
        ({"coverMark": "4"}, 5133),
        ({"coverMark": "x"}, 5133),
        ({"sharingExpireAt": "soon"}, 5145),
        ({"sharingExpireAt": "1000"}, 5145),
        ({"shareUid": ""}, 5891),
        ({"dk": "UNV-1"}, 5360),
        ({"shareUid": "FAM-1"}, 5864),
        ({"dk": "FAIL-1"}, 5134),
        ({"dk": "OTHER-1"}, 5135),
        ({"shareUid": "GHOST-1"}, 5033),
        ({"shareUid": "", "email": "ghost.user@example.com"}, 5031),
        ({"shareUid": "", "phone": "0001234"}, 5004),
    ],
)
async def test_share_answers_each_business_error_with_http_200(
    http: aiohttp.ClientSession, simulator: RunningSimulator, params: dict[str, str], code: int
) -> None:
    body = await share(http, simulator, **params)
    assert body["code"] == code
    assert body["data"] is None
    assert simulator.state.shares == []


@pytest.mark.parametrize(
    ("token", "code"),
    [(None, 5106), ("Bearer not.a.jwt", 5032), ("Bearer Bearer x", 5032), ("refresh", 5032)],
)
async def test_share_checks_the_token_first(
    http: aiohttp.ClientSession, simulator: RunningSimulator, token: str | None, code: int
) -> None:
    token = simulator.refresh_token if token == "refresh" else token
    status, body = await call(http, simulator, "POST", SHARE, {"pk": ""}, token=token)
    assert (status, body["code"]) == (200, code)


async def test_share_reads_a_form_body_when_the_query_lacks_a_parameter(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    form = {"pk": "p1", "dk": "D1", "email": "alice@example.com"}
    status, body = await call(http, simulator, "POST", SHARE, data=form)
    assert (status, body["code"]) == (200, 200)
    assert simulator.state.shares[0].recipient.email == "alice@example.com"


async def test_cover_mark_1_ends_earlier_shares_of_the_device_whoever_received_them(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    first = (await share(http, simulator, shareUid="C200001"))["data"]
    second = (await share(http, simulator, shareUid="C200002", coverMark=1))["data"]
    infos = {info["shareCode"]: info for info in await share_infos(http, simulator)}
    assert infos[first]["shareStatus"] == 0
    assert infos[first]["deleteTimeTs"] is not None
    assert infos[second]["shareStatus"] == 1


async def test_cover_mark_2_keeps_both_shares(http: aiohttp.ClientSession, simulator: RunningSimulator) -> None:
    await share(http, simulator, shareUid="C200001", coverMark=2)
    await share(http, simulator, shareUid="C200002", coverMark=2)
    assert [info["shareStatus"] for info in await share_infos(http, simulator)] == [1, 1]


async def test_cover_mark_3_replaces_only_with_a_later_expiry(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    first = (await share(http, simulator, sharingExpireAt=future_ms(10)))["data"]
    refused = await share(http, simulator, shareUid="C200002", coverMark=3, sharingExpireAt=future_ms(5))
    assert refused["code"] == 5134
    assert [(i["shareCode"], i["shareStatus"]) for i in await share_infos(http, simulator)] == [(first, 1)]

    later = (await share(http, simulator, shareUid="C200002", coverMark=3, sharingExpireAt=future_ms(20)))["data"]
    infos = {info["shareCode"]: info["shareStatus"] for info in await share_infos(http, simulator)}
    assert infos == {first: 0, later: 1}


async def test_cover_mark_3_cannot_beat_a_permanent_share(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    await share(http, simulator)  # no expiry: infinitely late
    body = await share(http, simulator, shareUid="C200002", coverMark=3, sharingExpireAt=future_ms(3650))
    assert body["code"] == 5134


# --- deviceShareUserList ------------------------------------------------------------------------


async def test_share_list_shows_the_platform_fields(http: aiohttp.ClientSession, simulator: RunningSimulator) -> None:
    expire = future_ms(2)
    before_ms = int(time.time() * 1000)
    code = (await share(http, simulator, shareUid="", email="bob@example.com", sharingExpireAt=expire))["data"]
    status, body = await call(http, simulator, "GET", LIST, {"pk": "p1", "dk": "D1"})
    assert (status, body["code"]) == (200, 200)
    [row] = body["data"]
    info, user = row["shareInfo"], row["userInfo"]
    assert info["shareCode"] == code
    assert (info["pk"], info["dk"], info["ownerUid"], info["coverMark"]) == ("p1", "D1", "C100001", 1)
    assert info["shareStatus"] == 1
    assert info["sharingExpireAtTs"] == expire
    assert before_ms <= info["shareTimeTs"] <= int(time.time() * 1000)
    assert info["deleteTimeTs"] is None
    assert isinstance(info["shareId"], int)
    assert user["email"] == "bob@example.com"
    assert user["uid"] == info["shareUid"]
    assert {"phone", "nikeName", "status"} <= set(user)


async def test_share_list_shows_an_expired_share_as_ended(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    await share(http, simulator, sharingExpireAt=future_ms(1))
    simulator.state.clock = lambda: time.time() + 2 * 86400
    fresh = simulator.state.issue_tokens()  # the owner's first token is long dead by then
    _status, body = await call(http, simulator, "GET", LIST, {"pk": "p1", "dk": "D1"}, token=fresh.access_token)
    assert body["data"][0]["shareInfo"]["shareStatus"] == 0


@pytest.mark.parametrize(("params", "code"), [({"dk": "D1"}, 5066), ({"pk": "p1"}, 5067),
                                               ({"pk": "p1", "dk": "OTHER-9"}, 5141)])
async def test_share_list_errors(
    http: aiohttp.ClientSession, simulator: RunningSimulator, params: dict[str, str], code: int
) -> None:
    status, body = await call(http, simulator, "GET", LIST, params)
    assert (status, body["code"]) == (200, code)


# --- ownerUserUnshareDevice ---------------------------------------------------------------------


async def test_revoke_then_revoke_again_answers_5142(http: aiohttp.ClientSession, simulator: RunningSimulator) -> None:
    code = (await share(http, simulator))["data"]
    assert (await call(http, simulator, "DELETE", REVOKE, {"shareCode": code}))[1] == {
        "code": 200, "msg": "success", "data": {}, "extMsg": None}
    assert (await call(http, simulator, "DELETE", REVOKE, {"shareCode": code}))[1]["code"] == 5142
    assert (await share_infos(http, simulator))[0]["shareStatus"] == 0


async def test_revoke_refuses_unknown_missing_and_foreign_codes(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    other = simulator.state.issue_tokens("C300000")
    params = {"pk": "p1", "dk": "THEIRS", "shareUid": "C2"}
    _status, body = await call(http, simulator, "POST", SHARE, params, token=other.access_token)
    foreign = body["data"]
    assert body["code"] == 200
    assert (await call(http, simulator, "DELETE", REVOKE, {"shareCode": foreign}))[1]["code"] == 5041
    assert (await call(http, simulator, "DELETE", REVOKE, {"shareCode": "NOPE"}))[1]["code"] == 5041
    assert (await call(http, simulator, "DELETE", REVOKE, {}))[1]["code"] == 5136
    # the owner of THEIRS is now C300000, so the simulator's owner may not list it either
    assert (await call(http, simulator, "GET", LIST, {"pk": "p1", "dk": "THEIRS"}))[1]["code"] == 5141


# --- setShareTime and acceptance -------------------------------------------------------------------


async def test_set_share_time_over_http_changes_the_listed_expiry_and_refuses_an_ended_share(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    code = (await share(http, simulator, sharingExpireAt=future_ms(1)))["data"]
    new_expiry = future_ms(60)
    _status, body = await call(http, simulator, "PUT", SET_TIME, {"shareCode": code, "sharingExpireAt": new_expiry})
    assert body == {"code": 200, "msg": "success", "data": {}, "extMsg": None}
    assert (await share_infos(http, simulator))[0]["sharingExpireAtTs"] == new_expiry
    assert (await call(http, simulator, "PUT", SET_TIME, {"sharingExpireAt": new_expiry}))[1]["code"] == 5136
    assert (await call(http, simulator, "PUT", SET_TIME, {"shareCode": code}))[1]["code"] == 5145
    await call(http, simulator, "DELETE", REVOKE, {"shareCode": code})
    assert (await call(http, simulator, "PUT", SET_TIME, {"shareCode": code, "sharingExpireAt": new_expiry})
            )[1]["code"] == 5142


async def test_sim_accept_shows_the_acceptance_in_the_share_list(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(SimulatorConfig(seed=3, listed_status=2))
    code = (await share(http, sim))["data"]
    assert (await share_infos(http, sim))[0]["shareStatus"] == 2  # pending: the configured status
    async with http.post(sim.base_url + "/_sim/accept", json={"share_code": code}) as resp:
        assert resp.status == 200
        view = await resp.json()
    [info] = await share_infos(http, sim)
    assert info["acceptTimeTs"] == view["accepted_ms"] is not None
    assert info["shareStatus"] == 1
    async with http.post(sim.base_url + "/_sim/accept", json={"share_code": "NOPE"}) as resp:
        assert resp.status == 404


# --- tokens -------------------------------------------------------------------------------------


async def test_access_token_expires_after_its_ttl(http: aiohttp.ClientSession, simulator: RunningSimulator) -> None:
    assert (await share(http, simulator))["code"] == 200
    simulator.state.clock = lambda: time.time() + 7200.5
    assert (await share(http, simulator))["code"] == 5032


async def test_refresh_rotates_the_pair_and_kills_the_old_refresh_token(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    simulator.state.clock = lambda: time.time() + 7201  # the owner's access token is dead
    status, body = await call(http, simulator, "PUT", REFRESH, {"refreshToken": simulator.refresh_token}, token=None)
    assert (status, body["code"]) == (200, 200)
    access, refresh = body["data"]["accessToken"], body["data"]["refreshToken"]
    assert access["token"].startswith("Bearer ")
    assert refresh["token"].startswith("Bearer ")
    assert refresh["token"] != simulator.refresh_token
    assert abs(access["expirationTime"] - (time.time() + 7201 + 7200)) < 5
    assert (await share(http, simulator))["code"] == 5032
    status, body = await call(http, simulator, "POST", SHARE, {"pk": "p1", "dk": "D1", "shareUid": "C2"},
                              token=access["token"])
    assert body["code"] == 200
    reuse = await call(http, simulator, "PUT", REFRESH, {"refreshToken": simulator.refresh_token}, token=None)
    assert reuse[1]["code"] == 5032
    again = await call(http, simulator, "PUT", REFRESH, {"refreshToken": refresh["token"]}, token=None)
    assert again[1]["code"] == 200


async def test_refresh_without_a_token_answers_5106(http: aiohttp.ClientSession, simulator: RunningSimulator) -> None:
    assert (await call(http, simulator, "PUT", REFRESH, {}, token=None))[1]["code"] == 5106


async def test_fractional_token_ttl_is_honoured(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(SimulatorConfig(seed=1, token_ttl_s=2.5))
    issued_at = time.time()
    sim.state.clock = lambda: issued_at + 2.4
    assert (await share(http, sim))["code"] == 200
    sim.state.clock = lambda: issued_at + 2.6
    assert (await share(http, sim))["code"] == 5032


# --- load: rate limit and latency ---------------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(SimulatorConfig(seed=1, rate_limit=2))
    now = [1000.0]
    sim.traffic.clock = lambda: now[0]  # all requests arrive "at once"
    statuses = []
    for _ in range(3):
        async with http.post(sim.base_url + SHARE, params={"pk": "p1", "dk": "D1", "shareUid": "C2"},
                             headers={"Authorization": sim.access_token}) as resp:
            statuses.append(resp.status)
            last_headers, last_body = resp.headers, await resp.json()
    assert statuses == [200, 200, 429]
    assert last_headers["Retry-After"] == "1"
    assert last_body["code"] == 429
    now[0] += 1.0  # the window has moved on
    assert (await share(http, sim))["code"] == 200
    stats = await sim_json(http, sim, "/_sim/stats")
    assert stats["rate_limited"] == 1
    assert stats["max_admitted_in_any_second"] == 2


async def test_latency_delays_each_answer(http: aiohttp.ClientSession, simulator_factory: SimulatorFactory) -> None:
    sim = await simulator_factory(SimulatorConfig(seed=1, latency_ms=150))
    started = time.monotonic()
    await share(http, sim)
    assert time.monotonic() - started >= 0.15


# --- faults -------------------------------------------------------------------------------------


def faulty(kind: FaultKind, **extra: Any) -> SimulatorConfig:
    return SimulatorConfig(seed=1, fault_rate=1.0, fault_kinds=(kind,), **extra)


async def test_server_error_answers_5xx_and_applies_nothing(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.SERVER_ERROR))
    statuses = set()
    for _ in range(12):
        async with http.post(sim.base_url + SHARE, params={"pk": "p1", "dk": "D1", "shareUid": "C2"},
                             headers={"Authorization": sim.access_token}) as resp:
            statuses.add(resp.status)
    assert statuses <= {500, 502, 503}
    assert len(statuses) > 1
    assert await sim_json(http, sim, "/_sim/shares") == []
    assert (await sim_json(http, sim, "/_sim/stats"))["faults"]["server_error"] == 12


async def test_reset_before_apply_resets_the_connection_and_applies_nothing(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.RESET_BEFORE_APPLY))
    with pytest.raises(aiohttp.ClientOSError, match="reset"):
        await share(http, sim)
    assert await sim_json(http, sim, "/_sim/shares") == []
    [record] = await sim_json(http, sim, "/_sim/requests")
    assert (record["fault"], record["http_status"], record["share_code"]) == ("reset_before_apply", None, None)


async def test_drop_after_apply_applies_the_share_then_disconnects(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.DROP_AFTER_APPLY))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await share(http, sim)
    [record] = await sim_json(http, sim, "/_sim/requests")
    assert record["http_status"] is None
    assert record["share_code"]
    # faults only hit shareByUid, so the list call answers normally
    assert [(i["shareCode"], i["shareStatus"]) for i in await share_infos(http, sim)] == [(record["share_code"], 1)]


async def test_slow_after_apply_applies_the_share_and_outlasts_the_client_timeout(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.SLOW_AFTER_APPLY, slow_fault_s=30))
    with pytest.raises(TimeoutError):
        await call(http, sim, "POST", SHARE, {"pk": "p1", "dk": "D1", "shareUid": "C2"},
                   timeout=aiohttp.ClientTimeout(total=0.3))
    [shared] = await sim_json(http, sim, "/_sim/shares")
    assert shared["state"] == "valid"


async def test_faults_can_be_switched_off_at_runtime(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    sim = await simulator_factory(faulty(FaultKind.SERVER_ERROR))
    sim.config.fault_rate = 0.0
    assert (await share(http, sim))["code"] == 200
    change = {"fault_rate": 1.0, "fault_kinds": ["drop_after_apply"]}
    async with http.post(sim.base_url + "/_sim/config", json=change) as resp:
        assert resp.status == 200
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await share(http, sim)
    async with http.post(sim.base_url + "/_sim/config", json={"fault_rate": 7}) as resp:
        assert resp.status == 400
    assert sim.config.fault_rate == 1.0


async def test_same_seed_gives_the_same_faults_and_share_codes(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    outcomes = []
    for _ in range(2):
        sim = await simulator_factory(SimulatorConfig(seed=7, fault_rate=0.5, fault_kinds=(FaultKind.SERVER_ERROR,)))
        for i in range(10):
            async with http.post(sim.base_url + SHARE, params={"pk": "p1", "dk": f"D{i}", "shareUid": "C2"},
                                 headers={"Authorization": sim.access_token}):
                pass
        records = await sim_json(http, sim, "/_sim/requests")
        outcomes.append([(r["http_status"], r["share_code"]) for r in records])
    assert outcomes[0] == outcomes[1]
    assert len({status for status, _ in outcomes[0]}) > 1


# --- /_sim/ -------------------------------------------------------------------------------------


async def test_stats_count_the_most_requests_in_any_second(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    arrivals = iter([0.0, 0.1, 0.5, 0.95, 1.2, 2.5])
    simulator.traffic.clock = lambda: next(arrivals)
    simulator.traffic.started = 0.0
    for _ in range(5):
        await share(http, simulator, coverMark=2)
    await call(http, simulator, "PUT", REFRESH, {"refreshToken": simulator.refresh_token}, token=None)
    stats = await sim_json(http, simulator, "/_sim/stats")
    assert stats["max_in_any_second"] == 4  # 0.0, 0.1, 0.5, 0.95
    assert stats["total_requests"] == 6
    assert stats["by_endpoint"] == {"shareByUid": 5, "refreshToken": 1}
    assert stats["refreshes"] == 1
    assert stats["shares_applied"] == 5


async def test_sim_requests_log_each_api_call(http: aiohttp.ClientSession, simulator: RunningSimulator) -> None:
    code = (await share(http, simulator))["data"]
    await share(http, simulator, dk="UNV-2")
    records = await sim_json(http, simulator, "/_sim/requests")
    assert [(r["method"], r["path"], r["code"], r["share_code"]) for r in records] == [
        ("POST", SHARE, 200, code), ("POST", SHARE, 5360, None)]
    assert records[1]["params"] == {"pk": "p1", "dk": "UNV-2", "shareUid": "C200001"}
    assert records[0]["t"] <= records[1]["t"]
    assert await sim_json(http, simulator, "/_sim/requests?since=1") == records[1:]
    async with http.post(simulator.base_url + "/_sim/reset") as resp:
        assert resp.status == 200
    assert await sim_json(http, simulator, "/_sim/shares") == []
