"""The token file: the latest access and refresh tokens, so the next cron run starts fresh.

Created with mode 0600 and rewritten atomically after every refresh; a crash never leaves half a
file, and another user on the machine cannot read it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from runner.errors import UsageError
from runner.outputs.atomic import atomic_writer
from runner.platform.auth.api import TokenPair
from runner.redact import Secret

FILE_VERSION = 1


def default_token_file() -> Path:
    """$XDG_CONFIG_HOME/sharebatch/token.json, else ~/.config/sharebatch/token.json."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sharebatch" / "token.json"


def save_tokens(path: Path, pair: TokenPair, *, base_url: str) -> None:
    content = {
        "version": FILE_VERSION,
        "base_url": base_url,
        "access_token": pair.access_token.reveal(),
        "access_expires_at": pair.access_expires_at,
        "refresh_token": pair.refresh_token.reveal(),
        "refresh_expires_at": pair.refresh_expires_at,
        "obtained_at": pair.obtained_at,
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with atomic_writer(path, private=True) as handle:
        json.dump(content, handle, indent=2)
        handle.write("\n")
    os.chmod(path, 0o600)


def load_tokens(path: Path) -> tuple[TokenPair, str | None]:
    """The pair and the base URL it belongs to; a UsageError says how to get a usable file."""
    hint = "run `sharebatch login ... --token-file PATH` first"
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: token file not found; {hint}") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a token file"
        raise UsageError(f"{path}: cannot read the token file ({reason}); {hint}") from None
    try:
        pair = TokenPair(
            access_token=Secret(str(content["access_token"])),
            access_expires_at=float(content["access_expires_at"]),
            refresh_token=Secret(str(content["refresh_token"])),
            refresh_expires_at=float(content["refresh_expires_at"]),
            obtained_at=float(content.get("obtained_at", 0.0)),
        )
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{path}: not a sharebatch token file; {hint}") from None
    base_url = content.get("base_url")
    return pair, str(base_url) if base_url else None
