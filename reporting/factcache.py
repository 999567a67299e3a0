"""A month's facts and ranking kept between commands (``<workspace>/.cache/facts/``).

``collate``, ``rank`` and ``report`` (and ``status``, ``inspect``) each need the month's facts
read from the store (:func:`reporting.collate.facts.load_month`, 1.4 s at 10,000 units), and
``rank`` and ``report`` the ranking (0.8 s). The first command to compute them keeps them; the
next reads them back in a fraction of that when nothing they were made from has changed:

- the store's revision (rows are only ever added, or replaced by one with a higher id when a
  rejected return is checked again; a new return or its superseding changes it),
- the plan's content version and the period (and for a ranking the as-of day),
- the tool itself: a hash of every module of ``reporting/`` and the Python version.

The files are pickles, and reading a pickle can run code, so each carries an HMAC-SHA256 made
with a key derived from the workspace's secret (``.form-key``, see docs/security.md): a file
that does not verify (copied from another workspace, edited, truncated) is ignored and the
facts are computed again. Deleting the folder only costs that time.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from reporting.codehash import tool_version
from reporting.errors import WorkspaceError
from reporting.fsutil import atomic_write_bytes
from reporting.gcpause import paused_gc
from reporting.workspace import Workspace

FOLDER = Path(".cache") / "facts"
MAGIC = b"reporting-facts 1\n"
T = TypeVar("T")


def _key(ws: Workspace) -> bytes | None:
    """The signing key, or None when the workspace has no usable secret (a damaged
    ``.form-key``, a read-only folder): then nothing is kept or read, the commands that need
    no key go on as they did before there was a cache."""
    try:
        secret = ws.form_key()
    except (WorkspaceError, OSError, ValueError):
        return None
    return hmac.new(secret, b"fact cache", hashlib.sha256).digest()


def _path(ws: Workspace, name: str) -> Path:
    return ws.root / FOLDER / f"{name}.pickle"


def _identity(name: str, made_from: tuple[object, ...]) -> bytes:
    return repr((name, tool_version(), *made_from)).encode()


def load(ws: Workspace, name: str, made_from: tuple[object, ...]) -> Any | None:
    """The object kept as ``name`` from exactly ``made_from``, or None."""
    try:
        data = _path(ws, name).read_bytes()
    except OSError:
        return None
    key = _key(ws)
    if key is None or not data.startswith(MAGIC):
        return None
    mac, payload = data[len(MAGIC) : len(MAGIC) + 32], data[len(MAGIC) + 32 :]
    expected = hmac.new(key, _identity(name, made_from) + b"\0" + payload, hashlib.sha256)
    if not hmac.compare_digest(mac, expected.digest()):
        return None  # made from something else, or not by this workspace
    try:
        with paused_gc():  # a million objects at 10,000 units
            return pickle.loads(payload)
    except Exception:  # verified but unreadable: e.g. a class renamed since; compute again
        return None


def save(ws: Workspace, name: str, made_from: tuple[object, ...], obj: object) -> None:
    """Keep ``obj`` as ``name``; a failure to keep it only costs the next command time."""
    key = _key(ws)
    if key is None:
        return
    try:
        with paused_gc():
            payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return
    mac = hmac.new(key, _identity(name, made_from) + b"\0" + payload, hashlib.sha256)
    path = _path(ws, name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, MAGIC + mac.digest() + payload, durable=False)
    except OSError:
        pass


def kept(ws: Workspace, name: str, made_from: tuple[object, ...], make: Callable[[], T]) -> T:
    """The object kept as ``name`` from ``made_from``, or ``make()`` (then kept)."""
    found = load(ws, name, made_from)
    if found is not None:
        return found  # type: ignore[no-any-return]
    made = make()
    save(ws, name, made_from, made)
    return made
