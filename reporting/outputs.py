"""Which written workbooks are still current, so ``report`` need not write them again.

``collate`` and ``rank`` write the summary and ranking workbooks; ``report`` attaches both to
the notice. At 10,000 units writing them takes most of a month's collation time, so each
written workbook is recorded with a fingerprint of everything it was made from:

- the store's revision (rows are only ever added, or replaced by one with a higher id; a new
  return or inspector sheet, and with it any superseding, changes it),
- the plan's content version,
- the parameters (the ``as_of`` day for a ranking),
- the tool itself (:func:`reporting.codehash.tool_version`, so an upgraded tool rewrites).

``report`` writes a workbook again unless the recorded fingerprint matches and the file on
disk still has the recorded SHA-256 (a clerk who opened and re-saved it gets a fresh one).
The record is ``<workspace>/.cache/outputs.json``; deleting it only costs a rewrite.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from reporting.codehash import tool_version
from reporting.fsutil import atomic_write_bytes, atomic_write_text
from reporting.workspace import Workspace

CACHE_DIR = ".cache"
RECORD = "outputs.json"


def fingerprint(kind: str, plan_version: str, store_revision: str, **params: object) -> str:
    text = json.dumps(
        [kind, plan_version, store_revision, tool_version(), sorted(params.items())],
        default=str,
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _record_path(ws: Workspace) -> Path:
    return ws.root / CACHE_DIR / RECORD


def _load(ws: Workspace) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(_record_path(ws).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _key(ws: Workspace, path: Path) -> str:
    try:
        return path.resolve().relative_to(ws.root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def is_current(ws: Workspace, path: Path, print_: str) -> bool:
    """True when ``path`` was written from inputs with fingerprint ``print_`` and is unchanged."""
    entry = _load(ws).get(_key(ws, path))
    if not isinstance(entry, dict) or entry.get("fingerprint") != print_:
        return False
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return hashlib.sha256(data).hexdigest() == entry.get("sha256")


def write(ws: Workspace, path: Path, data: bytes, print_: str) -> None:
    """Write ``data`` to ``path`` (atomically) and record what it was made from."""
    atomic_write_bytes(path, data, durable=False)
    records = _load(ws)
    records[_key(ws, path)] = {
        "fingerprint": print_,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    target = _record_path(ws)
    target.parent.mkdir(exist_ok=True)
    atomic_write_text(target, json.dumps(records, ensure_ascii=False, indent=1))
