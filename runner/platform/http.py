"""The one place that sends a request with aiohttp and turns its exceptions into errors.py types.

Both the share client (client.py) and the auth calls (auth/api.py) go through `exchange`, so a
refused connection, a timeout or a failed TLS check reads the same whichever endpoint met it.
What an answer means (the envelope, the body code) stays with each caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from runner.errors import BodyTooLargeError, FatalApiError, TransientApiError
from runner.platform.replies import MAX_BODY_BYTES, read_capped
from runner.redact import redact


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What came back: the status, the whole body, and the raw Retry-After and Date headers if any."""

    status: int
    body: bytes
    retry_after: str | None
    date: str | None = None  # the platform's clock when it answered (whole seconds)


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    params: dict[str, str],
    base_url: str,
    applies_change: bool,
    headers: dict[str, str] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> HttpAnswer:
    """Send one request and read the answer; no answer raises TransientApiError or FatalApiError.

    `applies_change` says whether the request changes state on the platform: when the connection
    is lost after it left, the error says it may have been applied. A body longer than
    `max_body_bytes` is read no further and counts as no answer.
    """
    status: int | None = None
    try:
        async with session.request(method, url, params=params, headers=headers) as response:
            status = response.status
            body = await read_capped(response, max_body_bytes)
            return HttpAnswer(response.status, body, response.headers.get("Retry-After"), response.headers.get("Date"))
    except BodyTooLargeError as exc:
        # The answer started, so the request arrived: for a change, in doubt like a lost answer.
        raise TransientApiError(str(exc), http_status=status, may_have_applied=applies_change) from exc
    except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientConnectorSSLError) as exc:
        raise FatalApiError(
            f"TLS check of {base_url} failed ({_reason(exc)}); behind a corporate proxy pass --ca-bundle"
        ) from exc
    except aiohttp.ClientConnectorError as exc:
        # The connection was never made, so nothing reached the platform.
        raise TransientApiError(f"cannot connect: {_reason(exc)}") from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise TransientApiError("no answer within the timeout", may_have_applied=applies_change) from exc
    except aiohttp.ClientError as exc:
        raise TransientApiError(
            f"connection lost before the answer: {_reason(exc)}", may_have_applied=applies_change
        ) from exc


def _reason(exc: BaseException) -> str:
    """One short line about `exc`, never its request URL: the query holds recipients and tokens."""
    if isinstance(exc, aiohttp.ClientResponseError):  # its str() ends with the full URL
        return type(exc).__name__ + (f" (HTTP {exc.status})" if exc.status else "")
    text = str(exc) or type(exc).__name__
    return redact(text.splitlines()[0][:200])
