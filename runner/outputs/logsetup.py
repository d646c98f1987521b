"""Logging to stderr, for people (text lines) or machines (one JSON object per line).

Every record passes a filter that masks every known secret, anything token-shaped and
recipients' contacts, and escapes control characters (a file name with a newline must not
forge a line), in the message and in every structured field, as a last line of defence.

Structured events are ordinary log records whose `extra` holds `event` and its fields::

    log_event("run_started", "run started: 12 rows to send", job="nightly", to_send=12)

Events that only machines need (run_started, retry, row_failed, run_finished, ...) go to the
`runner.events` logger: the text format shows them only with --debug, so the default human
output does not change; the JSON format shows them all. Events that people see too (the periodic
progress line) are logged where they always were, with their fields in `extra`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, Literal

from runner.events import EVENTS
from runner.outputs.inert import escape_controls
from runner.redact import mask_contacts, redact

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

#: events that --quiet keeps besides warnings and errors: the final summaries
FINAL_EVENTS = frozenset({"run_finished", "inbox_finished"})

# Attributes every LogRecord has; anything else on a record came from `extra` and is a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
}


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a record carries (its `extra`), without the standard attributes."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


def _mask(text: str) -> str:
    return escape_controls(mask_contacts(redact(text)))


def _mask_value(value: Any) -> Any:
    """Masks every string inside a field value; containers are copied, never changed in place."""
    if isinstance(value, str):
        return _mask(value)
    if isinstance(value, dict):
        return {key: _mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Rewrites each record's message and fields with tokens and contacts masked, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _mask(record.getMessage())
        record.args = None
        for key, value in event_fields(record).items():
            setattr(record, key, _mask_value(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC), level, event, message, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = event_fields(record)
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "event": fields.pop("event", "log"),
            "message": record.getMessage(),
        }
        for key, value in fields.items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["traceback"] = mask_contacts(redact(self.formatException(record.exc_info)))
        return json.dumps(entry, ensure_ascii=False, default=str)


def _utc(seconds: float | None) -> time.struct_time:
    return time.gmtime(seconds)


class _TextFormatter(logging.Formatter):
    """The text line, stamped in UTC with its zone (as the summary line is); a traceback (--debug) keeps its
    lines but not the secrets in them."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        self.converter = _utc  # logging.Formatter's clock: UTC, so the `Z` of the date format is true

    def formatException(self, ei: Any) -> str:
        return mask_contacts(redact(super().formatException(ei)))


class _TextEvents(logging.Filter):
    """The text format leaves machine-only events out, unless --debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(EVENTS.name)


class _JsonThreshold(logging.Filter):
    """The JSON format shows every event, and other records from `level` up; --quiet keeps the finals."""

    def __init__(self, level: int, *, quiet: bool) -> None:
        super().__init__()
        self._level = level
        self._quiet = quiet

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self._level:
            return True
        event = getattr(record, "event", None)
        if event is None:
            return False
        return event in FINAL_EVENTS if self._quiet else True


def configure_logging(*, debug: bool = False, log_format: LogFormat = "text", quiet: bool = False) -> None:
    """Send the `runner` loggers to stderr in the chosen format.

    --quiet leaves warnings, errors and the final summary; --debug wins over it.
    """
    handler = logging.StreamHandler(sys.stderr)
    threshold = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        handler.addFilter(_JsonThreshold(threshold, quiet=quiet and not debug))
    else:
        handler.setFormatter(_TextFormatter())
        handler.setLevel(threshold)
        if not debug:
            handler.addFilter(_TextEvents())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("runner")
    root.handlers[:] = [handler]
    # Records are made down to INFO even under --quiet: the handler's filters choose what shows.
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
