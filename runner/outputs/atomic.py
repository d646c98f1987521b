"""Write-then-rename, so a reader or a crash never sees half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_writer(
    path: Path, *, binary: bool = False, durable: bool = False
) -> Iterator[IO[Any]]:
    """A temporary file beside `path`; on success it replaces `path` in one rename.

    The file is 0600 (mkstemp's mode): outputs hold recipients' contacts and share codes, the token
    file holds the account (README, Security, says how to share outputs with a group). `durable`
    also syncs the folder, so the rename itself survives a power loss (the token file needs that).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        handle: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        if durable:
            _sync_folder(path.parent)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

