"""What a manager asks of a report before its figures: which file, which platform, who ran it where, when.

The command layer collects these facts (it knows the job, the batch and the journal); the report
only formats them. Times are kept in UTC ISO form and shown in the machine's local time with its
zone, UTC beside it; recipients can be masked for a report meant to be mailed.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from runner.redact import mask_contacts

#: how much of the input's SHA-256 the report shows: enough to tell two files apart by eye
SHA_PREFIX = 12
_UID_KEEP = 2


@dataclass(frozen=True)
class ReportContext:
    """The facts around a run that the report shows in its header."""

    job: str
    input_name: str
    input_sha256: str
    batch_id: str
    platform_host: str | None  # None for validate: nothing was sent
    region: str | None  # "eu", "cn", or None for another base URL (a simulator, a proxy)
    os_user: str
    host: str
    batch_started_at: str | None  # the batch's first start (UTC ISO), earlier than this run's after a resume
    run_started_at: str  # this invocation
    run_finished_at: str
    #: headers whose cells are recipients, masked with `mask_recipients`
    recipient_headers: frozenset[str] = field(default_factory=frozenset)
    mask_recipients: bool = False

    @property
    def resumed(self) -> bool:
        """True when this run continued a batch an earlier run started."""
        return self.batch_started_at is not None and self.batch_started_at < self.run_started_at

    @property
    def sha_prefix(self) -> str:
        return self.input_sha256[:SHA_PREFIX]


def platform_of(base_url: str | None, regions: dict[str, str]) -> tuple[str | None, str | None]:
    """(host, region name) of a base URL; the region is None for a URL that is not a documented one."""
    if base_url is None:
        return None, None
    host = urlsplit(base_url).hostname
    region = next((name for name, url in regions.items() if url.rstrip("/") == base_url.rstrip("/")), None)
    return host, region


def who_and_where() -> tuple[str, str]:
    """(OS user, host name) of this process; a container without a passwd entry gets the uid's name."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER in the environment
        user = f"uid {os.getuid()}"
    return user, socket.gethostname()


def local_time(iso: str | None) -> tuple[str, str]:
    """("2026-12-02 16:01:23 CET", "15:01:23 UTC") from a UTC ISO time; ("–", "") when there is none."""
    if not iso:
        return "–", ""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso, ""
    local = moment.astimezone()
    zone = local.tzname() or local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {zone}", f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def mask_recipient(value: str) -> str:
    """A recipient for a mailed report: `a***@example.com`, `***456`, a uid as `U0***`."""
    masked = mask_contacts(value)
    if masked != value:
        return masked
    return value[:_UID_KEEP] + "***" if len(value) > _UID_KEEP else "***"

