"""Reading the platform's answers within bounds: a capped body and a capped Retry-After.

The platform's replies are a few kilobytes; a hostile or broken server could send gigabytes, 8
requests at a time, or a Retry-After that parks the whole run for a day. Bodies are read up to
`MAX_BODY_BYTES` and no further; a Retry-After, in seconds or as an HTTP date, is capped.
"""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime

import aiohttp

from runner.errors import BodyTooLargeError

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_RETRY_AFTER_S = 120.0
_CHUNK = 64 * 1024


async def read_capped(response: aiohttp.ClientResponse, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, or BodyTooLargeError as soon as more than `limit` bytes are announced or arrive.

    The connection is closed on the way out, so the rest is never read.
    """
    announced = response.content_length
    if announced is not None and announced > limit:
        response.close()
        raise BodyTooLargeError(limit)
    if announced is not None:
        # aiohttp reads no more than a Content-Length it was given: one read, no chunk loop, for
        # the platform's every (small, sized) answer.
        return await response.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            response.close()
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def retry_after_s(value: str | None, *, cap_s: float, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), within [0, cap_s].

    None when there is no header or it says nothing usable.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None  # an HTTP date is always GMT; a date without a zone is not one
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap_s)
