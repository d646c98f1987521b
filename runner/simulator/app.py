"""The aiohttp application: platform routes, rate limit, latency and injected faults.

Every platform request goes through `_serve`, in this order: read parameters (query string,
then a form body as fallback; JSON bodies are ignored), log the arrival, rate limit (429 before
any latency, as a gateway would), wait latency ± jitter, draw a fault (shareByUid only), check
the token, run the pure operation in `SimulatorState`, then answer, drop or hold the answer.

How a fault reaches the client (checked against aiohttp 3.14 with a real client):

- server_error: HTTP 500 with envelope code 5000, or 502/503 with a non-JSON gateway page;
  nothing applied.
- reset_before_apply: SO_LINGER 0 then `transport.abort()`, so the kernel sends a TCP RST;
  the aiohttp client raises `ClientOSError` ([Errno 104] Connection reset by peer); nothing applied.
- drop_after_apply: the share is applied, then `transport.close()` (FIN, no bytes); the client
  raises `ServerDisconnectedError`.
- slow_after_apply: the share is applied and the answer is held `slow_fault_s` (or until the
  simulator closes); a client with a shorter timeout raises a timeout error. A large
  `slow_fault_s` is "applied, then never answered".
- html_after_apply: the share is applied, then HTTP 200 with an HTML page, as a captive portal
  or a misbehaving proxy would answer.
- truncated_after_apply: the share is applied, then HTTP 200 with the first half of the JSON.
- empty_data_after_apply: the share is applied and answered `code 200` with `data` null, so the
  client does not learn the share code.
- odd_code_after_apply: the share is applied, then answered with code 5999, which no page lists.
- list_fault_rate (not a fault kind): a deviceShareUserList answered HTTP 503, nothing read.
- late_apply: held a drawn time past the client's timeout, then applied (`timefaults.py`).

Only the first four are drawn by default (`DEFAULT_FAULT_KINDS`); the others are opt-in.
`fault_budget` caps how many faults fire, so a test can fail exactly the next request.
`list_failures` makes the next N share-list look-ups (deviceShareUserList) answer a server_error.

The handler returns a response after closing the transport; aiohttp fails to write it,
treats that as a client disconnection and logs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from runner.simulator.accounts import BLOCKED_CODE, AccountWindows, account_check
from runner.simulator.codes import SUCCESS, PlatformCodeError, message_for
from runner.simulator.config import FaultKind, SimulatorConfig
from runner.simulator.introspect import add_introspection_routes
from runner.simulator.login import LoginChannel
from runner.simulator.render import share_user_row
from runner.simulator.state import SimulatorState
from runner.simulator.timefaults import add_date_header, serve_late
from runner.simulator.traffic import RequestRecord, Traffic, draw_fault, draw_latency_s

SHARE_PATH = "/v2/binding/enduserapi/shareByUid"
LIST_PATH = "/v2/binding/enduserapi/deviceShareUserList"
REVOKE_PATH = "/v2/binding/enduserapi/ownerUserUnshareDevice"
SET_SHARE_TIME_PATH = "/v2/binding/enduserapi/setShareTime"
REFRESH_PATH = "/v2/enduser/enduserapi/refreshToken"
EMAIL_LOGIN_PATH = "/v2/enduser/enduserapi/emailPwdLogin"
PHONE_LOGIN_PATH = "/v2/enduser/enduserapi/phonePwdLogin"

#: what the request log shows instead of a masked parameter's value
MASKED = "***"

#: the body of a 429 (HTTP status 429, header Retry-After: whole seconds, at least 1)
RATE_LIMITED_CODE = 429

_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class Simulator:
    """What all requests of one running simulator share: config, state, log, random stream."""

    def __init__(self, config: SimulatorConfig, state: SimulatorState, traffic: Traffic) -> None:
        self.config = config
        self.state = state
        self.traffic = traffic
        # Latency, fault draws and 5xx statuses; seeded so a rehearsal can be replayed.
        self.rng = random.Random(config.seed)  # nosec B311  # fault draws of a test double, not a secret
        self.closing = asyncio.Event()
        self.late_tasks: set[asyncio.Future[Any]] = set()  # late_apply requests still to land
        self.account_windows = AccountWindows()

    async def hold(self, seconds: float) -> None:
        """Wait `seconds`, or less if the simulator is shutting down (so close() never hangs)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)


# An operation gets (simulator, caller uid or None, params) and returns (data, applied share code).
Operation = Callable[[Simulator, str | None, dict[str, str]], tuple[Any, str | None]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    operation: Operation
    needs_auth: bool = True
    faults: bool = False
    list_faults: bool = False  #: answers 5xx while config.list_failures counts down
    masked_params: frozenset[str] = frozenset()  # logged as MASKED: `pwd` + `random` give the password


def envelope(code: int, data: Any = None) -> dict[str, Any]:
    """The platform's response body (docs/platform-api.md §1.2)."""
    return {"code": code, "msg": message_for(code), "data": data, "extMsg": None}


def _share(sim: Simulator, uid: str | None, params: dict[str, str]) -> tuple[Any, str | None]:
    share = sim.state.share_by_uid(uid or "", params)
    return share.share_code, share.share_code


def _list(sim: Simulator, uid: str | None, params: dict[str, str]) -> tuple[Any, str | None]:
    now_ms = sim.state.now_ms()
    status = sim.config.listed_status
    return [share_user_row(s, now_ms, status) for s in sim.state.device_shares(uid or "", params)], None


def _revoke(sim: Simulator, uid: str | None, params: dict[str, str]) -> tuple[Any, str | None]:
    sim.state.revoke(uid or "", params)
    return {}, None


def _set_share_time(sim: Simulator, uid: str | None, params: dict[str, str]) -> tuple[Any, str | None]:
    sim.state.set_share_time(uid or "", params)
    return {}, None


def _refresh(sim: Simulator, uid: str | None, params: dict[str, str]) -> tuple[Any, str | None]:
    return sim.state.tokens.refresh(params.get("refreshToken")).as_platform_data(), None


def _email_login(sim: Simulator, uid: str | None, params: dict[str, str]) -> tuple[Any, str | None]:
    return sim.state.password_login(LoginChannel.EMAIL, params).as_platform_data(), None


def _phone_login(sim: Simulator, uid: str | None, params: dict[str, str]) -> tuple[Any, str | None]:
    return sim.state.password_login(LoginChannel.PHONE, params).as_platform_data(), None


_PASSWORD = frozenset({"pwd"})

ENDPOINTS = (
    Endpoint("POST", SHARE_PATH, _share, faults=True),
    Endpoint("GET", LIST_PATH, _list, list_faults=True),
    Endpoint("DELETE", REVOKE_PATH, _revoke),
    Endpoint("PUT", SET_SHARE_TIME_PATH, _set_share_time),
    Endpoint("PUT", REFRESH_PATH, _refresh, needs_auth=False),
    Endpoint("POST", EMAIL_LOGIN_PATH, _email_login, needs_auth=False, masked_params=_PASSWORD),
    Endpoint("POST", PHONE_LOGIN_PATH, _phone_login, needs_auth=False, masked_params=_PASSWORD),
)


async def _read_params(request: web.Request) -> dict[str, str]:
    """Query string first; a form body fills in what the query lacks. The first value of a name wins."""
    params: dict[str, str] = {}
    for name, value in request.query.items():
        params.setdefault(name, value)
    if request.body_exists and request.content_type in _FORM_TYPES:
        form = await request.post()
        for name, field in form.items():
            if isinstance(field, str):
                params.setdefault(name, field)
    return params


def _reset_connection(request: web.Request) -> None:
    """Abort with a TCP RST: SO_LINGER 0 makes close() discard the socket instead of sending FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _close_connection(request: web.Request) -> None:
    """Close cleanly (FIN) without having written a byte of the answer."""
    if request.transport is not None:
        request.transport.close()


def _unsent() -> web.Response:
    # Returned after the transport is gone: aiohttp's write fails and it drops it silently.
    return web.Response(status=204)


def _too_many(record: RequestRecord, retry_after_s: float) -> web.Response:
    record.http_status = record.code = RATE_LIMITED_CODE
    seconds = max(1, int(-(-retry_after_s // 1)))  # ceil, at least 1
    body = {
        "code": RATE_LIMITED_CODE,
        "msg": "Too Many Requests (simulator rate limit)",
        "data": None,
        "extMsg": f"retry after {seconds} s",
    }
    return web.json_response(body, status=429, headers={"Retry-After": str(seconds)})


def _server_error(sim: Simulator, record: RequestRecord) -> web.Response:
    status = sim.rng.choice((500, 502, 503))
    record.http_status = status
    if status == 500:
        record.code = 5000
        return web.json_response(envelope(5000), status=500)
    reason = "Bad Gateway" if status == 502 else "Service Unavailable"
    page = f"<html><body><h1>{status} {reason}</h1></body></html>"
    return web.Response(status=status, text=page, content_type="text/html")


#: the body code odd_code_after_apply answers: on no endpoint's list (docs/platform-api.md §5)
UNDOCUMENTED_CODE = 5999

#: what a proxy in front of the platform might answer with HTTP 200
PROXY_PAGE = "<html><head><title>Gateway</title></head><body><p>Please sign in to the network.</p></body></html>"


def _draw_fault(sim: Simulator) -> FaultKind | None:
    """A fault for this request, within the config's budget (which counts down as faults fire)."""
    config = sim.config
    if config.fault_budget == 0:
        return None
    fault = draw_fault(sim.rng, config.fault_rate, config.fault_kinds)
    if fault is not None and config.fault_budget is not None:
        config.fault_budget -= 1
    return fault


def _list_fails(config: SimulatorConfig) -> bool:
    """Whether this share-list look-up fails (config.list_failures counts down as they do)."""
    if config.list_failures <= 0:
        return False
    config.list_failures -= 1
    return True


def _answer_after_apply(fault: FaultKind | None, record: RequestRecord, data: Any) -> web.Response | None:
    """The answer of a fault that lets the share be applied and then garbles what the client hears."""
    if fault is FaultKind.HTML_AFTER_APPLY:
        return web.Response(status=200, text=PROXY_PAGE, content_type="text/html")
    if fault is FaultKind.TRUNCATED_AFTER_APPLY:
        whole = json.dumps(envelope(record.code or SUCCESS, data))
        return web.Response(status=200, text=whole[: len(whole) // 2], content_type="application/json")
    if fault is FaultKind.EMPTY_DATA_AFTER_APPLY and record.code == SUCCESS:
        return web.json_response(envelope(SUCCESS, None))
    if fault is FaultKind.ODD_CODE_AFTER_APPLY and record.code == SUCCESS:
        record.code = UNDOCUMENTED_CODE
        return web.json_response(envelope(UNDOCUMENTED_CODE, None))
    return None


def _run(sim: Simulator, request: web.Request, endpoint: Endpoint, params: dict[str, str],
         record: RequestRecord) -> tuple[int, Any]:
    try:
        uid = sim.state.tokens.verify_access(request.headers.get("Authorization")) if endpoint.needs_auth else None
        record.uid = uid
        data, share_code = endpoint.operation(sim, uid, params)
    except PlatformCodeError as exc:
        return exc.code, None
    record.share_code = share_code
    return SUCCESS, data


async def _serve(sim: Simulator, request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
    params = await _read_params(request)
    logged = params
    if endpoint.masked_params:
        logged = {k: MASKED if k in endpoint.masked_params else v for k, v in params.items()}
    record = sim.traffic.arrive(request.method, request.path, logged)
    config = sim.config
    retry_after_s = sim.traffic.admit(record, config.rate_limit)
    if retry_after_s is not None:
        return _too_many(record, retry_after_s)
    if endpoint.needs_auth:
        refused = account_check(sim, request.headers.get("Authorization"), record)
        if refused is not None and refused[0] == "limited":
            return _too_many(record, refused[1])
        if refused is not None:
            record.http_status, record.code = 200, BLOCKED_CODE
            return web.json_response(envelope(BLOCKED_CODE))
    delay_s = draw_latency_s(sim.rng, config.latency_ms, config.jitter_ms)
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    if endpoint.path == LIST_PATH and config.list_fault_rate and sim.rng.random() < config.list_fault_rate:
        record.http_status = 503  # list_fault_rate: the share list cannot be read just now
        return web.Response(status=503, text="<html><body><h1>503 Service Unavailable</h1></body></html>",
                            content_type="text/html")
    fault = _draw_fault(sim) if endpoint.faults else None
    record.fault = fault
    if fault is FaultKind.SERVER_ERROR or (endpoint.list_faults and _list_fails(config)):
        return _server_error(sim, record)
    if fault is FaultKind.RESET_BEFORE_APPLY:
        _reset_connection(request)
        return _unsent()
    if fault is FaultKind.LATE_APPLY:
        return await serve_late(sim, lambda: _apply_and_answer(sim, request, endpoint, params, record))
    return await _apply_and_answer(sim, request, endpoint, params, record, fault)


async def _apply_and_answer(sim: Simulator, request: web.Request, endpoint: Endpoint, params: dict[str, str],
                            record: RequestRecord, fault: FaultKind | None = None) -> web.StreamResponse:
    config = sim.config
    record.code, data = _run(sim, request, endpoint, params, record)
    if fault is FaultKind.DROP_AFTER_APPLY:
        _close_connection(request)
        return _unsent()
    record.http_status = 200
    if fault is FaultKind.SLOW_AFTER_APPLY:
        await sim.hold(config.slow_fault_s)
    garbled = _answer_after_apply(fault, record, data)
    if garbled is not None:
        return garbled
    return web.json_response(envelope(record.code, data))


def _handler(sim: Simulator, endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await _serve(sim, request, endpoint)

    return handle


def build_app(sim: Simulator) -> web.Application:
    """The whole application: platform routes plus the /_sim/ test aid."""
    app = web.Application()
    for endpoint in ENDPOINTS:
        app.router.add_route(endpoint.method, endpoint.path, _handler(sim, endpoint))
    add_introspection_routes(app, sim)
    add_date_header(app, lambda: sim.state.clock())  # read at each answer: tests replace the clock
    return app
