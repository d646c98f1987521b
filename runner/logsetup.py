"""Logging to stderr, with a filter that masks anything token-shaped as a last line of defence."""

from __future__ import annotations

import logging
import sys

from runner.secrets import mask_contacts, redact


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with tokens and recipients' contacts masked, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_contacts(redact(record.getMessage()))
        record.args = None
        return True


def configure_logging(*, debug: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("runner")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
