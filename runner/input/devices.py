"""Devices shared with several recipients under cover mark 1: each share replaces the one before.

The state per device is a few flag bits beside a 64-bit key, so a million rows stay small.
"""

from __future__ import annotations

from runner.input.compactmap import CompactMap
from runner.models import ShareRequest


def compact_key(*parts: str) -> int:
    """A 64-bit stand-in for a tuple of strings, so remembered rows do not keep their strings alive.

    Python's own hash is salted per process, which is fine: keys are only compared within one pass,
    and a collision (odds about n^2 / 2^65) is far below any other source of error.
    """
    return hash(parts)


class DeviceTracker:
    """Spots devices shared with several recipients where a row uses cover mark 1.

    Cover mark 1 replaces the device's previous share, so only the last recipient keeps access.
    It is fed only unique valid rows, so a second row for a device is a different recipient. The
    state per device is a few flag bits beside a 64-bit key.
    """

    _SEEN, _SHARED_TWICE, _COVER_1, _FLAGGED = 1, 2, 4, 8
    _CONFLICT = _SHARED_TWICE | _COVER_1

    def __init__(self) -> None:
        self._state = CompactMap()
        self.flagged: list[tuple[str, str]] = []  # every one of them, named in the warning
        self.flagged_count = 0

    def add(self, request: ShareRequest) -> None:
        key = compact_key(request.pk, request.dk)
        bits = self._SEEN | (self._COVER_1 if request.cover_mark == 1 else 0)
        old = self._state.add_bits(key, bits)
        if not old & self._SEEN:
            return  # the device's first share: nothing to compare with yet
        new = self._state.add_bits(key, self._SHARED_TWICE) | bits | self._SHARED_TWICE
        if new & self._CONFLICT == self._CONFLICT and not new & self._FLAGGED:
            self._state.add_bits(key, self._FLAGGED)
            self.flagged_count += 1
            self.flagged.append((request.pk, request.dk))

    def warning(self) -> str | None:
        if not self.flagged_count:
            return None
        names = ", ".join(f"{pk}/{dk}" for pk, dk in self.flagged)
        devices = "device is" if self.flagged_count == 1 else "devices are"
        return (
            f"{self.flagged_count} {devices} shared with several recipients while a row uses "
            f"cover mark 1, so each share replaces the previous one (use cover_mark 2 to keep "
            f"them all): {names}"
        )
