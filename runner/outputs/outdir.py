"""Which folders a run may use as its out dir.

A run writes its outputs there and cleans up after itself (stale temporaries, a stale failed
file), so the folder must be one the user owns or can create, never a system or home folder:
`out = "/etc"` must not become a run that deletes files in /etc.
"""

from __future__ import annotations

import os
from pathlib import Path

from runner.errors import UsageError

#: shared temporary folders: refused as out dirs below, never written to (bandit B108 reads them as a temp file use)
_SHARED_TEMP = ("/tmp", "/var/tmp", "/dev/shm")  # nosec B108
#: folders that are never an out dir themselves
SYSTEM_FOLDERS = frozenset({
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt",
    "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/usr", "/var", "/var/lib", "/var/log", *_SHARED_TEMP,
})
#: trees that no out dir may be inside
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin", "/sys",
                "/usr")


def check_out_dir(path: Path) -> None:
    """Refuse, in one line, an out dir that is a system or home folder, not ours, or not writable."""
    resolved = Path(os.path.realpath(path))
    home = Path(os.path.realpath(Path.home()))
    if (str(resolved) in SYSTEM_FOLDERS or resolved == home
            or any(resolved.is_relative_to(tree) for tree in SYSTEM_TREES)):
        raise UsageError(f"{path}: a system or home folder cannot be an out dir (a run writes and cleans up files "
                         "there); give a folder of its own, e.g. out/<job>")
    if resolved.exists():
        if not resolved.is_dir():
            raise UsageError(f"{path}: the out dir is not a folder")
        owner = resolved.stat().st_uid
        if owner != os.geteuid():
            raise UsageError(f"{path}: the out dir belongs to another user (uid {owner}); use a folder of your own")
        if not os.access(resolved, os.W_OK | os.X_OK):
            raise UsageError(f"{path}: the out dir is not writable by you (read-only folder or file system)")
        return
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: cannot create the out dir: {parent} is not writable by you")
