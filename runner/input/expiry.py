"""Turn an expiry cell into the epoch milliseconds the platform's `sharingExpireAt` wants.

Accepted: empty (a permanent share), epoch ms (13 digits), epoch seconds (10 digits), a date
(`2027-01-31`: the end of that day), an ISO 8601 date-time (`2027-01-31T12:00:00Z`, `+08:00`, or
naive; a space may replace the `T`), and a span from the run's start (`30d`, `12h`, `2w`, `90m`).
Dates and naive date-times are read in the job's timezone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runner.errors import ExpiryError

#: what an unreadable expiry message suggests instead
EXPIRY_FORMS = "use YYYY-MM-DD, ISO 8601, epoch ms/s, or 30d/12h/2w/90m"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)
_RELATIVE = re.compile(r"^(\d{1,9})\s*([mhdw])$", re.IGNORECASE)
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_END_OF_DAY = time(23, 59, 59, 999_000)
_CACHE_LIMIT = 10_000
_LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last instant datetime can show


def load_timezone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError with a one-line message if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown timezone "{name}" (use an IANA name such as UTC or Asia/Shanghai)') from None


def to_epoch_ms(moment: datetime) -> int:
    """Exact integer milliseconds of an aware datetime (no float rounding)."""
    return (moment - _EPOCH) // _ONE_MS


class ExpiryParser:
    """Reads expiry cells for one run: one timezone, one start instant.

    >>> parser = ExpiryParser(ZoneInfo("UTC"), anchor_ms=0)
    >>> parser.parse("1970-01-02")
    172799999
    """

    def __init__(self, tz: tzinfo, anchor_ms: int) -> None:
        self.tz = tz
        self.anchor_ms = anchor_ms
        # Big files repeat the same few expiries; the cache keeps zone arithmetic off the hot path.
        self._cache: dict[str, int] = {}

    def parse(self, text: str) -> int | None:
        """Epoch ms for a cell, None for an empty one; ExpiryError if unreadable or not in the future."""
        cell = text.strip()
        if not cell:
            return None
        cached = self._cache.get(cell)
        if cached is not None:
            return cached
        expire_at_ms = self._convert(cell)
        if expire_at_ms > _LATEST_MS:
            raise ExpiryError(f'expiry "{cell}" is too far in the future (after the year 9999)')
        if expire_at_ms <= self.anchor_ms:
            moment = datetime.fromtimestamp(expire_at_ms / 1000, self.tz).isoformat(timespec="seconds")
            raise ExpiryError(f'expiry "{cell}" is in the past ({moment} is not after the run start)')
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[cell] = expire_at_ms
        return expire_at_ms

    def _convert(self, cell: str) -> int:
        if cell.isascii() and cell.isdigit():
            if len(cell) == 13:
                return int(cell)
            if len(cell) == 10:
                return int(cell) * 1000
        elif relative := _RELATIVE.match(cell):
            count, unit = relative.groups()
            return self.anchor_ms + int(count) * _UNIT_MS[unit.lower()]
        elif _DATE.match(cell):
            return self._end_of_day(cell)
        elif _DATETIME.match(cell):
            return self._instant(cell)
        raise ExpiryError(f'expiry "{cell}" is not a date ({EXPIRY_FORMS})')

    def _end_of_day(self, cell: str) -> int:
        try:
            day = datetime.fromisoformat(cell).date()
        except ValueError:
            raise ExpiryError(f'expiry "{cell}" is not a date ({EXPIRY_FORMS})') from None
        return to_epoch_ms(datetime.combine(day, _END_OF_DAY, self.tz))

    def _instant(self, cell: str) -> int:
        iso = cell.upper().replace(",", ".")
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            raise ExpiryError(f'expiry "{cell}" is not a date ({EXPIRY_FORMS})') from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return to_epoch_ms(moment)
