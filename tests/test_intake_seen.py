"""collect remembers the inbox files it has read (reporting.intake.seen): a re-run does not read
unchanged files again, and a file changed in any way is read again."""

from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from reporting.intake import seen as seen_mod
from reporting.intake import sources
from reporting.intake.seen import Known, SeenFiles, identity
from tests.conftest import Office

ON_TIME = datetime(2014, 6, 3, 10, 0)
LATER = datetime(2014, 6, 4, 9, 0)


@pytest.fixture
def settled(monkeypatch):
    """Files made by a test are milliseconds old: let them count as settled."""
    monkeypatch.setattr(seen_mod, "SETTLE_NS", 0)


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The names of the inbox files the parent opens (to sniff or to read them)."""
    opened: list[str] = []
    real_open = sources._open_regular

    def open_regular(path):
        opened.append(path.name)
        return real_open(path)

    monkeypatch.setattr(sources, "_open_regular", open_regular)
    return opened


def _record(office: Office) -> dict:
    path = office.ws.root / ".cache" / "inbox-seen.json"
    return json.loads(path.read_text("utf-8"))["files"]


def _padded(data: bytes, size: int) -> bytes:
    """``data`` (a zip) grown to exactly ``size`` bytes with a zip comment."""
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.comment = b" " * (size - len(data))
    out = buf.getvalue()
    assert len(out) == size
    return out


def _states(result) -> list[tuple]:
    return [(f.path, f.state, f.unit, f.period, f.note, f.processed_before) for f in result.files]


def test_rerun_reads_no_unchanged_file_and_reports_the_same(office: Office, settled, reads):
    office.drop("a.xlsx", office.filled("SX01"))
    office.drop("副本/a (1).xlsx", office.filled("SX01"))
    office.drop("scan.pdf", b"%PDF-1.4 not a return")
    office.collect(received_at=ON_TIME)
    assert set(_record(office)) == {"a.xlsx", "副本/a (1).xlsx", "scan.pdf"}
    reads.clear()

    again = office.collect(received_at=LATER)
    assert reads == []  # neither sniffed nor read nor hashed again
    # The same report as a run that knows nothing (record deleted).
    (office.ws.root / ".cache" / "inbox-seen.json").unlink()
    cold = office.collect(received_at=LATER)
    assert reads  # that one read them
    assert _states(again) == _states(cold)
    assert {f.state for f in again.files} == {"duplicate", "skipped"}
    assert all(f.processed_before for f in again.files if f.state == "duplicate")


def test_file_replaced_in_place_with_same_size_and_mtime_is_read_again(
    office: Office, settled, reads
):
    first, second = office.filled("SX01", seed=1), office.filled("SX01", seed=2)
    if len(first) > len(second):
        first, second = second, first
    second = _padded(second, len(first)) if len(second) < len(first) else second
    first = _padded(first, len(second))
    assert len(first) == len(second) and first != second
    path = office.drop("a.xlsx", first)
    office.collect(received_at=ON_TIME)
    assert _record(office)["a.xlsx"][-1] is not None  # its hash was remembered
    before = os.stat(path)

    path.write_bytes(second)  # same size, and the old mtime put back
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    reads.clear()
    result = office.collect(received_at=LATER)

    assert "a.xlsx" in reads
    assert [f.state for f in result.files] == ["accepted"]
    with office.store() as store:
        subs = store.submissions(period="2014-05")
        assert len(subs) == 2
        assert {s.state for s in subs} == {"accepted", "superseded"}


def test_young_files_are_not_remembered(office: Office, reads):
    office.drop("a.xlsx", office.filled("SX01"))
    office.collect(received_at=ON_TIME)  # the file is milliseconds old: not settled
    assert not (office.ws.root / ".cache" / "inbox-seen.json").exists()
    reads.clear()
    office.collect(received_at=LATER)
    # sniffed and read again: in one open, as the scan reads a small file whole
    assert reads.count("a.xlsx") == 1


def test_dry_run_writes_no_record(office: Office, settled):
    office.drop("a.xlsx", office.filled("SX01"))
    office.collect(received_at=ON_TIME, dry_run=True)
    assert not (office.ws.root / ".cache").exists()


def test_identity_must_match_in_every_field(tmp_path: Path, settled):
    path = tmp_path / "f.xlsx"
    path.write_bytes(b"x")
    ident = identity(os.stat(path))
    record = SeenFiles(tmp_path / "seen.json")
    record.remember("f.xlsx", ident, Known("xlsx"), stat_ns=ident[4] + 10)
    record.hashed("f.xlsx", "a" * 64)
    record.save()

    later = SeenFiles(tmp_path / "seen.json")
    assert later.lookup("f.xlsx", ident) == Known("xlsx", "a" * 64)
    assert later.lookup("g.xlsx", ident) is None  # another name
    for i in range(5):  # device, inode, size, mtime, ctime
        other = tuple(v + 1 if j == i else v for j, v in enumerate(ident))
        assert SeenFiles(tmp_path / "seen.json").lookup("f.xlsx", other) is None


def test_entries_of_young_files_are_dropped(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(seen_mod, "SETTLE_NS", 2_000_000_000)
    record = SeenFiles(tmp_path / "seen.json")
    ident = (1, 2, 3, 10_000_000_000, 10_000_000_000)
    record.remember("old", ident, Known("xlsx"), stat_ns=12_000_000_000)
    record.remember("young", ident, Known("xlsx"), stat_ns=11_999_999_999)
    record.save()
    later = SeenFiles(tmp_path / "seen.json")
    assert later.lookup("old", ident) == Known("xlsx")
    assert later.lookup("young", ident) is None


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", '{"format": 1, "code": "other", "files": {}}', '{"files": {"a": [1]}}'],
)
def test_damaged_or_foreign_record_is_ignored(tmp_path: Path, text: str):
    path = tmp_path / "seen.json"
    path.write_text(text)
    assert SeenFiles(path).lookup("a", (1, 2, 3, 4, 5)) is None


def test_bad_rows_are_ignored(tmp_path: Path):
    path = tmp_path / "seen.json"
    code = seen_mod._code_version()
    rows = {
        "ok": [1, 2, 3, 4, 5, "xlsx", "b" * 64],
        "short-sha": [1, 2, 3, 4, 5, "xlsx", "b"],
        "not-int": [1, "x", 3, 4, 5, "xlsx", None],
        "too-few": [1, 2, "xlsx", None],
    }
    path.write_text(json.dumps({"format": 1, "code": code, "files": rows}))
    record = SeenFiles(path)
    assert record.lookup("ok", (1, 2, 3, 4, 5)) == Known("xlsx", "b" * 64)
    for name in ("short-sha", "not-int", "too-few"):
        assert record.lookup(name, (1, 2, 3, 4, 5)) is None
