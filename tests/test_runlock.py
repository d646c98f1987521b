"""Reading an out dir's lock holder without taking the lock."""

from __future__ import annotations

import os
from pathlib import Path

from runner.engine.runlock import RunLock, _held_in_proc_locks, active_holder


def test_no_lock_file_means_no_holder(tmp_path: Path) -> None:
    assert active_holder(tmp_path) is None


def test_a_held_lock_names_its_holder_and_a_released_one_none(tmp_path: Path) -> None:
    with RunLock(tmp_path):
        holder = active_holder(tmp_path)
        assert holder is not None
        assert holder.pid == os.getpid()
    assert active_holder(tmp_path) is None
    assert (tmp_path / "run.lock").read_text()  # the file still names the last holder; it is not a lock


def test_the_kernel_table_is_matched_by_device_and_inode_and_waiters_do_not_count(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    lock.write_text("{}")
    identity = os.stat(lock)
    where = f"{os.major(identity.st_dev):02x}:{os.minor(identity.st_dev):02x}:{identity.st_ino}"
    table = tmp_path / "locks"
    table.write_text(f"1: POSIX  ADVISORY  WRITE 10 {where} 0 EOF\n1: -> FLOCK  ADVISORY  WRITE 11 {where} 0 EOF\n")
    assert _held_in_proc_locks(identity, table) is False
    table.write_text(f"2: FLOCK  ADVISORY  WRITE 12 {where} 0 EOF\n")
    assert _held_in_proc_locks(identity, table) is True
    assert _held_in_proc_locks(identity, tmp_path / "missing") is None
