"""Checks before anything is sent: each account's token expiry, and this host's clock against the platform's.

A token whose refresh token has expired cannot be renewed, so every row of its account would end
`not_attempted`; said before the run, it is a login instead of a lost night. A host clock far
from the platform's moves every relative expiry; the look-up of a share whose answer was lost uses
the platform's clock (runner/platform/clockskew.py), but a skew past SKEW_WARN_S is worth a line
before the run, once (the run itself does not warn again; `status` shows the offset it measured).
The platform's clock is read from the `Date` header of
one unauthenticated HEAD request to the base URL (no token, no row), with the standard library,
so `validate` and `status` stay light. Every finding is a warning line; nothing here stops a run.
"""

from __future__ import annotations

import email.utils
import ipaddress
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from runner.errors import UsageError
from runner.models import iso_utc
from runner.platform.auth.claims import token_claims
from runner.platform.clockskew import SKEW_WARN_S

if TYPE_CHECKING:
    from runner.batches.jobspec import JobSpec

# the names runner.platform.auth.tokens reads (not imported from it: it brings in aiohttp, and validate must not)
TOKEN_ENV = "SHAREBATCH_TOKEN"  # nosec B105
REFRESH_TOKEN_ENV = "SHAREBATCH_REFRESH_TOKEN"  # nosec B105

REFRESH_SOON_S = 3 * 86400.0  # a refresh token this close to its end: log in again soon
ACCESS_SOON_S = 3600.0  # an access token with no refresh token this close to its end: a long batch stops
CLOCK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Credential:
    """One account's tokens as the run would use them: a token file, else the environment."""

    label: str
    base_url: str | None
    token_file: Path | None = None
    access_token: str | None = None
    refresh_token: str | None = None


def credentials_of(spec: JobSpec, environ: Mapping[str, str] | None = None) -> list[Credential]:
    """The default credentials (if any are set) and every account of the job."""
    env = environ if environ is not None else os.environ
    found = []
    if spec.token_file is not None:
        found.append(Credential("the default token", spec.base_url, token_file=spec.token_file))
    elif env.get(TOKEN_ENV, "").strip():
        found.append(Credential("the default token", spec.base_url, access_token=env[TOKEN_ENV],
                                refresh_token=env.get(REFRESH_TOKEN_ENV) or None))
    found += [Credential(f'account "{name}"', account.base_url or spec.base_url, token_file=account.token_file)
              for name, account in spec.accounts.items()]
    return found


def token_warnings(credential: Credential, now: float, *, unreadable: bool = True) -> list[str]:
    """What the operator must do about this account's tokens before they run out; empty when nothing.

    `unreadable=False` leaves a token file that cannot be used to the command, which stops on it anyway.
    """
    label = credential.label
    access_at: float | None
    refresh_at: float | None
    if credential.token_file is not None:
        from runner.platform.auth.tokenfile import load_tokens

        try:
            pair, _ = load_tokens(credential.token_file)
        except UsageError as exc:
            return [f"{label}: {exc}"] if unreadable else []
        access_at, refresh_at = pair.access_expires_at, pair.refresh_expires_at
        renew = f"run `sharebatch login --token-file {credential.token_file} ...`"
    else:
        access_at = _expiry(credential.access_token)
        refresh_at = _expiry(credential.refresh_token) if credential.refresh_token else None
        renew = "set a fresh SHAREBATCH_TOKEN (and SHAREBATCH_REFRESH_TOKEN), or use `sharebatch login`"
    if refresh_at is not None and refresh_at <= now:
        return [f"{label}: its refresh token expired at {_when(refresh_at)}, so nothing can be sent with it: {renew}"]
    if refresh_at is None and access_at is not None and access_at <= now:
        return [f"{label}: its access token expired at {_when(access_at)} and there is no refresh token, so nothing "
                f"can be sent with it: {renew}"]
    if refresh_at is not None and refresh_at - now < REFRESH_SOON_S:
        return [f"{label}: its refresh token expires at {_when(refresh_at)} ({(refresh_at - now) / 3600:.0f} h from "
                f"now); after that its rows are not sent: {renew} before then"]
    if refresh_at is None and access_at is not None and access_at - now < ACCESS_SOON_S:
        return [f"{label}: its access token expires at {_when(access_at)} ({(access_at - now) / 60:.0f} min from "
                f"now) and there is no refresh token: a batch still running then stops; {renew}"]
    return []


def skew_from_date(date_header: str, sent: float, received: float) -> float | None:
    """Platform clock minus host clock, in seconds (± 1 s: the header has whole seconds); None if unreadable."""
    try:
        platform = email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return platform - (sent + received) / 2


def read_clock_skew(base_url: str, ca_bundle: Path | None = None) -> tuple[float | None, str | None]:
    """(skew in seconds, None) from one HEAD request to the base URL, or (None, why it could not be read)."""
    from runner.platform.tls import tls_context

    request = urllib.request.Request(base_url.rstrip("/") + "/", method="HEAD")
    sent = time.time()
    try:  # the scheme is http(s), checked by baseurl.check_base_url
        with urllib.request.urlopen(request, timeout=CLOCK_TIMEOUT_S, context=tls_context(ca_bundle)) as answer:  # nosec B310
            date_header = answer.headers.get("Date")
    except urllib.error.HTTPError as answer:  # a 404 page tells the time as well as any
        date_header = answer.headers.get("Date")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        return None, f"could not read the platform's clock at {base_url} ({reason}); clock skew not checked"
    skew = skew_from_date(date_header, sent, time.time()) if date_header else None
    if skew is None:
        return None, f"{base_url} sent no readable Date header; clock skew not checked"
    return skew, None


def skew_warning(base_url: str, skew_s: float) -> str | None:
    if abs(skew_s) <= SKEW_WARN_S:
        return None
    side = "behind" if skew_s > 0 else "ahead of"
    return (f"this host's clock is {abs(skew_s):.0f} s {side} the platform's ({base_url}, from its Date header): "
            "relative expiries count from this clock (share-list look-ups use the platform's clock, measured from "
            "its answers); set the clock right (NTP) before sending")


def preflight_warnings(spec: JobSpec, *, environ: Mapping[str, str] | None = None, sending: bool = False) -> list[str]:
    """Every account's token warnings, then one clock check per base URL that is not on this host.

    `sending`: a command about to send reports an unusable token file itself, as an error.
    A server on this host (the simulator) shares its clock: there is nothing to compare.
    """
    now = time.time()
    credentials = credentials_of(spec, environ)
    warnings = [line for c in credentials for line in token_warnings(c, now, unreadable=not sending)]
    urls = [c.base_url for c in credentials if c.base_url] or ([spec.base_url] if spec.base_url else [])
    for url in dict.fromkeys(url for url in urls if not on_this_host(url)):
        skew, problem = read_clock_skew(url, spec.ca_bundle)
        found = problem if skew is None else skew_warning(url, skew)
        if found:
            warnings.append(found)
    return warnings


def on_this_host(base_url: str) -> bool:
    """A loopback base URL: the server runs on this host's clock."""
    host = urlsplit(base_url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _expiry(token: str | None) -> float | None:
    exp = token_claims(token or "").get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def _when(epoch_s: float) -> str:
    return iso_utc(int(epoch_s * 1000))
