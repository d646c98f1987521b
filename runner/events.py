"""Structured events: ordinary log records on the `runner.events` logger, fields in `extra`.

Any layer may log an event; how it is shown (text or JSON, masked) is runner.outputs.logsetup's
business, so the engine logs events without importing the outputs layer.
"""

from __future__ import annotations

import logging
from typing import Any

#: machine-only events; hidden from the text format unless --debug
EVENTS = logging.getLogger("runner.events")


def log_event(event: str, message: str, /, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log a machine-only event; `message` is the line a person reads with --debug."""
    EVENTS.log(level, message, extra={"event": event, **fields})
