"""File writes that never leave a half-written file behind."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from reporting.errors import ReportingError


class WriteFailed(ReportingError, OSError):
    """An output could not be written. On Windows that is most often a file the clerk has open
    in Excel, WPS or Word (an open file cannot be replaced). Still an ``OSError``, so callers
    that write best-effort (caches) keep ignoring it; ``reason`` is the system's own words."""

    def __init__(self, path: Path, exc: OSError) -> None:
        self.path = path
        self.reason = str(exc.strerror or exc)
        super().__init__(
            f"无法写入 {path}（{self.reason}）：文件可能正被 Excel、WPS 或 Word 打开，"
            "或磁盘已满、没有写入权限。关闭该文件后重新运行即可，原有文件没有改动"
        )


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` for the block to write; when the block ends, it takes
    ``path``'s place in one ``os.replace`` (readers see the old file or the new one, never a
    part). On an exception it is removed and ``path`` is left as it was; an ``OSError`` becomes
    :class:`WriteFailed`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise WriteFailed(path, exc) from exc
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, WriteFailed):
            raise WriteFailed(path, exc) from exc
        raise


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through :func:`replacing`. ``durable`` also fsyncs before the
    rename (needed for originals and the store; regenerable outputs can skip the cost)."""
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


_PLATFORM = object()  # SyncQueue's default: the system's syncfs where there is one


class Synced:
    """A file handed to :class:`SyncQueue`: ``done`` once it is on disk or has failed to get
    there (``error``)."""

    __slots__ = ("done", "error", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.done = False
        self.error: OSError | None = None


class SyncQueue:
    """Makes files durable in the background, in batches, so the writers never wait for the disk.

    ``collect``'s workers write each original into the archive without an fsync; the parent
    hands the path here and records the submission only once its ticket is ``done`` without
    ``error``, so "in the store" still means "the original is on disk". A thread takes every
    file queued so far and syncs them together: on Linux 5.8 or later with one ``syncfs`` of each
    folder's file system (which also writes the folder entries the renames made), elsewhere, or
    when ``syncfs`` fails, with an fsync of each file and its folder. One ``syncfs`` for a few files
    costs the disk less than an fsync each (on ext4 every fsync of a new file also writes its
    folder), and the workers' cores stay busy meanwhile (docs/performance.md, "collect 第六轮").

    ``syncfs`` also writes whatever else is waiting on that file system; that only costs the
    thread time, never the writers. Use as a context manager: leaving it waits for the queue.
    """

    def __init__(self, syncfs: Callable[[int], None] | object | None = _PLATFORM) -> None:
        # ``syncfs``: how to flush a whole file system given a descriptor in it; None flushes
        # file by file. By default Linux's own, where there is one.
        if syncfs is _PLATFORM:
            syncfs = _platform_syncfs()
        self._syncfs: Callable[[int], None] | None = syncfs  # type: ignore[assignment]
        self._pending: list[Synced] = []
        self._wake = threading.Condition()
        self._idle = False  # the thread waits for files (only then does add need to wake it)
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sync-queue", daemon=True)
        self._thread.start()

    def add(self, path: str) -> Synced:
        if self._closing:
            raise RuntimeError("SyncQueue is closed")
        ticket = Synced(path)
        # No lock while the thread is busy (a list append is atomic): the thread swaps the list
        # out whole and looks for more before it waits. It says it is idle before it looks, so
        # a file added after that look finds it idle and wakes it.
        self._pending.append(ticket)
        if self._idle:
            with self._wake:
                self._wake.notify()
        return ticket

    def close(self) -> None:
        """Wait until every queued file is synced (or has failed)."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join()

    def __enter__(self) -> SyncQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._idle = True
                while not self._pending and not self._closing:
                    self._wake.wait()
                self._idle = False
                batch, self._pending = self._pending, []
                if not batch:
                    return  # closing, and nothing left
            try:
                self._sync(batch)
            except BaseException as exc:  # never leave a ticket waiting for ever
                for ticket in batch:
                    if not ticket.done:
                        ticket.error = exc if isinstance(exc, OSError) else OSError(str(exc))
                        ticket.done = True

    def _sync(self, batch: list[Synced]) -> None:
        folders: dict[str, list[Synced]] = {}
        for ticket in batch:
            folders.setdefault(os.path.dirname(ticket.path) or ".", []).append(ticket)
        for folder, tickets in folders.items():
            if self._syncfs is not None:
                try:
                    fd = os.open(folder, os.O_RDONLY)
                    try:
                        self._syncfs(fd)
                    finally:
                        os.close(fd)
                except OSError:
                    pass  # each file on its own below
                else:
                    for ticket in tickets:
                        ticket.done = True
                    continue
            for ticket in tickets:
                try:
                    fsync_path(ticket.path)
                except OSError as exc:
                    ticket.error = exc
                ticket.done = True
            _fsync_folder(folder)


def fsync_path(path: str) -> None:
    """Flush a file that is already written (by this process or another) to disk."""
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: str) -> None:
    """Flush a folder's entries (new names) to disk, where the system allows it (not Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _find_syncfs(release: str | None = None) -> Callable[[int], None] | None:
    """Linux's ``syncfs(fd)`` through the C library, or None where there is none or where the
    kernel (``release``, by default the running one) is older than 5.8: before that ``syncfs``
    did not report write errors, so a failing disk would go unnoticed (an fsync reports them)."""
    if not sys.platform.startswith("linux"):
        return None
    version = re.match(r"(\d+)\.(\d+)", release if release is not None else os.uname().release)
    if version is None or (int(version[1]), int(version[2])) < (5, 8):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.syncfs
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int]
    call.restype = ctypes.c_int

    def syncfs(fd: int) -> None:
        if call(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return syncfs


_UNKNOWN = object()
_SYNCFS: object = _UNKNOWN  # found on first use: ctypes would add to every command's start-up


def _platform_syncfs() -> Callable[[int], None] | None:
    global _SYNCFS
    if _SYNCFS is _UNKNOWN:
        _SYNCFS = _find_syncfs()
    return _SYNCFS  # type: ignore[return-value]
