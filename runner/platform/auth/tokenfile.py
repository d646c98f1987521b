"""The token file: the latest access and refresh tokens, so the next cron run starts fresh.

The platform spends the old refresh token when it hands out a new pair, so a new pair that is
not saved is an account lost until someone logs in by hand. Saving therefore never fails a run:
the pair goes to the token file (through a symlink to its target, atomically, fsynced), else to
a fallback beside it (`token.json.unsaved`), else to one in the user's state folder; the next run
reads every one of them and takes the newest pair. When none can be written the run keeps the
pair in memory, finishes, and says what to do.

Every copy is created 0600; a token file that others may read is refused, as ssh refuses a key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from runner.errors import UsageError
from runner.outputs.atomic import atomic_writer
from runner.platform.auth.pair import TokenPair
from runner.redact import Secret, has_line_break

log = logging.getLogger(__name__)

FILE_VERSION = 1
UNSAVED_SUFFIX = ".unsaved"
_HINT = "run `sharebatch login ... --token-file PATH` first"


def default_token_file() -> Path:
    """$XDG_CONFIG_HOME/sharebatch/token.json, else ~/.config/sharebatch/token.json."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sharebatch" / "token.json"


def state_folder() -> Path:
    """$XDG_STATE_HOME/sharebatch, else ~/.local/state/sharebatch: the last-resort fallback's home."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "sharebatch"


def real_path(path: Path) -> Path:
    """The file a (possibly symlinked) token file really is, so a save updates it through the link."""
    return Path(os.path.realpath(path))


def fallback_paths(path: Path) -> list[Path]:
    """Where a pair goes when `path` cannot be written, in the order they are tried."""
    target = real_path(path)
    digest = hashlib.sha256(str(target).encode("utf-8")).hexdigest()[:16]
    return [target.with_name(target.name + UNSAVED_SUFFIX),
            state_folder() / "unsaved-tokens" / f"{digest}.json"]


def save_tokens(path: Path, pair: TokenPair, *, base_url: str) -> None:
    """Write the pair to `path` (through a symlink), 0600, durably; OSError when that is impossible."""
    target = real_path(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with atomic_writer(target, durable=True) as handle:
        json.dump(_content(pair, base_url), handle, indent=2)
        handle.write("\n")


def save_tokens_somewhere(path: Path, pair: TokenPair, *, base_url: str) -> Path | None:
    """Save the pair to the token file or, failing that, to a fallback; never raises OSError.

    Returns where the pair went, None when nowhere; logs what happened and what to do.
    """
    try:
        save_tokens(path, pair, base_url=base_url)
    except OSError as exc:
        first_reason = _reason(exc)
    else:
        for stale in fallback_paths(path):  # older than the pair just saved
            _remove_quietly(stale)
        return path
    for fallback in fallback_paths(path):
        try:
            save_tokens(fallback, pair, base_url=base_url)
        except OSError:
            continue
        log.warning("could not write the new tokens to %s (%s); saved them to %s instead, where the next run "
                    "finds them; make %s writable to stop this", path, first_reason, fallback, path.parent)
        return fallback
    log.error("could not write the new tokens to %s (%s) nor to %s; the run goes on with them in memory, but the "
              "old refresh token is spent: make %s writable, then run `sharebatch login --token-file %s` before "
              "the next run", path, first_reason, " or ".join(map(str, fallback_paths(path))), path.parent, path)
    return None


def load_tokens(path: Path) -> tuple[TokenPair, str | None]:
    """The newest pair of the token file and its fallbacks, and the base URL it belongs to.

    A UsageError says how to get a usable file. A newer fallback is moved back into the token
    file when that is now possible.
    """
    pair, base_url = _read(path)
    newest: tuple[Path, TokenPair, str | None] = (path, pair, base_url)
    for fallback in fallback_paths(path):
        if not fallback.exists():
            continue
        try:
            candidate, candidate_url = _read(fallback)
        except UsageError as exc:
            log.warning("ignoring a fallback token file: %s", exc)
            continue
        if candidate_url == base_url and candidate.obtained_at > newest[1].obtained_at:
            newest = (fallback, candidate, candidate_url)
    source, pair, base_url = newest
    if source != path:
        log.info("using the newer tokens saved in %s by an earlier run that could not write %s", source, path)
        if base_url is not None:
            save_tokens_somewhere(path, pair, base_url=base_url)
    elif not os.access(real_path(path).parent, os.W_OK | os.X_OK):
        # Said before the platform spends the refresh token, so the operator can fix it in time.
        log.warning("%s is in a folder this run cannot write: a refreshed pair will be saved to %s instead",
                    path, " or ".join(map(str, fallback_paths(path))))
    return pair, base_url


def _read(path: Path) -> tuple[TokenPair, str | None]:
    try:
        info = path.stat()
        _check_private(path, info)
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: token file not found; {_HINT}") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a token file"
        raise UsageError(f"{path}: cannot read the token file ({reason}); {_HINT}") from None
    try:
        pair = TokenPair(
            access_token=Secret(str(content["access_token"])),
            access_expires_at=float(content["access_expires_at"]),
            refresh_token=Secret(str(content["refresh_token"])),
            refresh_expires_at=float(content["refresh_expires_at"]),
            obtained_at=float(content.get("obtained_at", 0.0)),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UsageError(f"{path}: not a sharebatch token file; {_HINT}") from None
    if has_line_break(pair.access_token.reveal()) or has_line_break(pair.refresh_token.reveal()):
        raise UsageError(f"{path}: a token in this file contains a line break or control character; {_HINT}")
    base_url = content.get("base_url")
    return pair, str(base_url) if base_url else None


def _check_private(path: Path, info: os.stat_result) -> None:
    """Refuse a token file that the group or others may read or change (ssh's rule for keys)."""
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise UsageError(f"{path}: the token file is open to other users (mode {mode:04o}); its tokens act for "
                         f"the account: run `chmod 600 {path}`, then run again; nothing was sent")


def _content(pair: TokenPair, base_url: str) -> dict[str, Any]:
    return {
        "version": FILE_VERSION,
        "base_url": base_url,
        "access_token": pair.access_token.reveal(),
        "access_expires_at": pair.access_expires_at,
        "refresh_token": pair.refresh_token.reveal(),
        "refresh_expires_at": pair.refresh_expires_at,
        "obtained_at": pair.obtained_at,
    }


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _remove_quietly(path: Path) -> None:
    # a stale fallback left behind is harmless: the token file's pair is newer and wins on load
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
