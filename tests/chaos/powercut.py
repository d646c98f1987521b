"""A power cut for the chaos episodes: the journal loses exactly the writes that were not yet fsynced.

A killed process loses nothing the kernel already holds; an OS crash or a power cut loses every
write still in the page cache. The killed CLI ran under `strace`, so its trace says which
`pwrite64` to the journal's files completed before a `fsync`/`fdatasync` of the same file began
(on disk) and which did not (lost). Those ranges are zeroed, a file an unsynced write made longer
is cut back to its length at its last sync, and the `-shm` index is deleted (shared memory,
rebuilt from the WAL on open). Zeroing stands in for "never reached the disk": SQLite only
overwrites bytes that the synced WAL or a finished checkpoint has made obsolete, so the old bytes
a real disk would keep there are never read either.

What is left out: directory entries (a file created, renamed or deleted since the last directory
sync), and writes by earlier runs, which the OS had time to write back (taken as on disk).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runner.engine.journal import JOURNAL_FILES

#: the system calls the trace needs: SQLite writes its files with pwrite64 (write() to one is an error below)
TRACED = "pwrite64,write,fsync,fdatasync"
DATABASE, WAL, SHM = JOURNAL_FILES
#: the files that lose their unsynced writes: the database, its WAL and the rollback journal of its first open
MODELLED = (DATABASE, WAL, f"{DATABASE}-journal")

_LINE = re.compile(r"^(?:(?P<pid>\d+)\s+)?(?P<rest>.*)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<args>.*?)\)\s+= (?P<result>.*)$")
_UNFINISHED = re.compile(r"^(?P<name>\w+)\((?P<args>.*?)\s*<unfinished \.\.\.>\)?(?:\s+= (?P<result>.*))?$")
_COMPLETE = re.compile(r"^(?P<name>\w+)\((?P<args>.*)\)\s+= (?P<result>.*)$")
_STARTED = re.compile(r"^(?P<name>\w+)\((?P<args>.*)$")  # the last line of a trace cut while the call was out
_FD = re.compile(r"^\d+<(?P<path>[^>]*)>")
_PWRITE = re.compile(r'^\d+<(?P<path>[^>]*)>, ".*"(?:\.\.\.)?, (?P<count>\d+), (?P<offset>\d+)$')


class UnmodelledWrite(ValueError):
    """A journal file written in a way the model cannot place (write() has no offset in the trace)."""


@dataclass
class _Call:
    name: str
    path: str
    entered: int
    count: int = 0
    offset: int = 0
    exited: int | None = None  # None: the call never returned (the process died with it out)
    result: str = "?"


@dataclass
class FileLoss:
    """What a power cut takes from one file: its size at its last sync (None: never synced in the trace)."""

    synced_end: int = 0
    lost: list[tuple[int, int]] = field(default_factory=list)  # (offset, length) of each unsynced write


def _events(trace: str) -> Iterator[tuple[str, str, str, str | None]]:
    """(pid, kind, name, args or result) per line: kind is entry, exit or call (both at once)."""
    for line in trace.splitlines():
        match = _LINE.match(line.strip())
        if match is None or not match["rest"]:
            continue
        pid, rest = match["pid"] or "", match["rest"]
        if resumed := _RESUMED.match(rest):
            yield pid, "exit", resumed["name"], resumed["result"]
        elif unfinished := _UNFINISHED.match(rest):
            yield pid, "entry", unfinished["name"], unfinished["args"]
            if unfinished["result"] is not None:  # `<unfinished ...>) = ?`: the process died in the call
                yield pid, "exit", unfinished["name"], unfinished["result"]
        elif complete := _COMPLETE.match(rest):
            yield pid, "entry", complete["name"], complete["args"]
            yield pid, "exit", complete["name"], complete["result"]
        elif started := _STARTED.match(rest):
            yield pid, "entry", started["name"], started["args"]


def _calls(trace: str, paths: Collection[str]) -> list[_Call]:
    """The calls on `paths`, in the order they entered, each with the instant it returned (if it did)."""
    calls: list[_Call] = []
    out: dict[str, _Call | None] = {}
    for instant, (pid, kind, name, text) in enumerate(_events(trace)):
        if kind == "exit":
            call = out.pop(pid, None)
            result = (text or "?").strip()
            if call is not None and call.name == name and not result.startswith("?"):  # `= ?`: died in the call
                call.exited, call.result = instant, result
            continue
        out[pid] = None
        fd = _FD.match(text or "")
        if fd is None or fd["path"] not in paths:
            continue
        if name == "write":
            raise UnmodelledWrite(f"write() to {fd['path']}: the trace has no offset for it")
        call = _Call(name, fd["path"], instant)
        if name == "pwrite64":
            pwrite = _PWRITE.match(text or "")
            if pwrite is None:
                continue  # cut off while strace was printing it: the call had not been let run yet
            call.count, call.offset = int(pwrite["count"]), int(pwrite["offset"])
        calls.append(call)
        out[pid] = call
    return calls


def unsynced_writes(trace: str, paths: Collection[str]) -> dict[str, FileLoss]:
    """Per file of `paths`: the writes a power cut at the end of `trace` loses, and the size it keeps.

    A write is on disk when it returned before a sync of the same file began and that sync returned
    0. A write that never returned counts as lost for the length it asked; one that failed wrote nothing.
    """
    calls = _calls(trace, paths)
    synced_from: dict[str, int] = {}  # per file: when the last sync that completed began
    for call in calls:
        if call.name in ("fsync", "fdatasync") and call.exited is not None and call.result.startswith("0"):
            synced_from[call.path] = max(synced_from.get(call.path, -1), call.entered)
    losses: dict[str, FileLoss] = {}
    for call in calls:
        if call.name != "pwrite64" or call.result.startswith("-1"):
            continue
        loss = losses.setdefault(call.path, FileLoss())
        written = int(call.result) if call.result.isdigit() else call.count
        if call.exited is not None and call.exited < synced_from.get(call.path, -1):
            loss.synced_end = max(loss.synced_end, call.offset + written)
        else:
            loss.lost.append((call.offset, written))
    return losses


def cut_power(folder: Path, trace: str, sizes_before: dict[str, int]) -> dict[str, int]:
    """Take from the journal files in `folder` what a power cut would; bytes lost per file name.

    `sizes_before`: each file's size when the traced process started (what earlier runs left on disk).
    """
    files = {str((folder / name).resolve()): name for name in MODELLED}
    lost: dict[str, int] = {}
    for path, loss in unsynced_writes(trace, files).items():
        name = files[path]
        if not os.path.exists(path) or not loss.lost:
            continue
        keep = max(sizes_before.get(name, 0), loss.synced_end)
        with open(path, "r+b") as handle:
            for offset, length in loss.lost:
                if offset < keep:
                    handle.seek(offset)
                    handle.write(bytes(min(length, keep - offset)))
            if os.fstat(handle.fileno()).st_size > keep:
                handle.truncate(keep)
        lost[name] = sum(length for _, length in loss.lost)
    (folder / SHM).unlink(missing_ok=True)
    return lost


@functools.cache
def strace_available() -> bool:
    """strace is installed and may trace here (a container can forbid ptrace)."""
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-qq", "-o", os.devnull, "true"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def traced(command: list[str], trace: Path) -> list[str]:
    """`command` under strace, following its threads and children, the journal's calls written to `trace`."""
    return ["strace", "-f", "-qq", "-y", "-e", f"trace={TRACED}", "-o", str(trace), *command]
