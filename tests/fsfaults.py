"""Read-only folders that hold for root too (CI runs the suite as root, and root ignores mode bits)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path


def _chattr(folder: Path, flag: str) -> bool:
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, str(folder)], capture_output=True, check=False)
    return done.returncode == 0


def make_read_only(folder: Path) -> Callable[[], None] | None:
    """Make `folder` refuse new, renamed and removed files; returns how to undo it, None if impossible.

    `chattr +i` (an immutable folder: not even root may change its entries) where the file system
    and capabilities allow it; else mode 0500 when not root; else None (root without chattr).
    """
    if _chattr(folder, "+i"):
        return lambda: (_chattr(folder, "-i"), None)[1]
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return lambda: folder.chmod(0o700)
    return None
