"""TLS for every connection to the platform: certificates are always verified."""

from __future__ import annotations

import ssl
from pathlib import Path

from runner.errors import UsageError


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Certificates are always verified; --ca-bundle adds the CAs of a corporate proxy."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=str(ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"{ca_bundle}: cannot load the CA bundle: {exc}") from None
    return context
