"""The power cut's reading of an strace (tests/chaos/powercut.py), on hand-written trace excerpts."""

from __future__ import annotations

from pathlib import Path

import pytest

from .powercut import DATABASE, SHM, WAL, FileLoss, UnmodelledWrite, cut_power, unsynced_writes

W = "/o/journal.sqlite-wal"
D = "/o/journal.sqlite"
PATHS = {W, D}


def pwrite(pid: int, path: str, count: int, offset: int, end: str = ") = {count}") -> str:
    return f'{pid}  pwrite64(7<{path}>, "\\0\\0\\0\\1"..., {count}, {offset}' + end.format(count=count)


def test_writes_before_a_completed_sync_are_kept_and_those_after_it_are_lost() -> None:
    trace = "\n".join([
        pwrite(10, W, 32, 0),
        "10  fdatasync(7</o/journal.sqlite-wal>) = 0",
        pwrite(10, W, 4120, 32),
        "10  write(3<socket:[12]>, \"POST /v2/binding\"..., 200) = 200",
        pwrite(10, W, 4120, 4152),
    ])
    assert unsynced_writes(trace, PATHS) == {W: FileLoss(synced_end=32, lost=[(32, 4120), (4152, 4120)])}


def test_a_sync_that_never_returned_or_failed_keeps_nothing() -> None:
    trace = "\n".join([
        pwrite(10, W, 100, 0),
        "10  fsync(7</o/journal.sqlite-wal>) = -1 EIO (Input/output error)",
        pwrite(10, W, 50, 100),
        "10  fdatasync(7</o/journal.sqlite-wal> <unfinished ...>) = ?",
        "10  +++ killed by SIGKILL +++",
    ])
    assert unsynced_writes(trace, PATHS) == {W: FileLoss(synced_end=0, lost=[(0, 100), (100, 50)])}


def test_interleaved_threads_a_resumed_write_and_an_unfinished_sync() -> None:
    """Thread 11's write returns while thread 10's sync is out: that sync does not cover it. The last
    sync, which began after the write returned, never returned."""
    trace = "\n".join([
        pwrite(10, W, 24, 0),
        pwrite(11, W, 4096, 24, " <unfinished ...>"),
        "10  fdatasync(7</o/journal.sqlite-wal> <unfinished ...>",
        "11  <... pwrite64 resumed>) = 4096",
        "10  <... fdatasync resumed>) = 0",
        pwrite(11, D, 4096, 0),
        "10  fdatasync(7</o/journal.sqlite-wal> <unfinished ...>",
        "11  fdatasync(9</o/journal.sqlite>) = 0",
        "10  +++ killed by SIGKILL +++",
    ])
    assert unsynced_writes(trace, PATHS) == {
        W: FileLoss(synced_end=24, lost=[(24, 4096)]),
        D: FileLoss(synced_end=4096, lost=[]),
    }


def test_a_write_still_out_or_cut_off_counts_for_the_length_it_asked_and_a_failed_one_for_nothing() -> None:
    trace = "\n".join([
        pwrite(10, W, 4096, 0, ") = -1 ENOSPC (No space left on device)"),
        pwrite(10, W, 4096, 8192, ") = 1000"),  # a short write: what it wrote
        pwrite(11, W, 24, 4096, " <unfinished ...>) = ?"),
        pwrite(10, W, 512, 9192, ""),  # the trace's last line: strace stopped while the call was out
    ])
    assert unsynced_writes(trace, PATHS) == {W: FileLoss(lost=[(8192, 1000), (4096, 24), (9192, 512)])}


def test_other_files_are_left_alone_and_a_write_without_offset_to_the_journal_is_refused() -> None:
    others = "\n".join([
        '10  pwrite64(7</o/report.csv>, "row"..., 3, 0) = 3',
        '10  pwrite64(7</o/journal.sqlite-wal (deleted)>, "x", 1, 0) = 1',
        '10  write(2<pipe:[7]>, "done", 4) = 4',
    ])
    assert unsynced_writes(others, PATHS) == {}
    with pytest.raises(UnmodelledWrite, match=r"journal\.sqlite-wal"):
        unsynced_writes('10  write(7</o/journal.sqlite-wal>, "x", 1) = 1', PATHS)


def test_the_cut_zeroes_lost_bytes_cuts_the_file_back_and_drops_the_shared_memory(tmp_path: Path) -> None:
    wal, shm = tmp_path / WAL, tmp_path / SHM
    wal.write_bytes(b"h" * 32 + b"a" * 100 + b"b" * 100)  # 32 from an earlier run, 100 synced, 100 not
    shm.write_bytes(b"index")
    (tmp_path / DATABASE).write_bytes(b"d" * 10)
    path = str(wal.resolve())
    trace = "\n".join([
        pwrite(10, path, 100, 32),
        pwrite(10, path, 8, 0),
        f"10  fdatasync(7<{path}> <unfinished ...>",
        "11  <... fdatasync resumed>) = 0",  # another thread's: not this call's end
        "10  <... fdatasync resumed>) = 0",
        pwrite(10, path, 100, 132),
    ])
    assert cut_power(tmp_path, trace, {WAL: 32}) == {WAL: 100}
    assert wal.read_bytes() == b"h" * 32 + b"a" * 100
    assert not shm.exists()
    assert (tmp_path / DATABASE).read_bytes() == b"d" * 10

    # no sync at all: a rewrite inside the length on disk is zeroed, the part past it cut off
    rewrite = "\n".join([pwrite(10, path, 8, 0), pwrite(10, path, 40, 120)])
    assert cut_power(tmp_path, rewrite, {WAL: 132}) == {WAL: 48}
    assert wal.read_bytes() == bytes(8) + b"h" * 24 + b"a" * 88 + bytes(12)
