"""``collect --move``: archived files leave the inbox, nothing else does, and never before the
store is on disk."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import Office
from tests.test_intake import set_cells
from tests.test_intake_sources import _zip

ON_TIME = datetime(2014, 6, 3, 10, 0)


def _inbox(office: Office) -> set[str]:
    inbox = office.ws.inbox
    return {p.relative_to(inbox).as_posix() for p in inbox.rglob("*")}


def test_move_clears_what_the_archive_holds_and_keeps_the_rest(office: Office):
    ok = office.filled("SX01")
    office.drop("ok.xlsx", ok)
    office.drop("县区/第二批/bad.xlsx", set_cells(office.filled("SX02"), "月报数据", {"F5": 9999}))
    office.drop("ok的副本.xlsx", ok)  # same bytes: a duplicate of a recorded file
    office.drop("说明.pdf", b"%PDF-1.4\n")  # not a return: stays
    office.drop(
        "打包.zip",
        _zip({"宁波.xlsx": office.filled("SX03"), "__MACOSX/._宁波.xlsx": b"\x00\x05\x16\x07"}),
    )
    office.drop("混合.zip", _zip({"温州.xlsx": office.filled("SX04"), "盖章页.pdf": b"%PDF-1.4\n"}))

    result = office.collect(received_at=ON_TIME, move=True)

    moved = {f.path for f in result.files if f.moved}
    assert moved == {"ok.xlsx", "ok的副本.xlsx", "县区/第二批/bad.xlsx", "打包.zip!宁波.xlsx"}
    assert result.moved == 4
    # the mixed zip holds a file that was not archived, so it stays whole; emptied folders go
    assert _inbox(office) == {"说明.pdf", "混合.zip"}
    with office.store() as store:
        subs = {s.original_path: s for s in store.submissions(kind="unit")}
        entries = store.audit_entries(result.run_id)
    assert set(subs) == {
        "ok.xlsx",
        "县区/第二批/bad.xlsx",
        "打包.zip!宁波.xlsx",
        "混合.zip!温州.xlsx",
    }
    assert subs["县区/第二批/bad.xlsx"].state == "rejected"
    for sub in subs.values():  # every original is in the archive, byte for byte
        data = (office.ws.root / sub.archive_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sub.sha256
    actions = [e.action for e in entries]
    assert actions.index("move") < actions.index("moved")  # the durable mark comes first
    assert sorted(e.path for e in entries if e.action == "moved") == [
        "ok.xlsx",
        "ok的副本.xlsx",
        "县区/第二批/bad.xlsx",
        "打包.zip",
    ]

    again = office.collect(received_at=ON_TIME, move=True)
    assert [(f.path, f.state, f.moved) for f in again.files] == [
        ("混合.zip!温州.xlsx", "duplicate", False),
        ("混合.zip!盖章页.pdf", "skipped", False),
        ("说明.pdf", "skipped", False),
    ]
    assert _inbox(office) == {"说明.pdf", "混合.zip"}


def test_without_move_the_inbox_is_untouched(office: Office):
    office.drop("sub/ok.xlsx", office.filled("SX01"))
    result = office.collect(received_at=ON_TIME)
    assert [f.moved for f in result.files] == [False]
    assert _inbox(office) == {"sub", "sub/ok.xlsx"}


def test_move_keeps_a_file_changed_after_it_was_read(office: Office, monkeypatch):
    from reporting.intake import collect as collect_mod

    path = office.drop("ok.xlsx", office.filled("SX01"))
    office.drop("other.xlsx", office.filled("SX02"))
    clear = collect_mod._Run.clear_inbox

    edited = office.filled("SX01", seed=7)

    def edited_first(self):  # the clerk saves over the file while the run is finishing
        path.write_bytes(edited)
        return clear(self)

    monkeypatch.setattr(collect_mod._Run, "clear_inbox", edited_first)
    result = office.collect(received_at=ON_TIME, move=True)
    assert {f.path: f.moved for f in result.files} == {"ok.xlsx": False, "other.xlsx": True}
    assert _inbox(office) == {"ok.xlsx"}
    assert path.read_bytes() == edited


def test_nothing_leaves_the_inbox_unless_the_store_is_on_disk(office: Office, monkeypatch):
    from reporting.store import Store, StoreError

    office.drop("ok.xlsx", office.filled("SX01"))

    def fails(self, *args, **kwargs):
        raise StoreError("磁盘已满")

    monkeypatch.setattr(Store, "audit_durably", fails)
    with pytest.raises(StoreError):
        office.collect(received_at=ON_TIME, move=True)
    assert _inbox(office) == {"ok.xlsx"}


def test_move_with_dry_run_is_refused(office: Office):
    from reporting.errors import UsageError

    office.drop("ok.xlsx", office.filled("SX01"))
    with pytest.raises(UsageError, match="--dry-run"):
        office.collect(received_at=ON_TIME, move=True, dry_run=True)
    assert _inbox(office) == {"ok.xlsx"}


def test_collect_move_from_the_command_line(office: Office):
    from typer.testing import CliRunner

    from cli import app

    office.drop("ok.xlsx", office.filled("SX01"))
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    args = ["collect", "-w", str(office.ws.root), "--received-at", "2014-06-03T10:00", "--move"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "已把 1 个已存档的文件移出 inbox/" in res.stdout
    assert not (office.ws.inbox / "ok.xlsx").exists()
    refused = runner.invoke(app, [*args, "--dry-run"])
    assert refused.exit_code == 2
    assert "--dry-run" in refused.output


def test_archive_matches_checks_every_member(tmp_path: Path):
    from reporting.intake.sources import archive_matches

    form, other = b"PK-not-really-a-form", b"something else"
    path = tmp_path / "a.zip"
    path.write_bytes(_zip({"a.xlsx": form, "~$a.xlsx": b"lock"}))
    sha = hashlib.sha256(form).hexdigest()
    assert archive_matches(path, {0: sha})
    assert not archive_matches(path, {0: hashlib.sha256(other).hexdigest()})
    assert not archive_matches(path, {0: sha, 5: sha})  # a member that is not there
    path.write_bytes(_zip({"a.xlsx": form, "b.xlsx": other}))
    assert not archive_matches(path, {0: sha})  # b.xlsx was never archived
    path.write_bytes(b"not a zip")
    assert not archive_matches(path, {0: sha})
