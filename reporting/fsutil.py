"""File writes that never leave a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
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
