"""The platform's error codes as data: their classes, meanings and the advice an operator follows.

Kept apart from `client.py` (and free of aiohttp) because the reports, `status`, the job file's
checks and the simulator read the same table; docs/platform-api.md §5 is the source.
"""

from __future__ import annotations

from enum import Enum


class ErrorClass(Enum):
    """The classes of docs/platform-api.md §5."""

    ROW = "row"
    AUTH = "auth"
    TRANSIENT = "transient"
    TRANSIENT_ONCE = "transient_once"  # retried once, then final for the row
    FATAL = "fatal"


_AUTH_CODES = frozenset({5032, 5106})
_TRANSIENT_CODES = frozenset({5000, 5394})
_TRANSIENT_ONCE_CODES = frozenset({5103, 5138, 6085})
# Lockouts, blocks and credential failures halt everything, whichever endpoint returns them
# (docs/platform-api.md §5.2 lists 5146, 5148 and 5353 as FATAL without naming an endpoint).
_ALWAYS_FATAL_CODES = frozenset({5146, 5147, 5148, 5325, 5353})
#: short meanings of the codes a share batch may meet, for messages and reports
CODE_MEANINGS: dict[int, str] = {
    5000: "service exception",
    5031: "email not registered",
    5004: "phone not registered",
    5032: "token verification failed",
    5033: "user does not exist",
    5041: "no permission",
    5066: "pk missing",
    5067: "dk missing",
    5103: "data exception",
    5106: "token missing",
    5133: "coverMark out of range",
    5134: "adding the share record failed",
    5141: "no permission to query this device",
    5142: "share no longer valid",
    5145: "timestamp format invalid",
    5147: "account frozen for 20 minutes",
    5148: "IP frozen for 20 minutes",
    5325: "access blocked for 24 hours (abnormal behaviour)",
    5360: "device binding not verified, cannot be shared",
    5394: "internal interface request failed",
    5411: "devices of this product may not be shared",
    5864: "a family member cannot receive a share of a family device",
    5891: "recipient uid, email or phone missing",
}


#: what an operator does about each code a row can end with, in a line (docs/platform-api.md §5);
#: report.html and `status` show it beside the count. Codes not listed get `advise_code`'s default.
CODE_ADVICE: dict[str, str] = {
    "transport": "No answer reached sharebatch (connection refused, timeout, proxy): check the network and the "
                 "base URL, then run the same command again; rows in doubt are looked up before any re-send.",
    "5000": "A fault on the platform's side: run the same command again later; it resends only what is left.",
    "5394": "A fault between the platform's own services: run the same command again later.",
    "5103": "The platform could not read its own data for this row: run again once; if it stays, ask support "
            "with the device key.",
    "5004": "No account with this phone number in this app: check the number and its country code, or invite "
            "the person to register in the app first.",
    "5031": "No account with this email in this app: check the spelling, or invite the person to register in "
            "the app first.",
    "5033": "No user with this uid: check the recipient column (a uid, not a name).",
    "5032": "The access token was refused: run `sharebatch login` again (or renew SHAREBATCH_TOKEN), then the "
            "same command.",
    "5106": "No access token reached the platform: set SHAREBATCH_TOKEN or a token file, then run again.",
    "5041": "The account is not the owner of this device (or of this share): run with the owner's account, or "
            "drop the row.",
    "5066": "The pk cell is empty: fill in the product key and run failed.csv again.",
    "5067": "The dk cell is empty: fill in the device key and run failed.csv again.",
    "5133": "The cover mark is not 1, 2 or 3: correct the cover_mark cell (or the job's cover_mark).",
    "5134": "The platform failed to store the share without saying why: run failed.csv again; if it keeps "
            "failing, list the code in retry_codes or ask support.",
    "5141": "The account may not read this device's share list: share it from the owner's account.",
    "5142": "The share had already ended (revoked, replaced or expired): nothing to do.",
    "5145": "The expiry was not accepted: write it as YYYY-MM-DD, an ISO time or 30d and run failed.csv again.",
    "5147": "The account is frozen for 20 minutes after wrong passwords: wait, fix the password, log in again.",
    "5148": "This machine's IP is frozen for 20 minutes after wrong logins: wait before logging in again.",
    "5325": "The platform blocked the account for 24 hours for abnormal behaviour: stop, lower rate and "
            "concurrency, and ask support before sending again.",
    "5360": "The device's binding is not verified, so it cannot be shared: the owner verifies the device in the "
            "app (or support does); then run failed.csv again.",
    "5411": "This product's devices may not be shared: change the product's sharing setting in the Developer "
            "Center, or drop these rows.",
    "5864": "The recipient is a family member and the device is a family device: they already have it; drop "
            "the row.",
    "5891": "The recipient cell is empty: fill in a uid, email or phone and run failed.csv again.",
}


def advise_code(code: str) -> str:
    """What to do about rows that failed with `code` (a number, or "transport" when no answer came)."""
    return CODE_ADVICE.get(code, "A code the platform's documentation does not explain: keep the report, ask "
                                 "support what it means, then run failed.csv again.")


def classify_code(code: int) -> ErrorClass:
    """Map a body `code` (not 200) to its class; unknown codes are final for the row."""
    if code in _ALWAYS_FATAL_CODES:
        return ErrorClass.FATAL
    if code in _AUTH_CODES:
        return ErrorClass.AUTH
    if code in _TRANSIENT_CODES:
        return ErrorClass.TRANSIENT
    if code in _TRANSIENT_ONCE_CODES:
        return ErrorClass.TRANSIENT_ONCE
    return ErrorClass.ROW


#: every code the platform's pages list (docs/platform-api.md §5.1, §5.2); an answer with any other code
#: to a request that changes something leaves that change in doubt
_DOCUMENTED_CODES = frozenset({
    5000, 5002, 5004, 5013, 5015, 5019, 5021, 5022, 5023, 5026, 5028, 5031, 5032, 5033, 5040, 5041, 5049, 5056,
    5066, 5067, 5068, 5103, 5104, 5106, 5132, 5133, 5134, 5135, 5136, 5137, 5138, 5139, 5141, 5142, 5145, 5146,
    5147, 5148, 5151, 5153, 5325, 5333, 5353, 5360, 5371, 5377, 5394, 5411, 5420, 5478, 5550, 5864, 5891, 6084,
    6085, *range(5579, 5587),
})


def is_documented_code(code: int) -> bool:
    """True for the codes the platform documents; anything else is "unexpected"."""
    return code in _DOCUMENTED_CODES


#: HTTP statuses that are retried: the request may or may not have been applied. Every 5xx, as
#: docs/platform-api.md §5.3 says, so that a proxy's 520-524 in front of the platform is retried too.
TRANSIENT_HTTP_STATUSES = frozenset({408, 429, *range(500, 600)})


def describe_code(code: int | None) -> str:
    """'5360 (device binding not verified, ...)' or just the number."""
    if code is None:
        return ""
    meaning = CODE_MEANINGS.get(code)
    return f"{code} ({meaning})" if meaning else str(code)
