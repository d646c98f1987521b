"""aioresponses as the suite's HTTP mock, through its public API only.

aioresponses 0.7.9 builds responses without the `stream_writer` argument that aiohttp 3.14's
ClientResponse requires (pnuckowski/aioresponses#289). Its `add(response_class=...)` parameter is
the documented way to choose the response type, so this subclass passes one that supplies a
finished writer, for every mocked answer, instead of replacing a class inside aioresponses.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import aiohttp
from aioresponses import CallbackResult, aioresponses
from yarl import URL


class ResponseWithStreamWriter(aiohttp.ClientResponse):
    """A ClientResponse that aioresponses can build under aiohttp 3.14."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


class FakeHttp(aioresponses):  # type: ignore[misc]
    """aioresponses whose answers are built as `ResponseWithStreamWriter` unless a test says otherwise."""

    def add(self, url: Any, method: str = "GET", **kwargs: Any) -> None:
        kwargs.setdefault("response_class", ResponseWithStreamWriter)
        super().add(url, method, **kwargs)


def answer(payload: dict[str, Any], status: int = 200) -> CallbackResult:
    """What a `callback=` of FakeHttp returns: aioresponses builds callback answers from this."""
    return CallbackResult(status=status, payload=payload, response_class=ResponseWithStreamWriter)


def sent(fake: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    """Every request the fake received: method, full URL (query included) and the call's keywords."""
    return [(method, url, call.kwargs) for (method, url), calls in fake.requests.items() for call in calls]
