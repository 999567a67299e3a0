"""What ``collect`` already knows about the files in the inbox, so a re-run need not read them.

A unit's return stays in the inbox after it is collected: the next run (late returns, a
corrected file) finds all of them again. Reading, sniffing and hashing 10,000 files only to
learn that they are the ones already recorded took most of such a run. So each run remembers,
per inbox file, its identity on disk and what was learnt from its bytes:

    display path → (device, inode, size, mtime_ns, ctime_ns) → (sniffed kind, SHA-256)

The rule: a later run trusts the remembered kind and hash only when all five identity fields
are unchanged. Whatever rewrites a file changes at least one of them: writing in place changes
the ctime (and usually size and mtime); replacing it (save-as, copy over, rename) changes the
inode and the ctime; ``touch -d``/``os.utime`` can restore an mtime but sets the ctime to now,
and the ctime cannot be set back by a user. Timestamps have a granularity (a few ms on Linux,
2 s on FAT), so a file changed within that tick after it was hashed could keep all five
fields: an entry is therefore kept only if the file's ctime and mtime were at least
:data:`SETTLE_NS` older than the moment its bytes were read (git's "racily clean" rule); a
younger file is read again next time. Symbolic links and zip archives are never remembered
(their members are read again, as before).

The record is ``<workspace>/.cache/inbox-seen.json``, written atomically at the end of a run
and tied to the sniffing code's source (an upgraded tool starts afresh). A missing, damaged or
foreign record only means every file is read again. A file is still read whenever its hash is
not already recorded in the store: the hash only spares reading files that end as duplicates.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from reporting.codehash import tool_version
from reporting.fsutil import atomic_write_text

CACHE_DIR = ".cache"
RECORD = "inbox-seen.json"
FORMAT = 1
#: A file is remembered only if it had not changed for this long when it was stat'ed.
SETTLE_NS = 2_000_000_000

Identity = tuple[int, int, int, int, int]  # device, inode, size, mtime_ns, ctime_ns


def identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class Known:
    """What a previous run learnt from a file's bytes; ``sha256`` is None when it was only
    sniffed (skipped or never hashed)."""

    kind: str
    sha256: str | None = None


def _code_version() -> str:
    """The sniffing code decides the remembered kind: the tool's version is part of the
    record."""
    return f"{FORMAT}:{tool_version()}"


class SeenFiles:
    """The record for one workspace. :meth:`lookup` during the scan, :meth:`remember` as files
    are sniffed and hashed, :meth:`save` at the end (entries of files no longer in the inbox
    are dropped then)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._old: dict[str, tuple[Identity, Known]] = {}
        self._new: dict[str, tuple[Identity, Known]] = {}
        if path is not None:
            self._old = _load(path)

    @classmethod
    def of(cls, root: Path) -> SeenFiles:
        return cls(root / CACHE_DIR / RECORD)

    def lookup(self, display: str, ident: Identity) -> Known | None:
        """What is known about the file at ``display`` if it is still the very same file."""
        entry = self._old.get(display)
        if entry is None or entry[0] != ident:
            return None
        self._new[display] = entry
        return entry[1]

    def remember(self, display: str, ident: Identity, known: Known, stat_ns: int) -> None:
        """Keep what was learnt from the file whose ``os.stat`` (taken just after
        ``stat_ns = time.time_ns()``) gave ``ident``, unless it was too young then to be
        trusted later. Any change after that stat gives the file a later ctime, so bytes read
        after it and hashed (:meth:`hashed`) can be paired with ``ident`` safely: if they
        differ from what the stat saw, ``ident`` never matches again."""
        mtime_ns, ctime_ns = ident[3], ident[4]
        if max(mtime_ns, ctime_ns) > stat_ns - SETTLE_NS:
            self._new.pop(display, None)
            return
        self._new[display] = (ident, known)

    def hashed(self, display: str, sha256: str) -> None:
        """Add the hash to the entry made while sniffing (same run, same bytes: the parent
        checks the hash it reads against the one the worker reads)."""
        entry = self._new.get(display)
        if entry is not None and entry[1].sha256 != sha256:
            self._new[display] = (entry[0], Known(entry[1].kind, sha256))

    def save(self) -> None:
        if self.path is None or self._new == self._old:
            return
        rows = {
            display: [*ident, known.kind, known.sha256]
            for display, (ident, known) in sorted(self._new.items())
        }
        text = json.dumps({"format": FORMAT, "code": _code_version(), "files": rows})
        atomic_write_text(self.path, text)


def _load(path: Path) -> dict[str, tuple[Identity, Known]]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("code") != _code_version():
        return {}
    files = data.get("files")
    out: dict[str, tuple[Identity, Known]] = {}
    if not isinstance(files, dict):
        return out
    for display, row in files.items():
        try:
            *ident, kind, sha = row
            ints = tuple(map(int, ident))
            if len(ints) != 5 or not isinstance(kind, str):
                continue
            if sha is not None and not (isinstance(sha, str) and len(sha) == 64):
                continue
        except (TypeError, ValueError):
            continue
        out[str(display)] = (ints, Known(kind, sha))  # type: ignore[assignment]
    return out
