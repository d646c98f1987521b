"""The one place that sends a request with aiohttp and turns its exceptions into errors.py types.

Both the share client (client.py) and the auth calls (auth/api.py) go through `exchange`, so a
refused connection, a timeout or a failed TLS check reads the same whichever endpoint met it.
What an answer means (the envelope, the body code) stays with each caller.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from runner.errors import BodyTooLargeError, TransientApiError, UnreachableError
from runner.platform.replies import MAX_BODY_BYTES, read_capped
from runner.redact import redact

#: attempts of a row whose connection could not be made: one retry covers a blip; a wrong host or port fails
#: every row alike, and the run stops after a few such rows (engine settings' unreachable_rows)
_UNREACHABLE_ATTEMPTS = 2


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
    """Send one request and read the answer; no answer raises TransientApiError (UnreachableError
    when no connection was made, so nothing was sent).

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
        # The TLS handshake failed, so no byte of the request was sent; retrying cannot help.
        raise UnreachableError(
            f"cannot connect to {_host(base_url)}: the TLS check failed ({_reason(exc)}); behind a corporate "
            "proxy pass --ca-bundle, otherwise check --base-url", attempt_limit=1,
        ) from exc
    except aiohttp.ClientConnectorDNSError as exc:
        raise UnreachableError(
            f"cannot connect to {_host(base_url)}: the name does not resolve (DNS: {_reason(exc)}); check --region "
            "or --base-url, then the network", attempt_limit=_UNREACHABLE_ATTEMPTS,
        ) from exc
    except aiohttp.ClientConnectorError as exc:
        # The connection was never made, so nothing reached the platform.
        raise UnreachableError(
            f"cannot connect to {_host(base_url)}: {_refusal(exc)}; check --base-url (host and port) or --region, "
            "then the network (firewall, proxy)", attempt_limit=_UNREACHABLE_ATTEMPTS,
        ) from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise TransientApiError("no answer within the timeout", may_have_applied=applies_change) from exc
    except aiohttp.ClientError as exc:
        raise TransientApiError(
            f"connection lost before the answer: {_reason(exc)}", may_have_applied=applies_change
        ) from exc


def _host(base_url: str) -> str:
    """The host (and port, when one is given) of `base_url`: what DNS or the connection failed on."""
    parsed = urlsplit(base_url)
    return parsed.netloc.rsplit("@", 1)[-1] or base_url


def _refusal(exc: aiohttp.ClientConnectorError) -> str:
    """Why the connection was not made, in words: aiohttp's text repeats the host and its ssl setting."""
    if exc.os_error.errno == errno.ECONNREFUSED or "Connect call failed" in str(exc.os_error):
        return "the connection was refused (nothing listens on that port)"
    return exc.os_error.strerror or _reason(exc.os_error)


def _reason(exc: BaseException) -> str:
    """One short line about `exc`, never its request URL: the query holds recipients and tokens."""
    if isinstance(exc, aiohttp.ClientResponseError):  # its str() ends with the full URL
        return type(exc).__name__ + (f" (HTTP {exc.status})" if exc.status else "")
    text = str(exc) or type(exc).__name__
    return redact(text.splitlines()[0][:200])
