"""The platform's login and refresh calls against aioresponses: one request, one clear error, no retry."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from runner.errors import AuthEndpointError, LoginError, RefreshError
from runner.platform.auth.api import Credentials, password_login, refresh_tokens
from runner.redact import Secret

from .fake_http import FakeHttp, sent
from .test_errors import LOGIN, SECTION_5_1

BASE_URL = "https://iot-api.example.test"
LOGIN_URL = re.compile(r"^https://iot-api\.example\.test/v2/enduser/enduserapi/emailPwdLogin(\?.*)?$")
REFRESH_URL = re.compile(r"^https://iot-api\.example\.test/v2/enduser/enduserapi/refreshToken(\?.*)?$")
PASSWORD = "Sharebatch1"
CREDENTIALS = Credentials(user_domain="E.DM.SIM.1", password=Secret(PASSWORD), domain_secret=Secret("domain-secret"),
                          email="owner@example.com")
PAIR = {"accessToken": {"token": "Bearer a1", "expirationTime": 2_000_000_000},
        "refreshToken": {"token": "Bearer r1", "expirationTime": 2_100_000_000}}


@pytest.fixture
def fake() -> Iterator[FakeHttp]:
    with FakeHttp() as mocked:
        yield mocked


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


LOGIN_CODES = sorted({code for code, contexts, _class, _meaning in SECTION_5_1 if LOGIN in contexts} | {5147, 5148})


@pytest.mark.parametrize("code", LOGIN_CODES)
async def test_every_refused_login_is_one_login_error_with_its_code_and_no_retry(
    session: aiohttp.ClientSession, fake: FakeHttp, code: int
) -> None:
    fake.post(LOGIN_URL, payload={"code": code, "msg": "refused"}, repeat=True)
    with pytest.raises(LoginError) as caught:
        await password_login(session, BASE_URL, CREDENTIALS)
    assert caught.value.code == code
    assert "\n" not in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert len(sent(fake)) == 1


async def test_a_login_returns_the_token_pair(session: aiohttp.ClientSession, fake: FakeHttp) -> None:
    fake.post(LOGIN_URL, payload={"code": 200, "data": PAIR})
    pair = await password_login(session, BASE_URL, CREDENTIALS)
    assert (pair.access_token.reveal(), pair.refresh_token.reveal()) == ("Bearer a1", "Bearer r1")
    assert (pair.access_expires_at, pair.refresh_expires_at) == (2_000_000_000, 2_100_000_000)
    ((method, url, _kwargs),) = sent(fake)
    assert method == "POST"
    assert PASSWORD not in str(url)  # only the encrypted password travels


async def test_a_refused_refresh_is_a_refresh_error(session: aiohttp.ClientSession, fake: FakeHttp) -> None:
    fake.put(REFRESH_URL, payload={"code": 5032, "msg": "token verification failed"})
    with pytest.raises(RefreshError, match="code 5032"):
        await refresh_tokens(session, BASE_URL, Secret("Bearer r1"))


async def test_an_answer_without_the_envelope_asks_about_the_base_url(
    session: aiohttp.ClientSession, fake: FakeHttp
) -> None:
    fake.put(REFRESH_URL, status=404, body="<html>not found</html>", content_type="text/html")
    with pytest.raises(AuthEndpointError, match="is the base URL right"):
        await refresh_tokens(session, BASE_URL, Secret("Bearer r1"))


async def test_a_connection_failure_does_not_show_the_query(session: aiohttp.ClientSession, fake: FakeHttp) -> None:
    fake.put(REFRESH_URL, exception=aiohttp.ServerDisconnectedError())
    with pytest.raises(AuthEndpointError) as caught:
        await refresh_tokens(session, BASE_URL, Secret("Bearer r1-secret"))
    assert "r1-secret" not in str(caught.value)
    assert "ServerDisconnectedError" in str(caught.value)
