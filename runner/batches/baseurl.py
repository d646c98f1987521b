"""The platform's address: a job's `base_url` or `region`, and the checks every base URL passes.

Shared by the job spec and `sharebatch login`, so a URL that carries a password, is not http(s), or
sends plain http off this machine is refused with the same message wherever it was given.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from runner.errors import UsageError
from runner.redact import redact, register_secret

#: the data centers the platform documents (docs/platform-api.md §1.1)
REGION_BASE_URLS = {
    "eu": "https://iot-api.acceleronix.io",
    "cn": "https://iot-api.quectelcn.com",
}


def base_url_of(raw: dict[str, Any], where: str) -> str | None:
    """The job's `base_url`, or its `region`'s, checked; None when neither is given."""
    region = raw.get("region")
    url = raw.get("base_url")
    if region is not None:
        if region not in REGION_BASE_URLS:
            raise UsageError(f"{where}: `region` must be one of {', '.join(REGION_BASE_URLS)}, not {region!r}")
        if url is not None and url != REGION_BASE_URLS[region]:
            raise UsageError(f"{where}: give either `base_url` or `region`, not both")
        url = REGION_BASE_URLS[region]
    if url is None:
        return None
    return check_base_url(url, allow_insecure_http=bool(raw.get("allow_insecure_http", False)), where=where)


def check_base_url(url: str, *, allow_insecure_http: bool, where: str = "option") -> str:
    """Accept https anywhere, http only on loopback unless explicitly allowed."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        if parts.password:
            register_secret(parts.password)
        raise UsageError(f"{where}: `base_url` {redact(url)!r} holds a user name or password; the platform "
                         "authenticates with tokens: give the URL without them")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{where}: `base_url` {url!r} is not an http(s) URL such as https://iot-api.acceleronix.io")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise UsageError(
            f"{where}: `base_url` {url!r} uses plain http to a non-loopback host; "
            "use https, or pass --allow-insecure-http if you really mean it"
        )
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
