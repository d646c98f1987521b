"""The platform's login and refresh calls against aioresponses: one request, one clear error, no retry."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

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
    assert str(caught.value) == "cannot reach the platform's auth endpoint: connection lost before the answer: " \
        "Server disconnected"
    assert caught.value.__cause__ is None  # the aiohttp error underneath is not kept


async def test_an_error_that_carries_the_request_url_does_not_show_the_refresh_token(
    session: aiohttp.ClientSession, fake: FakeHttp
) -> None:
    url = URL(f"{BASE_URL}/v2/enduser/enduserapi/refreshToken?refreshToken=Bearer%20r1-secret")
    info = aiohttp.RequestInfo(url, "PUT", CIMultiDictProxy(CIMultiDict()), url)
    assert "r1-secret" in str(aiohttp.TooManyRedirects(info, ()))  # what a careless message would show
    fake.put(REFRESH_URL, exception=aiohttp.TooManyRedirects(info, ()))
    with pytest.raises(AuthEndpointError) as caught:
        await refresh_tokens(session, BASE_URL, Secret("Bearer r1-secret"))
    assert "r1-secret" not in str(caught.value)
    assert "TooManyRedirects" in str(caught.value)


async def test_a_refused_connection_reads_as_it_does_for_the_share_calls(
    session: aiohttp.ClientSession, fake: FakeHttp
) -> None:
    key = ConnectionKey("iot-api.example.test", 443, True, True, None, None, None)
    fake.post(LOGIN_URL, exception=aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused")))
    refused = r"^cannot reach the platform's auth endpoint: cannot connect to iot-api.example.test: the connection was"
    with pytest.raises(AuthEndpointError, match=refused):
        await password_login(session, BASE_URL, CREDENTIALS)
