"""RefreshingTokens on a fake clock: when it refreshes, that one refresh serves everyone, and the fallbacks.

The platform's auth endpoints are aioresponses callbacks that issue numbered pairs dated on the
same FakeClock, so hours of token life pass in no time and every request is counted.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult
from yarl import URL

from runner.errors import AuthExpiredError
from runner.platform.auth.api import Credentials, TokenPair
from runner.platform.auth.tokens import RefreshingTokens
from runner.redact import Secret

from .conftest import NOW, FakeClock
from .fake_http import FakeHttp, answer

BASE_URL = "https://iot-api.example.test"
REFRESH_URL = re.compile(r"^https://iot-api\.example\.test/v2/enduser/enduserapi/refreshToken(\?.*)?$")
LOGIN_URL = re.compile(r"^https://iot-api\.example\.test/v2/enduser/enduserapi/emailPwdLogin(\?.*)?$")
HOUR = 3600.0
ACCESS_TTL = 2 * HOUR
REFRESH_TTL = 30 * 24 * HOUR
CREDENTIALS = Credentials(user_domain="E.DM.SIM.1", password=Secret("Sharebatch1"),
                          domain_secret=Secret("domain-secret"), email="owner@example.com")


class FakeAuth:
    """The refresh and login endpoints: pair n is `Bearer a<n>` / `Bearer r<n>`, issued on the fake clock."""

    def __init__(self, fake: FakeHttp, clock: FakeClock, *, access_ttl: float = ACCESS_TTL) -> None:
        self.clock = clock
        self.access_ttl = access_ttl
        self.issued = 0
        self.refreshed_with: list[str] = []
        self.logins = 0
        self.refuse_refresh = False
        self.refuse_login = False
        fake.put(REFRESH_URL, callback=self._refresh, repeat=True)
        fake.post(LOGIN_URL, callback=self._login, repeat=True)

    def first_pair(self) -> TokenPair:
        return self._pair(0)

    def _pair(self, n: int) -> TokenPair:
        now = self.clock()
        return TokenPair(Secret(f"Bearer a{n}"), now + self.access_ttl, Secret(f"Bearer r{n}"), now + REFRESH_TTL, now)

    def _issue(self) -> CallbackResult:
        self.issued += 1
        now = self.clock()
        return answer({"code": 200, "data": {
            "accessToken": {"token": f"Bearer a{self.issued}", "expirationTime": now + self.access_ttl},
            "refreshToken": {"token": f"Bearer r{self.issued}", "expirationTime": now + REFRESH_TTL},
        }})

    def _refresh(self, url: URL, **kwargs: Any) -> CallbackResult:
        self.refreshed_with.append(kwargs["params"]["refreshToken"])
        if self.refuse_refresh:
            return answer({"code": 5032, "msg": "token verification failed"})
        return self._issue()

    def _login(self, url: URL, **kwargs: Any) -> CallbackResult:
        self.logins += 1
        if self.refuse_login:
            return answer({"code": 5028, "msg": "wrong password"})
        return self._issue()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def tokens_for(auth: FakeAuth, session: aiohttp.ClientSession, *, credentials: Credentials | None = None,
               saved: list[TokenPair] | None = None) -> RefreshingTokens:
    return RefreshingTokens(auth.first_pair(), session=session, base_url=BASE_URL, credentials=credentials,
                            on_renewed=None if saved is None else saved.append, clock=auth.clock)


async def test_the_token_is_kept_until_ten_minutes_are_left_then_refreshed_and_handed_on(
    fake: FakeHttp, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    auth = FakeAuth(fake, clock)
    saved: list[TokenPair] = []
    tokens = tokens_for(auth, session, saved=saved)
    clock.now = NOW + ACCESS_TTL - 601
    assert (await tokens.header()).reveal() == "Bearer a0"
    assert auth.refreshed_with == []
    clock.now = NOW + ACCESS_TTL - 599
    assert (await tokens.header()).reveal() == "Bearer a1"
    assert auth.refreshed_with == ["Bearer r0"]
    assert [pair.refresh_token.reveal() for pair in saved] == ["Bearer r1"]
    assert saved[0].access_expires_at == clock.now + ACCESS_TTL


async def test_a_long_batch_refreshes_once_per_token_life_each_time_with_the_newest_refresh_token(
    fake: FakeHttp, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    auth = FakeAuth(fake, clock)
    saved: list[TokenPair] = []
    tokens = tokens_for(auth, session, saved=saved)
    headers = set()
    for _ in range(10 * 360):  # ten hours, a request every 10 s
        headers.add((await tokens.header()).reveal())
        clock.now += 10
    # a refresh every ACCESS_TTL - 600 s = 6600 s: at 1.83 h, 3.67 h, 5.5 h, 7.33 h and 9.17 h
    assert auth.refreshed_with == ["Bearer r0", "Bearer r1", "Bearer r2", "Bearer r3", "Bearer r4"]
    assert headers == {f"Bearer a{n}" for n in range(6)}
    assert saved[-1].refresh_token.reveal() == "Bearer r5"


async def test_short_lived_tokens_are_refreshed_with_a_quarter_of_their_life_left(
    fake: FakeHttp, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    auth = FakeAuth(fake, clock, access_ttl=60.0)
    tokens = tokens_for(auth, session)
    clock.now = NOW + 44
    assert (await tokens.header()).reveal() == "Bearer a0"
    clock.now = NOW + 46
    assert (await tokens.header()).reveal() == "Bearer a1"
    assert len(auth.refreshed_with) == 1


async def test_requests_arriving_together_at_expiry_share_one_refresh(
    fake: FakeHttp, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    auth = FakeAuth(fake, clock)
    tokens = tokens_for(auth, session)
    clock.now = NOW + ACCESS_TTL - 60
    headers = await asyncio.gather(*(tokens.header() for _ in range(20)))
    assert {header.reveal() for header in headers} == {"Bearer a1"}
    assert auth.refreshed_with == ["Bearer r0"]


async def test_rejections_of_one_token_renew_it_once_and_a_rejection_of_an_older_one_not_at_all(
    fake: FakeHttp, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    auth = FakeAuth(fake, clock)
    tokens = tokens_for(auth, session)
    rejected = await tokens.header()
    await asyncio.gather(*(tokens.after_rejection(rejected) for _ in range(5)))
    assert auth.refreshed_with == ["Bearer r0"]
    await tokens.after_rejection(rejected)  # a late answer to a request sent with a0
    assert auth.refreshed_with == ["Bearer r0"]
    assert (await tokens.header()).reveal() == "Bearer a1"


async def test_an_expired_refresh_token_means_one_login_with_the_credentials(
    fake: FakeHttp, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    auth = FakeAuth(fake, clock)
    tokens = tokens_for(auth, session, credentials=CREDENTIALS)
    clock.now = NOW + REFRESH_TTL + 1
    assert (await tokens.header()).reveal() == "Bearer a1"
    assert (auth.refreshed_with, auth.logins) == ([], 1)


async def test_a_refused_refresh_falls_back_to_one_login(
    fake: FakeHttp, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    auth = FakeAuth(fake, clock)
    auth.refuse_refresh = True
    tokens = tokens_for(auth, session, credentials=CREDENTIALS)
    await tokens.after_rejection(await tokens.header())
    assert (len(auth.refreshed_with), auth.logins) == (1, 1)
    assert (await tokens.header()).reveal() == "Bearer a1"


async def test_without_credentials_a_dead_refresh_token_says_how_to_renew(
    fake: FakeHttp, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    auth = FakeAuth(fake, clock)
    tokens = tokens_for(auth, session)
    clock.now = NOW + REFRESH_TTL + 1
    with pytest.raises(AuthExpiredError, match=r"^the refresh token has expired; run `sharebatch login"):
        await tokens.header()
    assert (auth.refreshed_with, auth.logins) == ([], 0)


async def test_a_refused_login_after_a_refused_refresh_names_both_and_no_secret(
    fake: FakeHttp, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    auth = FakeAuth(fake, clock)
    auth.refuse_refresh = auth.refuse_login = True
    tokens = tokens_for(auth, session, credentials=CREDENTIALS)
    with pytest.raises(AuthExpiredError) as caught:
        await tokens.after_rejection(await tokens.header())
    message = str(caught.value)
    assert "refresh token was refused (code 5032)" in message
    assert "logging in again failed: wrong password" in message
    assert "Sharebatch1" not in message
    assert "r0" not in message
    assert auth.logins == 1
