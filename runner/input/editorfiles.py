"""Files an editor leaves beside a workbook while it is open: never input, whatever the glob says.

Excel writes `~$book.xlsx`, LibreOffice `.~lock.book.ods#`; other tools leave dotfiles and `*.tmp`
files while they save. A cron inbox must skip them, and a run given one must say so in one line.
"""

from __future__ import annotations

import os
from pathlib import Path


def editor_file_kind(name: str) -> str | None:
    """What kind of editor file `name` is, or None for an ordinary file."""
    if name.startswith("~$"):
        return "Excel's lock file (Excel writes it while the workbook is open)"
    if name.startswith(".~lock.") and name.endswith("#"):
        return "LibreOffice's lock file (LibreOffice writes it while the document is open)"
    if name.startswith("."):
        return "a hidden file (an upload or a save in progress)"
    if name.lower().endswith(".tmp"):
        return "a temporary file (a save in progress)"
    return None


def real_document(name: str) -> str:
    """The document an editor lock file stands beside: `~$book.xlsx` -> `book.xlsx`."""
    if name.startswith("~$"):
        return name[2:]
    if name.startswith(".~lock.") and name.endswith("#"):
        return name[len(".~lock."):-1]
    return name


def user_path(text: str) -> Path:
    """`text` as a path with a leading `~` or `~user` expanded; a name such as `~$book.xlsx` stays as it is.

    Path.expanduser raises RuntimeError for `~$book` (no such user); os.path.expanduser leaves it.
    """
    return Path(os.path.expanduser(text))
