"""The business codes the simulator answers with, and the exception that carries one.

Pure logic (state, tokens) raises `PlatformCodeError`; the HTTP layer turns it into the
platform's envelope with HTTP 200, as the real platform does for business errors.
"""

from __future__ import annotations

SUCCESS = 200

#: the `msg` of every code the simulator answers with, from the platform's pages (docs/platform-api.md §5.1,
#: §5.2, §3.3, §3.4); its own table, not the client's, so the two are two readings of the docs
_MEANINGS: dict[int, str] = {
    5000: "service exception",
    5004: "phone not registered",
    5031: "email not registered",
    5032: "token verification failed",
    5033: "user does not exist",
    5041: "no permission",
    5066: "pk missing",
    5067: "dk missing",
    5106: "token missing",
    5133: "coverMark out of range",
    5134: "adding the share record failed",
    5135: "no permission to share this device",
    5136: "shareCode missing",
    5141: "no permission to query this device",
    5142: "share no longer valid",
    5145: "timestamp format invalid",
    5147: "account frozen for 20 minutes",
    5148: "IP frozen for 20 minutes",
    5360: "device binding not verified, cannot be shared",
    5864: "a family member cannot receive a share of a family device",
    5891: "recipient uid, email or phone missing",
    # password logins (docs/platform-api.md §3.3, §3.4)
    5015: "user domain does not exist",
    5021: "phone missing",
    5022: "password missing",
    5023: "user domain missing",
    5026: "email missing",
    5353: "password decryption failed",
    5420: "signature verification failed",
    5550: "signature missing",
    **{5578 + left: f"wrong phone or password, {left} attempt(s) left" for left in range(1, 5)},
    **{5582 + left: f"wrong email or password, {left} attempt(s) left" for left in range(1, 5)},
}


def message_for(code: int) -> str:
    """The `msg` text of an envelope; clients must not branch on it (docs/platform-api.md §1.2)."""
    if code == SUCCESS:
        return "success"
    return _MEANINGS.get(code, "error")


class PlatformCodeError(Exception):
    """A business error: answered as HTTP 200 with this `code` in the envelope."""

    def __init__(self, code: int) -> None:
        super().__init__(f"{code} {message_for(code)}")
        self.code = code
