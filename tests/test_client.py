"""PlatformClient against aioresponses: the request it sends and how it classifies every answer."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from runner.errors import AuthExpiredError, FatalApiError, RowRejectedError, TransientApiError
from runner.models import DeviceShare, RecipientKind, RunStats, ShareRequest
from runner.platform.auth.tokens import StaticToken, TokenSource
from runner.platform.client import (
    SET_SHARE_TIME_PATH,
    SHARE_LIST_PATH,
    SHARE_PATH,
    PlatformClient,
    _device_share,
)
from runner.platform.pacing import THROTTLE_FACTOR, DispatchGate
from runner.platform.replies import retry_after_s
from runner.redact import Secret

from .fake_http import FakeHttp, sent

BASE_URL = "https://iot-api.example.test"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJDMTMxMzYyIn0.c2lnbmF0dXJlX3BhcnQ"
SHARE_URL = re.compile(r"^https://iot-api\.example\.test/v2/binding/enduserapi/shareByUid(\?.*)?$")
LIST_URL = re.compile(r"^https://iot-api\.example\.test/v2/binding/enduserapi/deviceShareUserList(\?.*)?$")

EMAIL_SHARE = ShareRequest(pk="p1", dk="d1", recipient_kind=RecipientKind.EMAIL, recipient="ops@example.org",
                           expire_at_ms=None)


@pytest.fixture
def client(session: aiohttp.ClientSession) -> PlatformClient:
    return PlatformClient(session, BASE_URL + "/", StaticToken(JWT))


def connection_refused() -> aiohttp.ClientConnectorError:
    key = ConnectionKey("iot-api.example.test", 443, True, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


class RecordingGate(DispatchGate):
    """A real gate that also remembers the pauses it was asked for."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate, clock=lambda: 1000.0)
        self.pauses: list[float] = []

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        super().pause(seconds)


class RefreshingToken:
    """A token source that holds a newer token after the first rejection (or never, if `renewals=0`)."""

    def __init__(self, *, renewals: int = 1) -> None:
        self.current = "Bearer old.token.value"
        self.rejected: list[str] = []
        self._renewals = renewals

    async def header(self) -> Secret:
        return Secret(self.current)

    async def after_rejection(self, rejected: Secret) -> bool:
        self.rejected.append(rejected.reveal())
        if self._renewals == 0:
            return False
        self._renewals -= 1
        self.current = "Bearer new.token.value"
        return True


# --- the request ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "recipient", "param"),
    [
        (RecipientKind.UID, "C200001", "shareUid"),
        (RecipientKind.EMAIL, "ops@example.org", "email"),
        (RecipientKind.PHONE, "17132136550", "phone"),
    ],
)
async def test_share_sends_a_post_with_exactly_one_recipient_parameter_in_the_query(
    client: PlatformClient, kind: RecipientKind, recipient: str, param: str, fake: FakeHttp
) -> None:
    request = ShareRequest(pk="p1", dk="d1", recipient_kind=kind, recipient=recipient, expire_at_ms=None,
                           cover_mark=2)
    fake.post(SHARE_URL, payload={"code": 200, "msg": "ok", "data": "SC-1"})
    await client.share_by_uid(request)
    [(method, url, kwargs)] = sent(fake)
    assert method == "POST"
    assert url.path == SHARE_PATH
    assert dict(url.query) == {"pk": "p1", "dk": "d1", param: recipient, "coverMark": "2"}
    assert kwargs.get("data") is None
    assert kwargs.get("json") is None


async def test_share_sends_the_expiry_in_milliseconds_when_it_is_set(
    client: PlatformClient, fake: FakeHttp,
) -> None:
    request = ShareRequest(pk="p1", dk="d1", recipient_kind=RecipientKind.UID, recipient="C2",
                           expire_at_ms=1_798_675_200_000)
    fake.post(SHARE_URL, payload={"code": 200, "data": "SC-1"})
    await client.share_by_uid(request)
    [(_, url, _)] = sent(fake)
    assert url.query["sharingExpireAt"] == "1798675200000"
    assert url.query["coverMark"] == "1"


async def test_share_omits_the_expiry_of_a_permanent_share(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, payload={"code": 200, "data": "SC-1"})
    await client.share_by_uid(EMAIL_SHARE)
    [(_, url, _)] = sent(fake)
    assert "sharingExpireAt" not in url.query


@pytest.mark.parametrize("token", [JWT, f"Bearer {JWT}", f"bearer {JWT}"], ids=["bare", "prefixed", "lowercase"])
async def test_share_sends_a_single_bearer_prefix_whatever_form_the_token_was_given_in(
    session: aiohttp.ClientSession, token: str, fake: FakeHttp
) -> None:
    client = PlatformClient(session, BASE_URL, StaticToken(token))
    fake.post(SHARE_URL, payload={"code": 200, "data": "SC-1"})
    await client.share_by_uid(EMAIL_SHARE)
    [(_, _, kwargs)] = sent(fake)
    assert kwargs["headers"]["Authorization"] == f"Bearer {JWT}"


async def test_share_returns_the_share_code_from_data(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, status=200, payload={"code": 200, "msg": "", "data": "SC-42", "extMsg": None})
    reply = await client.share_by_uid(EMAIL_SHARE)
    assert reply.data == "SC-42"
    assert reply.http_status == 200
    assert reply.latency_ms >= 0


# --- transport-level answers ------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "applied"), [(429, False), (408, False), (500, True), (502, True), (503, True),
                                                 (504, True)])
async def test_share_http_status_is_transient_and_only_a_5xx_may_have_applied(
    client: PlatformClient, status: int, applied: bool, fake: FakeHttp
) -> None:
    fake.post(SHARE_URL, status=status, body="busy")
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.http_status == status
    assert caught.value.may_have_applied is applied


@pytest.mark.parametrize("status", [501, 505, 520, 524])
async def test_share_any_other_5xx_is_transient_too(client: PlatformClient, status: int, fake: FakeHttp) -> None:
    """docs/platform-api.md §5.3: treat 5xx as TRANSIENT (a proxy's 520-524 included)."""
    fake.post(SHARE_URL, status=status, body="gateway trouble")
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.may_have_applied is True


async def test_share_list_5xx_never_counts_as_applied(client: PlatformClient, fake: FakeHttp) -> None:
    fake.get(LIST_URL, status=502)
    with pytest.raises(TransientApiError) as caught:
        await client.list_device_shares("p1", "d1")
    assert caught.value.may_have_applied is False


async def test_429_with_retry_after_pauses_the_gate_and_lowers_its_rate(
    session: aiohttp.ClientSession, fake: FakeHttp,
) -> None:
    gate = RecordingGate(5.0)
    client = PlatformClient(session, BASE_URL, StaticToken(JWT), gate=gate)
    fake.post(SHARE_URL, status=429, headers={"Retry-After": "2"})
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.retry_after_s == 2.0
    assert gate.pauses == [2.0]
    assert gate.current_rate == pytest.approx(5.0 * THROTTLE_FACTOR)


async def test_503_with_retry_after_pauses_the_gate_without_lowering_its_rate(
    session: aiohttp.ClientSession, fake: FakeHttp,
) -> None:
    gate = RecordingGate(5.0)
    client = PlatformClient(session, BASE_URL, StaticToken(JWT), gate=gate)
    fake.post(SHARE_URL, status=503, headers={"Retry-After": "7"})
    with pytest.raises(TransientApiError):
        await client.share_by_uid(EMAIL_SHARE)
    assert gate.pauses == [7.0]
    assert gate.current_rate == 5.0


async def test_retry_after_as_an_http_date_pauses_until_that_date(
    session: aiohttp.ClientSession, fake: FakeHttp,
) -> None:
    gate = RecordingGate(5.0)
    client = PlatformClient(session, BASE_URL, StaticToken(JWT), gate=gate)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=40), usegmt=True)
    fake.post(SHARE_URL, status=429, headers={"Retry-After": when})
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.retry_after_s == pytest.approx(40, abs=2)
    assert gate.pauses == [caught.value.retry_after_s]


@pytest.mark.parametrize("header", ["99999", "Fri, 01 Jan 2100 00:00:00 GMT"], ids=["seconds", "http-date"])
async def test_a_long_retry_after_is_capped(session: aiohttp.ClientSession, fake: FakeHttp, header: str) -> None:
    gate = RecordingGate(5.0)
    client = PlatformClient(session, BASE_URL, StaticToken(JWT), gate=gate, max_retry_after_s=45.0)
    fake.post(SHARE_URL, status=429, headers={"Retry-After": header})
    with pytest.raises(TransientApiError):
        await client.share_by_uid(EMAIL_SHARE)
    assert gate.pauses == [45.0]


@pytest.mark.parametrize(("header", "seconds"), [
    ("3", 3.0), (" 2.5 ", 2.5), ("-4", 0.0), ("nan", None), ("soon", None), (None, None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
])
def test_retry_after_parsing(header: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC).timestamp()
    assert retry_after_s(header, cap_s=60.0, now=now) == seconds


@pytest.mark.parametrize(("call", "applied"), [("share", True), ("list", False)])
async def test_an_oversized_answer_is_not_read_and_is_transient(
    session: aiohttp.ClientSession, fake: FakeHttp, call: str, applied: bool,
) -> None:
    client = PlatformClient(session, BASE_URL, StaticToken(JWT), max_body_bytes=1000)
    big = json.dumps({"code": 200, "msg": "x" * 5000, "data": []})
    fake.post(SHARE_URL, status=200, body=big)
    fake.get(LIST_URL, status=200, body=big)
    request = client.share_by_uid(EMAIL_SHARE) if call == "share" else client.list_device_shares("p1", "d1")
    with pytest.raises(TransientApiError) as caught:
        await request
    assert "larger than 1000 bytes" in str(caught.value)
    assert caught.value.may_have_applied is applied


async def test_connection_refused_is_transient_and_was_not_applied(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, exception=connection_refused())
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.may_have_applied is False
    assert "cannot connect" in str(caught.value)
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


async def test_an_error_carrying_the_request_url_does_not_put_the_recipient_in_the_message(
    client: PlatformClient, fake: FakeHttp
) -> None:
    url = URL("https://iot-api.example.test/v2/binding/enduserapi/shareByUid?email=ops@example.org")
    info = aiohttp.RequestInfo(url, "POST", CIMultiDictProxy(CIMultiDict()), url)
    fake.post(SHARE_URL, exception=aiohttp.TooManyRedirects(info, ()))
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert str(caught.value) == "connection lost before the answer: TooManyRedirects"
    assert caught.value.may_have_applied is True


async def test_timeout_is_transient_and_may_have_applied(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, exception=TimeoutError())
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.may_have_applied is True
    assert "timeout" in str(caught.value)


async def test_server_disconnect_is_transient_and_may_have_applied(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, exception=aiohttp.ServerDisconnectedError())
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.may_have_applied is True
    assert "connection lost" in str(caught.value)


# --- the token --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload"),
    [(401, None), (200, {"code": 5032, "msg": "token verification failed"})],
    ids=["http-401", "code-5032"],
)
async def test_rejected_static_token_raises_auth_expired_after_one_request(
    client: PlatformClient, status: int, payload: dict[str, Any] | None, fake: FakeHttp
) -> None:
    fake.post(SHARE_URL, status=status, payload=payload, repeat=True)
    with pytest.raises(AuthExpiredError):
        await client.share_by_uid(EMAIL_SHARE)
    assert len(sent(fake)) == 1


async def test_rejected_token_is_replayed_once_with_the_refreshed_header(
    session: aiohttp.ClientSession, fake: FakeHttp,
) -> None:
    tokens = RefreshingToken()
    client = PlatformClient(session, BASE_URL, tokens)
    fake.post(SHARE_URL, payload={"code": 5032, "msg": "token verification failed"})
    fake.post(SHARE_URL, payload={"code": 200, "data": "SC-7"})
    reply = await client.share_by_uid(EMAIL_SHARE)
    assert reply.data == "SC-7"
    assert [kwargs["headers"]["Authorization"] for _, _, kwargs in sent(fake)] == [
        "Bearer old.token.value", "Bearer new.token.value"]
    assert tokens.rejected == ["Bearer old.token.value"]


async def test_token_rejected_again_after_the_replay_raises_without_a_third_request(
    session: aiohttp.ClientSession, fake: FakeHttp,
) -> None:
    tokens: TokenSource = RefreshingToken(renewals=5)
    client = PlatformClient(session, BASE_URL, tokens)
    fake.post(SHARE_URL, status=401, repeat=True)
    with pytest.raises(AuthExpiredError):
        await client.share_by_uid(EMAIL_SHARE)
    assert len(sent(fake)) == 2


# --- answers that mean the run is misconfigured -----------------------------------------------------


async def test_http_404_is_fatal_and_names_the_base_url(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, status=404, body="not found")
    with pytest.raises(FatalApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert BASE_URL in str(caught.value)
    assert caught.value.http_status == 404


@pytest.mark.parametrize(
    "body",
    ["<html>welcome to nginx</html>", '{"status": "ok"}', "[1, 2]", '{"code": "200"}'],
    ids=["html", "json-without-code", "json-array", "code-not-a-number"],
)
async def test_2xx_without_the_platform_envelope_to_a_share_is_in_doubt(
    client: PlatformClient, body: str, fake: FakeHttp,
) -> None:
    """A proxy's page or a cut-off body may follow an applied share: retried only after a look-up."""
    fake.post(SHARE_URL, status=200, body=body)
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert "envelope" in str(caught.value)
    assert caught.value.may_have_applied is True


@pytest.mark.parametrize("body", ["<html>welcome to nginx</html>", '{"code": 2'], ids=["html", "truncated"])
async def test_2xx_without_the_platform_envelope_to_a_look_up_is_fatal(
    client: PlatformClient, body: str, fake: FakeHttp,
) -> None:
    fake.get(LIST_URL, status=200, body=body)
    with pytest.raises(FatalApiError) as caught:
        await client.list_device_shares("p1", "d1")
    assert "envelope" in str(caught.value)


async def test_an_undocumented_code_to_a_share_is_a_rejection_in_doubt(
    client: PlatformClient, fake: FakeHttp
) -> None:
    fake.post(SHARE_URL, payload={"code": 5999, "msg": "?"})
    with pytest.raises(RowRejectedError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert (caught.value.code, caught.value.may_have_applied) == (5999, True)


async def test_a_documented_rejection_is_not_in_doubt(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, payload={"code": 5360, "msg": "binding"})
    with pytest.raises(RowRejectedError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.may_have_applied is False


async def test_other_4xx_is_fatal(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, status=403, body="forbidden")
    with pytest.raises(FatalApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.http_status == 403


# --- business codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [5360, 5864, 5134, 5891, 4242])
async def test_business_code_is_a_row_rejection_with_the_code(
    client: PlatformClient, code: int, fake: FakeHttp,
) -> None:
    fake.post(SHARE_URL, payload={"code": code, "msg": "refused"})
    with pytest.raises(RowRejectedError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.code == code
    assert str(code) in str(caught.value)


async def test_code_5325_is_fatal(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, payload={"code": 5325, "msg": "blocked"})
    with pytest.raises(FatalApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.code == 5325


async def test_code_5000_is_transient(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, payload={"code": 5000, "msg": "service exception"})
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.code == 5000
    assert caught.value.attempt_limit is None


async def test_code_5138_is_transient_with_an_attempt_limit_of_two(client: PlatformClient, fake: FakeHttp) -> None:
    fake.post(SHARE_URL, payload={"code": 5138, "msg": "device sharing failed"})
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.attempt_limit == 2


async def test_code_in_retry_codes_is_transient_and_may_have_applied(
    session: aiohttp.ClientSession, fake: FakeHttp,
) -> None:
    client = PlatformClient(session, BASE_URL, StaticToken(JWT), retry_codes=frozenset({5134}))
    fake.post(SHARE_URL, payload={"code": 5134, "msg": "adding the share record failed"})
    with pytest.raises(TransientApiError) as caught:
        await client.share_by_uid(EMAIL_SHARE)
    assert caught.value.code == 5134
    assert caught.value.may_have_applied is True


# --- the share list ---------------------------------------------------------------------------------


def share_entry(code: str, *, status: int, expire_ms: int | None, created_ms: int, uid: str = "C2",
                email: str = "", phone: str = "") -> dict[str, Any]:
    share: dict[str, Any] = {"shareCode": code, "shareUid": uid, "shareStatus": status, "shareTimeTs": created_ms,
                             "shareTime": "2026-11-25 20:00:00"}
    if expire_ms is not None:
        share["sharingExpireAtTs"] = expire_ms
    return {"shareInfo": share, "userInfo": {"uid": uid, "email": email, "phone": phone}}


async def test_list_device_shares_asks_for_the_device_and_parses_each_share(
    client: PlatformClient, fake: FakeHttp,
) -> None:
    now_ms = int(time.time() * 1000)
    future, past = now_ms + 86_400_000, now_ms - 86_400_000
    entries = [
        share_entry("SC-A", status=1, expire_ms=None, created_ms=1000, email="a@example.org"),
        share_entry("SC-B", status=1, expire_ms=future, created_ms=2000, phone="17132136550"),
        share_entry("SC-C", status=1, expire_ms=past, created_ms=3000),
        share_entry("SC-D", status=0, expire_ms=None, created_ms=4000),
    ]
    fake.get(LIST_URL, payload={"code": 200, "data": entries})
    shares = await client.list_device_shares("p1", "d1")
    [(method, url, _)] = sent(fake)
    assert (method, url.path, dict(url.query)) == ("GET", SHARE_LIST_PATH, {"pk": "p1", "dk": "d1"})
    assert shares == [
        DeviceShare("SC-A", "C2", "a@example.org", "", valid=True, created_ms=1000, expire_at_ms=None),
        DeviceShare("SC-B", "C2", "", "17132136550", valid=True, created_ms=2000, expire_at_ms=future),
        DeviceShare("SC-C", "C2", "", "", valid=False, created_ms=3000, expire_at_ms=past, expired=True),
        DeviceShare("SC-D", "C2", "", "", valid=False, created_ms=4000, expire_at_ms=None),
    ]


async def test_list_device_shares_of_a_device_without_shares_is_empty(
    client: PlatformClient, fake: FakeHttp,
) -> None:
    fake.get(LIST_URL, payload={"code": 200, "msg": "", "data": None})
    assert await client.list_device_shares("p1", "d1") == []


def test_a_share_is_accepted_pending_or_ended_from_its_times_not_its_status_alone() -> None:
    now_ms = int(time.time() * 1000)
    accepted = share_entry("SC-A", status=1, expire_ms=None, created_ms=1000)
    accepted["shareInfo"]["acceptTimeTs"] = 5000
    pending_odd_status = share_entry("SC-P", status=3, expire_ms=now_ms + 60_000, created_ms=1000)
    replaced = share_entry("SC-R", status=0, expire_ms=None, created_ms=1000)
    replaced["shareInfo"]["deleteTimeTs"] = 6000
    expired = share_entry("SC-E", status=1, expire_ms=now_ms - 60_000, created_ms=1000)
    shares = [_device_share(entry, now_ms) for entry in (accepted, pending_odd_status, replaced, expired)]
    assert [(s.share_code, s.state, s.accepted_ms, s.open) for s in shares] == [
        ("SC-A", "accepted", 5000, True), ("SC-P", "pending", None, True), ("SC-R", "ended", None, False),
        ("SC-E", "ended", None, False),
    ]


# --- setShareTime -----------------------------------------------------------------------------------

SET_TIME_URL = re.compile(r"^https://iot-api\.example\.test/v2/binding/enduserapi/setShareTime(\?.*)?$")


async def test_set_share_time_puts_the_code_and_the_expiry_in_the_query(
    client: PlatformClient, fake: FakeHttp,
) -> None:
    fake.put(SET_TIME_URL, payload={"code": 200, "msg": "", "data": {}})
    reply = await client.set_share_time("SC-1", 1_900_000_000_000)
    [(method, url, kwargs)] = sent(fake)
    assert (method, url.path) == ("PUT", SET_SHARE_TIME_PATH)
    assert dict(url.query) == {"shareCode": "SC-1", "sharingExpireAt": "1900000000000"}
    assert not kwargs.get("data")
    assert not kwargs.get("json")
    assert reply.data == {}


async def test_set_share_time_of_an_ended_share_is_a_row_error_with_its_code(
    client: PlatformClient, fake: FakeHttp,
) -> None:
    fake.put(SET_TIME_URL, payload={"code": 5142, "msg": "share no longer valid", "data": None})
    with pytest.raises(RowRejectedError) as caught:
        await client.set_share_time("SC-1", 1_900_000_000_000)
    assert caught.value.code == 5142
    assert caught.value.may_have_applied is False


async def test_set_share_time_without_an_answer_may_have_applied(
    client: PlatformClient, fake: FakeHttp,
) -> None:
    fake.put(SET_TIME_URL, exception=aiohttp.ServerDisconnectedError())
    with pytest.raises(TransientApiError) as caught:
        await client.set_share_time("SC-1", 1_900_000_000_000)
    assert caught.value.may_have_applied is True


# --- counting ---------------------------------------------------------------------------------------


async def test_stats_count_every_request_including_replays_failures_and_look_ups(
    session: aiohttp.ClientSession, fake: FakeHttp,
) -> None:
    stats = RunStats()
    client = PlatformClient(session, BASE_URL, RefreshingToken(), stats=stats)
    fake.post(SHARE_URL, status=401)
    fake.post(SHARE_URL, payload={"code": 200, "data": "SC-1"})
    fake.post(SHARE_URL, status=503)
    fake.get(LIST_URL, payload={"code": 200, "data": []})
    await client.share_by_uid(EMAIL_SHARE)
    with pytest.raises(TransientApiError):
        await client.share_by_uid(EMAIL_SHARE)
    await client.list_device_shares("p1", "d1")
    assert stats.requests == 4 == len(sent(fake))
    assert len(stats.send_times) == 4
    assert list(stats.send_times) == sorted(stats.send_times)
