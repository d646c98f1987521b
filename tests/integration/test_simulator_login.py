"""Password logins against the simulator over a real socket, built with runner.login_crypto."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from runner.platform.auth.crypto import (
    email_login_signature,
    encrypt_password,
    new_random,
    phone_login_signature,
)
from runner.simulator import RunningSimulator, SimulatorConfig
from runner.simulator.cli import _announce
from runner.simulator.login import FREEZE_S

pytestmark = pytest.mark.integration

EMAIL_LOGIN = "/v2/enduser/enduserapi/emailPwdLogin"
PHONE_LOGIN = "/v2/enduser/enduserapi/phonePwdLogin"
SHARE = "/v2/binding/enduserapi/shareByUid"
REFRESH = "/v2/enduser/enduserapi/refreshToken"
#: a random whose encryption of the demo password holds "+", "/" and "=", which a query must escape
PLUS_RANDOM = "plus000000000012"

SimulatorFactory = Callable[[SimulatorConfig], Awaitable[RunningSimulator]]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


def email_request(
    config: SimulatorConfig, password: str | None = None, random_str: str | None = None, **overrides: str
) -> dict[str, str]:
    """A signed emailPwdLogin request for the config's owner; `overrides` replace fields after signing."""
    random_str = random_str or new_random()
    pwd = encrypt_password(config.owner_password if password is None else password, random_str)
    signature = email_login_signature(config.owner_email, pwd, random_str, config.user_domain_secret)
    params = {"email": config.owner_email, "pwd": pwd, "random": random_str, "userDomain": config.user_domain,
              "signature": signature}
    return {**params, **overrides}


def phone_request(
    config: SimulatorConfig, password: str | None = None, random_str: str | None = None, **overrides: str
) -> dict[str, str]:
    """A signed phonePwdLogin request for the config's owner; `overrides` replace fields after signing."""
    random_str = random_str or new_random()
    pwd = encrypt_password(config.owner_password if password is None else password, random_str)
    code = config.owner_international_code
    signature = phone_login_signature(code, config.owner_phone, pwd, random_str, config.user_domain_secret)
    params = {"phone": config.owner_phone, "internationalCode": code, "pwd": pwd, "random": random_str,
              "userDomain": config.user_domain, "signature": signature}
    return {**params, **overrides}


async def login(
    http: aiohttp.ClientSession, sim: RunningSimulator, path: str, params: dict[str, str], *, form: bool = False
) -> dict[str, Any]:
    """POST a login with its fields in the query string (the docs' curl) or a form body; the parsed body."""
    kwargs: dict[str, Any] = {"data": params} if form else {"params": params}
    async with http.post(sim.base_url + path, **kwargs) as resp:
        assert resp.status == 200
        return dict(await resp.json())


async def share_with(http: aiohttp.ClientSession, sim: RunningSimulator, token: str) -> int:
    params = {"pk": "p1", "dk": "D1", "shareUid": "C200001", "coverMark": "2"}
    async with http.post(sim.base_url + SHARE, params=params, headers={"Authorization": token}) as resp:
        return int((await resp.json())["code"])


async def sim_json(http: aiohttp.ClientSession, sim: RunningSimulator, path: str) -> Any:
    async with http.get(sim.base_url + path) as resp:
        assert resp.status == 200
        return await resp.json()


# --- success ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", [False, True], ids=["query", "form"])
@pytest.mark.parametrize(("path", "build"), [(EMAIL_LOGIN, email_request), (PHONE_LOGIN, phone_request)],
                         ids=["email", "phone"])
async def test_login_returns_a_token_pair_that_works_on_share_by_uid(
    http: aiohttp.ClientSession,
    simulator: RunningSimulator,
    path: str,
    build: Callable[..., dict[str, str]],
    form: bool,
) -> None:
    body = await login(http, simulator, path, build(simulator.config, random_str=PLUS_RANDOM), form=form)
    assert (body["code"], body["msg"], body["extMsg"]) == (200, "success", None)
    access, refresh = body["data"]["accessToken"], body["data"]["refreshToken"]
    assert access["token"].startswith("Bearer ")
    assert access["token"] != simulator.access_token
    assert abs(access["expirationTime"] - (time.time() + 7200)) < 60
    assert refresh["expirationTime"] > access["expirationTime"]
    assert simulator.state.tokens.decode_claims(access["token"])["uid"] == simulator.config.owner_uid
    assert await share_with(http, simulator, access["token"]) == 200
    assert len(simulator.state.shares) == 1


async def test_the_encrypted_password_needs_escaping_in_the_query(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    params = email_request(simulator.config, random_str=PLUS_RANDOM)
    assert {"+", "/", "="} <= set(params["pwd"])
    unescaped = "&".join(f"{name}={value}" for name, value in params.items())  # "+" arrives as " "
    async with http.post(f"{simulator.base_url}{EMAIL_LOGIN}?{unescaped}") as resp:
        body = await resp.json()
    assert body["code"] == 5420
    assert (await login(http, simulator, EMAIL_LOGIN, params))["code"] == 200


async def test_a_login_refresh_token_refreshes(http: aiohttp.ClientSession, simulator: RunningSimulator) -> None:
    body = await login(http, simulator, PHONE_LOGIN, phone_request(simulator.config))
    refresh = body["data"]["refreshToken"]["token"]
    async with http.put(simulator.base_url + REFRESH, params={"refreshToken": refresh}) as resp:
        refreshed = await resp.json()
    assert refreshed["code"] == 200
    assert await share_with(http, simulator, refreshed["data"]["accessToken"]["token"]) == 200


async def test_login_uses_the_configured_account_and_domain(
    http: aiohttp.ClientSession, simulator_factory: SimulatorFactory
) -> None:
    config = SimulatorConfig(seed=1, owner_uid="C555555", owner_email="ops@example.org", owner_password="Other-pw9",
                             user_domain="E.DM.OTHER.2", user_domain_secret="x" * 44)
    sim = await simulator_factory(config)
    body = await login(http, sim, EMAIL_LOGIN, email_request(config))
    assert body["code"] == 200
    assert sim.state.tokens.decode_claims(body["data"]["accessToken"]["token"])["uid"] == "C555555"
    default = SimulatorConfig()
    assert (await login(http, sim, EMAIL_LOGIN, email_request(default)))["code"] == 5015


# --- refusals -----------------------------------------------------------------------------------


def _without(name: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda params: {k: v for k, v in params.items() if k != name}


def _with(**changes: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda params: {**params, **changes}


@pytest.mark.parametrize(
    ("path", "change", "code"),
    [
        (EMAIL_LOGIN, _without("userDomain"), 5023),
        (PHONE_LOGIN, _without("userDomain"), 5023),
        (EMAIL_LOGIN, _without("email"), 5026),
        (PHONE_LOGIN, _without("phone"), 5021),
        (EMAIL_LOGIN, _without("pwd"), 5022),
        (PHONE_LOGIN, _with(pwd=""), 5022),
        (EMAIL_LOGIN, _without("signature"), 5550),
        (PHONE_LOGIN, _without("signature"), 5550),
        (EMAIL_LOGIN, _with(userDomain="C.DM.10271.5"), 5015),
        (PHONE_LOGIN, _with(userDomain="E.DM.SIM.2"), 5015),
        (EMAIL_LOGIN, _with(signature="0" * 64), 5420),
        (PHONE_LOGIN, _with(internationalCode="44"), 5420),  # the code is signed too
        (EMAIL_LOGIN, _with(random="abcdef"), 5420),  # so is the random
    ],
)
async def test_login_refusals_answer_http_200_with_their_code(
    http: aiohttp.ClientSession,
    simulator: RunningSimulator,
    path: str,
    change: Callable[[dict[str, str]], dict[str, str]],
    code: int,
) -> None:
    build = email_request if path == EMAIL_LOGIN else phone_request
    body = await login(http, simulator, path, change(build(simulator.config)))
    assert body["code"] == code
    assert body["data"] is None


async def test_a_signature_over_the_plaintext_password_is_refused(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    config = simulator.config
    random_str = new_random()
    params = email_request(config, random_str=random_str)
    params["signature"] = email_login_signature(config.owner_email, config.owner_password, random_str,
                                                config.user_domain_secret)
    assert (await login(http, simulator, EMAIL_LOGIN, params))["code"] == 5420
    params = phone_request(config, random_str=random_str)
    params["signature"] = phone_login_signature("86", config.owner_phone, config.owner_password, random_str,
                                                config.user_domain_secret)
    assert (await login(http, simulator, PHONE_LOGIN, params, form=True))["code"] == 5420


async def test_a_password_that_does_not_decrypt_is_5353(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    config = simulator.config
    random_str = new_random()
    pwd = encrypt_password(config.owner_password, "another-random")
    signature = email_login_signature(config.owner_email, pwd, random_str, config.user_domain_secret)
    params = email_request(config, random_str=random_str, pwd=pwd, signature=signature)
    assert (await login(http, simulator, EMAIL_LOGIN, params))["code"] == 5353


@pytest.mark.parametrize(("path", "field", "value", "code"), [
    (EMAIL_LOGIN, "email", "nobody@example.com", 5031),
    (PHONE_LOGIN, "phone", "13999999999", 5004),
])
async def test_an_unregistered_account_is_refused(
    http: aiohttp.ClientSession, simulator: RunningSimulator, path: str, field: str, value: str, code: int
) -> None:
    config = simulator.config
    random_str = new_random()
    pwd = encrypt_password(config.owner_password, random_str)
    if path == EMAIL_LOGIN:
        signature = email_login_signature(value, pwd, random_str, config.user_domain_secret)
        params = email_request(config, random_str=random_str, email=value, signature=signature)
    else:
        signature = phone_login_signature("86", value, pwd, random_str, config.user_domain_secret)
        params = phone_request(config, random_str=random_str, phone=value, signature=signature)
    assert (await login(http, simulator, path, params))["code"] == code


# --- lockout ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "build", "countdown"),
    [(EMAIL_LOGIN, email_request, [5586, 5585, 5584, 5583]), (PHONE_LOGIN, phone_request, [5582, 5581, 5580, 5579])],
    ids=["email", "phone"],
)
async def test_wrong_passwords_count_down_then_freeze_the_account_for_twenty_minutes(
    http: aiohttp.ClientSession,
    simulator: RunningSimulator,
    path: str,
    build: Callable[..., dict[str, str]],
    countdown: list[int],
) -> None:
    config = simulator.config
    started = time.time()
    offset = [0.0]
    simulator.state.clock = lambda: started + offset[0]
    codes = [(await login(http, simulator, path, build(config, "Wrong-pw1")))["code"] for _ in range(5)]
    assert codes == [*countdown, 5147]
    assert (await login(http, simulator, path, build(config)))["code"] == 5147
    offset[0] = FREEZE_S - 1
    assert (await login(http, simulator, path, build(config), form=True))["code"] == 5147
    offset[0] = FREEZE_S
    body = await login(http, simulator, path, build(config))
    assert body["code"] == 200
    assert await share_with(http, simulator, body["data"]["accessToken"]["token"]) == 200
    assert (await login(http, simulator, path, build(config, "Wrong-pw1")))["code"] == countdown[0]


async def test_a_correct_login_resets_the_countdown(http: aiohttp.ClientSession, simulator: RunningSimulator) -> None:
    config = simulator.config
    for expected in (5586, 5585, 5584):
        assert (await login(http, simulator, EMAIL_LOGIN, email_request(config, "nope-123")))["code"] == expected
    assert (await login(http, simulator, EMAIL_LOGIN, email_request(config)))["code"] == 200
    assert (await login(http, simulator, EMAIL_LOGIN, email_request(config, "nope-123")))["code"] == 5586


async def test_sim_reset_lifts_a_freeze(http: aiohttp.ClientSession, simulator: RunningSimulator) -> None:
    config = simulator.config
    for _ in range(5):
        await login(http, simulator, EMAIL_LOGIN, email_request(config, "nope-123"))
    assert (await login(http, simulator, EMAIL_LOGIN, email_request(config)))["code"] == 5147
    async with http.post(simulator.base_url + "/_sim/reset") as resp:
        assert resp.status == 200
    assert (await login(http, simulator, EMAIL_LOGIN, email_request(config)))["code"] == 200


# --- what the simulator shows -------------------------------------------------------------------


async def test_logins_are_counted_and_the_password_is_masked_in_the_request_log(
    http: aiohttp.ClientSession, simulator: RunningSimulator
) -> None:
    config = simulator.config
    sent = [email_request(config), phone_request(config), email_request(config, "nope-123")]
    assert [(await login(http, simulator, p, params))["code"] for p, params in
            zip((EMAIL_LOGIN, PHONE_LOGIN, EMAIL_LOGIN), sent, strict=True)] == [200, 200, 5586]
    stats = await sim_json(http, simulator, "/_sim/stats")
    assert stats["logins"] == 2
    assert stats["by_endpoint"] == {"emailPwdLogin": 2, "phonePwdLogin": 1}
    assert stats["refreshes"] == 0
    logged = await sim_json(http, simulator, "/_sim/requests")
    assert [entry["code"] for entry in logged] == [200, 200, 5586]
    assert all(entry["params"]["pwd"] == "***" for entry in logged)
    assert [entry["params"]["random"] for entry in logged] == [params["random"] for params in sent]
    for params in sent:
        assert params["pwd"] not in str(logged)


async def test_sim_config_masks_the_demo_secrets(http: aiohttp.ClientSession, simulator: RunningSimulator) -> None:
    view = await sim_json(http, simulator, "/_sim/config")
    assert view["user_domain"] == "E.DM.SIM.1"
    assert view["owner_email"] == "owner@example.com"
    assert view["user_domain_secret"] == view["owner_password"] == "***"
    assert simulator.config.user_domain_secret not in str(view)
    assert simulator.config.owner_password not in str(view)


async def test_the_simulate_banner_prints_the_demo_login(
    simulator: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _announce(simulator)
    out = capsys.readouterr().out
    config = simulator.config
    for value in (config.owner_email, config.owner_phone, config.owner_password, config.user_domain,
                  config.user_domain_secret, config.owner_uid):
        assert value in out
    assert "internationalCode 86" in out
