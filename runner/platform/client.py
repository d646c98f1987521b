"""PlatformClient: one aiohttp session, one method per endpoint, every failure classified.

It reads the platform's envelope and classifies every answer; sending goes through
`http.exchange`, the one place that knows aiohttp's exceptions. Everything above sees `ApiReply`
values or `ApiError` subclasses (errors.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from runner.clock import now_ms
from runner.errors import ApiError, AuthExpiredError, FatalApiError, RowRejectedError, TransientApiError
from runner.events import departing
from runner.models import DeviceShare, RecipientKind, RunStats, ShareRequest
from runner.platform.auth.tokens import TokenSource
from runner.platform.clockskew import PlatformClock
from runner.platform.codes import TRANSIENT_HTTP_STATUSES, ErrorClass, classify_code, describe_code, is_documented_code
from runner.platform.http import exchange
from runner.platform.pacing import Gate
from runner.platform.replies import DEFAULT_MAX_RETRY_AFTER_S, MAX_BODY_BYTES, retry_after_s
from runner.redact import Secret, redact

SHARE_PATH = "/v2/binding/enduserapi/shareByUid"
SHARE_LIST_PATH = "/v2/binding/enduserapi/deviceShareUserList"
UNSHARE_PATH = "/v2/binding/enduserapi/ownerUserUnshareDevice"
SET_SHARE_TIME_PATH = "/v2/binding/enduserapi/setShareTime"


@dataclass(frozen=True, slots=True)
class ApiReply:
    """A successful (`code == 200`) answer."""

    data: Any
    http_status: int
    latency_ms: int


class PlatformClient:
    """Typed calls to the end-user OpenAPI; parameters go in the query string, never a JSON body."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        tokens: TokenSource,
        *,
        retry_codes: frozenset[int] = frozenset(),
        gate: Gate | None = None,
        stats: RunStats | None = None,
        max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._session = session
        self._max_retry_after_s = max_retry_after_s
        self._max_body_bytes = max_body_bytes
        self._gate = gate
        self.stats = stats if stats is not None else RunStats()
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._retry_codes = retry_codes
        #: the platform's clock as its answers' Date headers show it (look-up windows are in its time)
        self.clock = PlatformClock()

    async def share_by_uid(self, request: ShareRequest) -> ApiReply:
        """Create the share; `reply.data` is the new share code."""
        return await self._call("POST", SHARE_PATH, share_params(request), applies_change=True)

    async def list_device_shares(self, pk: str, dk: str) -> list[DeviceShare]:
        reply = await self._call("GET", SHARE_LIST_PATH, {"pk": pk, "dk": dk}, applies_change=False)
        entries = reply.data if isinstance(reply.data, list) else []
        now = now_ms()
        return [_device_share(entry, now) for entry in entries if isinstance(entry, dict)]

    async def revoke_share(self, share_code: str) -> ApiReply:
        return await self._call("DELETE", UNSHARE_PATH, {"shareCode": share_code}, applies_change=True)

    async def set_share_time(self, share_code: str, expire_at_ms: int) -> ApiReply:
        """Change a share's expiry (`setShareTime`); the endpoint cannot make a share permanent."""
        params = {"shareCode": share_code, "sharingExpireAt": str(expire_at_ms)}
        return await self._call("PUT", SET_SHARE_TIME_PATH, params, applies_change=True)

    async def _call(self, method: str, path: str, params: dict[str, str], *, applies_change: bool) -> ApiReply:
        """Send once; on a rejected token, replay once if the token source has a newer one."""
        header = await self._tokens.header()
        try:
            return await self._send(method, path, params, header, applies_change=applies_change)
        except AuthExpiredError:
            await self._tokens.after_rejection(header)  # raises when no newer token can be had
        header = await self._tokens.header()
        return await self._send(method, path, params, header, applies_change=applies_change)

    async def _send(
        self, method: str, path: str, params: dict[str, str], header: Secret, *, applies_change: bool
    ) -> ApiReply:
        if self._gate is not None:
            await self._gate.acquire()
        if applies_change:
            await departing()  # the engine marks the row in flight (on disk) only now that it leaves
        started = time.monotonic()
        self.stats.count_request(started)
        answer = await exchange(
            self._session, method, self._base_url + path, params=params, base_url=self._base_url,
            applies_change=applies_change, headers={"Authorization": header.reveal()},
            max_body_bytes=self._max_body_bytes,
        )
        latency_ms = int((time.monotonic() - started) * 1000)
        self.clock.observe(answer.date)
        retry_after = retry_after_s(answer.retry_after, cap_s=self._max_retry_after_s)
        self._react_to_throttling(answer.status, retry_after)
        return self._interpret(answer.status, answer.body, retry_after, latency_ms, path,
                               applies_change=applies_change)

    def _react_to_throttling(self, status: int, retry_after: float | None) -> None:
        """A Retry-After holds every request of the run, not only this one; a 429 slows the run."""
        if self._gate is None:
            return
        if retry_after is not None:
            self._gate.pause(retry_after)
        if status == 429:
            self._gate.throttled()

    def _interpret(
        self, status: int, body: bytes, retry_after: float | None, latency_ms: int, path: str, *, applies_change: bool
    ) -> ApiReply:
        envelope = _envelope(body)
        code = envelope.get("code") if envelope is not None else None
        if status in TRANSIENT_HTTP_STATUSES:
            # 429 and 408 were refused before any work; a 5xx from a gateway may hide an applied change.
            applied = applies_change and status >= 500
            raise TransientApiError(
                f"HTTP {status}", http_status=status, retry_after_s=retry_after, may_have_applied=applied
            )
        if status == 401 or code in (5032, 5106):
            raise AuthExpiredError("the platform rejected the access token", code=code, http_status=status)
        if status == 404:
            raise FatalApiError(
                f"HTTP 404 for {self._base_url}{path}: is the base URL right (no extra path, right region)?",
                http_status=status,
            )
        if not 200 <= status < 300:
            raise FatalApiError(f"HTTP {status} for {path}: unexpected answer from the platform", http_status=status)
        if envelope is None or not isinstance(code, int):
            if applies_change:
                # The request reached something that answered 2xx; a proxy's page or a cut-off body
                # after the platform applied the change looks exactly like this.
                raise TransientApiError(
                    f"HTTP {status} but the answer is not the platform's JSON envelope (a proxy's page or a cut-off "
                    "reply)", http_status=status, may_have_applied=True,
                )
            raise FatalApiError(
                f"the answer to {path} is not the platform's JSON envelope: is the base URL right?", http_status=status
            )
        if code == 200:
            return ApiReply(data=envelope.get("data"), http_status=status, latency_ms=latency_ms)
        raise self._business_error(code, str(envelope.get("msg") or ""), status, applies_change)

    def _business_error(self, code: int, msg: str, status: int, applies_change: bool) -> ApiError:
        described = describe_code(code)
        # the platform's msg often repeats the meaning we already show
        msg = redact(msg)  # the platform's text may echo the request's Authorization header
        text = f"code {described}" + (f": {msg}" if msg and msg.lower() not in described.lower() else "")
        if code in self._retry_codes:
            return TransientApiError(text, code=code, http_status=status, may_have_applied=applies_change)
        kind = classify_code(code)
        if kind is ErrorClass.TRANSIENT:
            return TransientApiError(text, code=code, http_status=status, may_have_applied=applies_change)
        if kind is ErrorClass.TRANSIENT_ONCE:
            return TransientApiError(
                text, code=code, http_status=status, may_have_applied=applies_change, attempt_limit=2
            )
        if kind is ErrorClass.FATAL:
            return FatalApiError(text, code=code, http_status=status)
        # A code no page lists says nothing about whether a change was made: treat it as in doubt.
        undocumented = applies_change and not is_documented_code(code)
        return RowRejectedError(text, code=code, http_status=status, may_have_applied=undocumented)


#: the platform's name for each kind of recipient (docs/platform-api.md §4.1)
RECIPIENT_PARAMS = {RecipientKind.UID: "shareUid", RecipientKind.EMAIL: "email", RecipientKind.PHONE: "phone"}


def share_params(request: ShareRequest) -> dict[str, str]:
    """The query string of a shareByUid call, in the platform's names; exactly one recipient parameter."""
    return request.query_params(RECIPIENT_PARAMS)


def _envelope(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and "code" in parsed else None




def _device_share(entry: dict[str, Any], now_ms: int) -> DeviceShare:
    share = entry.get("shareInfo") or {}
    user = entry.get("userInfo") or {}
    expire_ms = _positive_ms(share.get("sharingExpireAtTs"))
    expired = expire_ms is not None and expire_ms <= now_ms
    valid = share.get("shareStatus") == 1 and not expired
    return DeviceShare(
        share_code=str(share.get("shareCode") or ""),
        share_uid=str(share.get("shareUid") or user.get("uid") or ""),
        email=str(user.get("email") or ""),
        phone=str(user.get("phone") or ""),
        valid=valid,
        created_ms=int(share.get("shareTimeTs") or 0),
        expire_at_ms=expire_ms,
        accepted_ms=_positive_ms(share.get("acceptTimeTs")),
        ended_ms=_positive_ms(share.get("deleteTimeTs")),
        expired=expired,
    )


def _positive_ms(value: Any) -> int | None:
    """A `*Ts` field: milliseconds, or None when absent, null or 0."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None


