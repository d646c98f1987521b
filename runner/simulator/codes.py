"""The business codes the simulator answers with, and the exception that carries one.

Pure logic (state, tokens) raises `PlatformCodeError`; the HTTP layer turns it into the
platform's envelope with HTTP 200, as the real platform does for business errors.
"""

from __future__ import annotations

from runner.platform.codes import CODE_MEANINGS

SUCCESS = 200

#: codes the simulator uses that runner.errors has no text for
_EXTRA_MEANINGS: dict[int, str] = {
    5135: "no permission to share this device",
    5136: "shareCode missing",
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
    return _EXTRA_MEANINGS.get(code) or CODE_MEANINGS.get(code) or "error"


class PlatformCodeError(Exception):
    """A business error: answered as HTTP 200 with this `code` in the envelope."""

    def __init__(self, code: int) -> None:
        super().__init__(f"{code} {message_for(code)}")
        self.code = code
