"""SyncQueue: files written without an fsync are flushed to disk in the background, in batches,
and a ticket says ``done`` only once its file is on disk (or has failed to get there)."""

from __future__ import annotations

import errno
import os
import sys
import threading
from pathlib import Path

import pytest

from reporting import fsutil
from reporting.fsutil import SyncQueue


def _files(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"f{i}.xlsx"
        path.write_bytes(b"x" * (i + 1))
        paths.append(str(path))
    return paths


def test_tickets_are_done_only_after_their_batch_is_synced(tmp_path: Path) -> None:
    gate = threading.Event()
    calls: list[int] = []

    def syncfs(fd: int) -> None:
        gate.wait(10)
        calls.append(fd)

    with SyncQueue(syncfs=syncfs) as queue:
        tickets = [queue.add(p) for p in _files(tmp_path / "a", 5)]
        assert not any(t.done for t in tickets)  # the disk has not answered yet
        gate.set()
    assert all(t.done and t.error is None for t in tickets)
    assert 1 <= len(calls) <= 5  # files queued together share one call


def test_one_syncfs_per_folder_in_a_batch(tmp_path: Path) -> None:
    gate = threading.Event()
    folders: list[str] = []

    def syncfs(fd: int) -> None:
        gate.wait(10)
        folders.append(os.readlink(f"/proc/self/fd/{fd}"))

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name the synced folder")
    with SyncQueue(syncfs=syncfs) as queue:
        first = queue.add(_files(tmp_path / "hold", 1)[0])  # the thread waits on this one
        rest = [queue.add(p) for p in _files(tmp_path / "a", 3) + _files(tmp_path / "b", 2)]
        gate.set()
    assert all(t.done and t.error is None for t in [first, *rest])
    assert folders == [str(tmp_path / "hold"), str(tmp_path / "a"), str(tmp_path / "b")]


def test_without_syncfs_each_file_and_its_folder_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name the synced file")
    monkeypatch.setattr(fsutil, "_SYNCFS", None)  # as on Windows and macOS
    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    paths = _files(tmp_path / "a", 3)
    with SyncQueue() as queue:  # the platform's way, here none
        tickets = [queue.add(p) for p in paths]
    assert all(t.done and t.error is None for t in tickets)
    assert set(synced) == {*paths, str(tmp_path / "a")}


def test_a_failing_syncfs_falls_back_to_fsync_and_a_failing_fsync_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    fsynced: list[str] = []
    monkeypatch.setattr(fsutil, "fsync_path", fsynced.append)
    paths = _files(tmp_path / "a", 2)
    with SyncQueue(syncfs=broken) as queue:
        tickets = [queue.add(p) for p in paths]
    assert all(t.done and t.error is None for t in tickets)
    assert fsynced == paths

    def failing(path: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil, "fsync_path", failing)
    with SyncQueue(syncfs=broken) as queue:
        tickets = [queue.add(p) for p in paths]
    assert all(t.done for t in tickets)
    assert [t.error.errno for t in tickets if t.error] == [errno.ENOSPC, errno.ENOSPC]


def test_a_file_that_is_gone_fails_its_ticket_only(tmp_path: Path) -> None:
    paths = _files(tmp_path / "a", 2)
    with SyncQueue(syncfs=None) as queue:  # file by file: one missing file fails alone
        gone = queue.add(str(tmp_path / "a" / "missing.xlsx"))
        kept = queue.add(paths[0])
    assert gone.done and isinstance(gone.error, FileNotFoundError)
    assert kept.done and kept.error is None


def test_a_closed_queue_takes_nothing_more(tmp_path: Path) -> None:
    queue = SyncQueue()
    queue.close()
    with pytest.raises(RuntimeError):
        queue.add(str(tmp_path / "x"))


def test_a_file_added_while_the_thread_waits_or_works_is_synced_without_closing(
    tmp_path: Path,
) -> None:
    # add() takes no lock while the thread is busy: no file may be left waiting for a wake-up
    import time

    paths = _files(tmp_path / "a", 50)
    with SyncQueue(syncfs=lambda fd: time.sleep(0.0005)) as queue:
        for i, path in enumerate(paths):
            ticket = queue.add(path)
            if i % 3:  # sometimes the next file comes while the thread is still syncing
                continue
            deadline = time.monotonic() + 5
            while not ticket.done and time.monotonic() < deadline:
                time.sleep(0.0002)
            assert ticket.done, f"file {i} was never synced"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_syncfs_only_on_kernels_that_report_write_errors() -> None:
    # before Linux 5.8 syncfs returned 0 even when the disk failed to write: fsync each file
    assert fsutil._find_syncfs("5.4.0-150-generic") is None
    assert fsutil._find_syncfs("4.19.0") is None
    assert fsutil._find_syncfs("not a version") is None
    assert fsutil._find_syncfs("5.8.0") is not None
    assert fsutil._find_syncfs("6.18.44-fc-v769") is not None
