"""Hostile and broken input: the whole corpus in one inbox, one ``collect``.

Nothing crashes (every file gets its finding, the rest of the batch goes on), nothing is lost
(every candidate original is archived byte for byte, the inbox is untouched, the totals
reconcile, a re-run is a no-op) and nothing leaks (no file outside the workspace is read or
written, unit text is stored verbatim and never becomes a formula).

The committed corpus is ``fixtures/hostile`` (see its README.md); the cases that must be real
forms of a workspace are made here, in a workspace rebuilt from ``fixtures/returns`` (its plan
snapshot and signing key), so that ``fixtures/returns/lo_saved_SX04.xls`` is one of its forms.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import os
import shutil
import time
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Office
from tests.fixtures.hostile import make_corpus as corpus
from tests.fixtures.hostile.returns import (
    CONTROL_TEXT,
    FORMULA_LIKE,
    bureau,
    edit,
    replace_value,
    set_dimensions,
    with_texts,
)

HERE = Path(__file__).parent
CORPUS = HERE / "fixtures" / "hostile"
RETURNS = HERE / "fixtures" / "returns"
ON_TIME = datetime(2014, 6, 3, 10, 0)
PERIOD = "2014-05"
SECRET = "机密-XXE-靶文件-7f3a9c1e"  # the content of a file outside the workspace


@dataclass(frozen=True)
class Expect:
    state: str  # accepted | rejected | duplicate | skipped
    codes: tuple[str, ...] = ()  # every finding's code, in order
    says: str = ""  # a fragment of the first finding's message (or of the skip reason)
    unit: str | None = None


UNREADABLE = ("unreadable",)

# The committed corpus, copied into the inbox under its own names.
STATIC: dict[str, Expect] = {
    "empty.xlsx": Expect("rejected", UNREADABLE, "空的（0 字节）"),
    "truncated.xlsx": Expect("rejected", UNREADABLE, "不完整"),
    "flipped_byte.xlsx": Expect("rejected", UNREADABLE, "损坏"),
    "missing_part.xlsx": Expect("rejected", UNREADABLE, "无法解析"),
    "webmail_preview.xlsx": Expect("rejected", UNREADABLE, "网页"),
    "saved_as_csv.xlsx": Expect("rejected", UNREADABLE, "CSV"),
    "encrypted.xlsx": Expect("rejected", ("encrypted",), "密码"),
    "real_xls_renamed.xlsx": Expect("rejected", ("not-a-form",), "报送表单"),
    "macro.xlsm": Expect("rejected", ("macro-present", "not-a-form"), "宏不会被运行"),
    "billion_laughs_sharedstrings.xlsx": Expect("rejected", UNREADABLE, "不安全的 XML"),
    "billion_laughs_sheet.xlsx": Expect("rejected", UNREADABLE, "不安全的 XML"),
    "xxe_etc_passwd.xlsx": Expect("rejected", UNREADABLE, "不安全的 XML"),
    "dimension_whole_sheet.xlsx": Expect("rejected", ("not-a-form",), "报送表单"),
    "cell_at_xfd1048576.xlsx": Expect("rejected", UNREADABLE, "XFD1048576"),
    # calamine aborts its process on this one: the sandbox turns that into a finding
    "cell_at_xfd1048576_lying_dimension.xlsx": Expect("rejected", UNREADABLE, "进程异常退出"),
    "zip_bomb.xlsx": Expect("rejected", UNREADABLE, "压缩炸弹"),
    "lying_sizes_sheet.xlsx": Expect("rejected", UNREADABLE, "损坏"),
    "lying_sizes_sharedstrings.xlsx": Expect("rejected", UNREADABLE, "损坏"),
    "ten_mb_string.xlsx": Expect("rejected", UNREADABLE, "超长内容"),
    "traversal.zip!escaped.xlsx": Expect("skipped", says="路径不安全"),
    "traversal.zip!outside.xlsx": Expect("skipped", says="路径不安全"),
    "traversal.zip!etc/cron.d/evil.xlsx": Expect("skipped", says="路径不安全"),
    "traversal.zip!Windows/evil.xlsx": Expect("skipped", says="路径不安全"),
    "traversal.zip!正常/ok.xlsx": Expect("rejected", ("not-a-form",), "报送表单"),
    "~$lock.xlsx": Expect("skipped", says="临时锁文件"),
}

HOSTILE_NAME = "=cmd|' -C calc'!A0 _SX18.xlsx"


def build_inbox(office: Office, outside: Path) -> dict[str, Expect]:
    """Fill the inbox with the whole corpus; the expected outcome of every file."""
    inbox = office.ws.inbox
    expected = dict(STATIC)
    for name in STATIC:
        if "!" not in name:
            shutil.copy(CORPUS / name, inbox / name)
    shutil.copy(CORPUS / "traversal.zip", inbox / "traversal.zip")

    def drop(name: str, data: bytes, expect: Expect) -> None:
        office.drop(name, data)
        expected[name] = expect

    ok = Expect("accepted")
    drop("公式文本_SX01.xlsx", with_texts(office, "SX01", FORMULA_LIKE), ok)
    drop("控制字符_SX03.xlsx", with_texts(office, "SX03", {"B09": CONTROL_TEXT}), ok)
    long_texts = {"B09": "长" * 40_000, "主要事迹": "事" * 40_000}
    drop(
        "四万字_SX05.xlsx",
        with_texts(office, "SX05", long_texts),
        Expect("rejected", ("too-long", "too-long"), "40000 字", "SX05"),
    )
    # 10 MiB of UTF-8 in one cell, as a shared string and as an inline string. The XML pass
    # reads both here (a shared-strings part large enough to hold such a string is parsed
    # through, and so is a worksheet this large): a text node over libxml2's 10,000,000-byte
    # limit is refused.
    ten_mb = {"B09": "长" * (10 * 1024 * 1024 // 3)}
    drop(
        "十兆文字_SX06.xlsx",
        with_texts(office, "SX06", ten_mb, shared=("B09",)),
        Expect("rejected", UNREADABLE, "超长内容"),
    )
    drop(
        "十兆内联文字_YL02.xlsx",
        with_texts(office, "YL02", ten_mb),
        Expect("rejected", UNREADABLE, "超长内容"),
    )

    def claim_sx08(wb: Any) -> None:
        meta = wb["_meta"]
        meta.sheet_state = "visible"
        for row in meta.iter_rows(min_row=2):
            if row[0].value == "unit_code":
                row[1].value = "SX08"

    drop(
        "冒充宁波_SX07.xlsx",
        edit(office.filled("SX07"), claim_sx08),
        Expect("rejected", ("metadata-tampered",), "识别信息", "SX08"),
    )
    drop(
        "插入一列_SX09.xlsx",
        edit(office.filled("SX09"), lambda wb: wb["月报数据"].insert_cols(3)),
        Expect("rejected", ("structure-changed",), "表格结构被改动", "SX09"),
    )

    def rename(wb: Any) -> None:
        wb["整改台账"].title = "台账"

    drop(
        "改了表名_SX10.xlsx",
        edit(office.filled("SX10"), rename),
        Expect("rejected", ("structure-changed",), "缺少工作表“整改台账”", "SX10"),
    )
    drop(
        "六月表单_SX12.xlsx",
        office.filled("SX12", period="2014-06"),
        # collected with --period 2014-05: left in the inbox for June's run, not rejected
        Expect("skipped", (), "这是 2014年6月 的表单，本次只回收 2014年5月"),
    )
    twice = office.filled("SX13")
    drop("同一文件_SX13.xlsx", twice, Expect("accepted", unit="SX13"))
    drop(
        "转发/同一文件_SX13 (1).xlsx", twice, Expect("duplicate", says="内容完全相同", unit="SX13")
    )
    drop(
        "含宏_SX14.xlsm",
        corpus.with_macro(office.filled("SX14")),
        Expect("accepted", ("macro-present",), "宏不会被运行", "SX14"),
    )
    drop(
        "范围整张表_SX15.xlsx",
        set_dimensions(office.filled("SX15"), "A1:XFD1048576"),
        Expect("accepted", unit="SX15"),
    )
    filling = office.filling("SX16")
    filling.indicators["B06"] = 12.3456789
    drop(
        "非数_SX16.xlsx",
        replace_value(office.filled("SX16", filling), "12.3456789", "NaN"),
        Expect("rejected", ("type-error",), "应填数字", "SX16"),
    )
    drop("x.xlsx/SX17.xlsx", office.filled("SX17"), Expect("accepted", unit="SX17"))
    (inbox / "空文件夹.xlsx").mkdir()
    bad = edit(office.filled("SX18"), lambda wb: wb["月报数据"].__setitem__("F5", 9999))
    drop(HOSTILE_NAME, bad, Expect("rejected", ("out-of-range",), "超出范围", "SX18"))
    drop(
        "Excel97_SX04.xlsx",
        (RETURNS / "lo_saved_SX04.xls").read_bytes(),
        Expect("accepted", unit="SX04"),
    )
    drop("~$公式文本_SX01.xlsx", corpus.lock_file(), Expect("skipped", says="临时锁文件"))
    drop(
        "xxe_secret.xlsx",
        corpus.external_entity(str(outside / "secret.txt")),
        Expect("rejected", UNREADABLE, "不安全的 XML"),
    )
    os.symlink(outside / "secret.txt", inbox / "链接到外面.xlsx")
    expected["链接到外面.xlsx"] = Expect("skipped", says="工作区以外")
    os.symlink(outside / "outside_SX02.xlsx", inbox / "链接到外面的表单.xlsx")
    expected["链接到外面的表单.xlsx"] = Expect("skipped", says="工作区以外")
    (outside / "outside_SX02.xlsx").write_bytes(office.filled("SX02"))
    traversal = corpus.traversal_zip({"正常/YL01.xlsx": office.filled("YL01")})
    drop("带路径.zip", traversal, Expect("skipped"))  # the archive itself is not a file report
    del expected["带路径.zip"]
    for name, exp in STATIC.items():
        if name.startswith("traversal.zip!"):
            expected[name.replace("traversal.zip", "带路径.zip")] = exp
    expected["带路径.zip!正常/ok.xlsx"] = Expect("duplicate", says="内容完全相同")  # same bytes
    expected["带路径.zip!正常/YL01.xlsx"] = Expect("accepted", unit="YL01")
    drop(
        "十万条目.xlsx",
        corpus.many_entries(100_000),
        Expect("rejected", UNREADABLE, "压缩炸弹"),
    )
    drop(
        "十万条目.zip", corpus.many_entries(100_000, workbook=False), Expect("skipped", says="过多")
    )
    # a directory entry claiming a zip version from the future: zipfile raises
    # NotImplementedError (neither BadZipFile nor OSError) for the form and for an archive
    future = Expect("rejected", UNREADABLE, "无法解析")
    drop("未来版本_YL03.xlsx", future_zip_version(office.filled("YL03")), future)
    drop("未来版本.zip", future_zip_version(corpus.traversal_zip({"a.xlsx": b"x"})), future)
    return expected


def future_zip_version(data: bytes) -> bytes:
    """``data`` with its first central directory entry needing zip version 20.0."""
    out = bytearray(data)
    out[out.find(b"PK\x01\x02") + 6] = 200
    return bytes(out)


def tree(folder: Path) -> dict[str, tuple[str, str]]:
    """Every entry under ``folder`` (links not followed): kind and content digest."""
    found: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", "")
            else:
                found[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def blobs(folder: Path, *, unzip: bool = True) -> list[tuple[str, bytes]]:
    """Every file's bytes under ``folder``, and (``unzip``) every member of every zip (xlsx)
    decompressed."""
    out: list[tuple[str, bytes]] = []
    broken = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError)
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        out.append((str(path), data))
        if not unzip or data[:2] != b"PK":
            continue
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except broken:
            continue
        with zf:
            for info in zf.infolist()[:5000]:
                if info.file_size < 50 * 1024 * 1024:
                    try:
                        out.append((f"{path}!{info.filename}", zf.read(info)))
                    except broken:
                        continue
    return out


@dataclass
class Batch:
    office: Office
    expected: dict[str, Expect]
    result: Any
    files: dict[str, Any]
    inbox_before: dict[str, tuple[str, str]]
    outside: Path
    outside_before: dict[str, tuple[str, str]]
    base: Path
    base_before: set[str]
    sandbox_calls: list[dict[str, Any]]
    seconds: float


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    from reporting.intake import collect as collect_mod

    base = tmp_path_factory.mktemp("hostile")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET, "utf-8")
    office = bureau(base / "ws")
    expected = build_inbox(office, outside)
    inbox_before = tree(office.ws.inbox)
    outside_before = tree(outside)
    base_before = {str(p.relative_to(base)) for p in base.iterdir()}

    calls: list[dict[str, Any]] = []
    real = collect_mod.run_isolated

    def spy(fn, tasks, **kw):  # type: ignore[no-untyped-def]
        calls.append(kw)
        return real(fn, tasks, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(collect_mod, "run_isolated", spy)
        started = time.monotonic()
        result = office.collect(period=PERIOD, received_at=ON_TIME, workers=2)
        seconds = time.monotonic() - started
    files = {f.path: f for f in result.files}
    return Batch(
        office,
        expected,
        result,
        files,
        inbox_before,
        outside,
        outside_before,
        base,
        base_before,
        calls,
        seconds,
    )


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_file_gets_its_finding_and_the_batch_goes_on(batch: Batch) -> None:
    assert set(batch.files) == set(batch.expected), (
        sorted(set(batch.files) ^ set(batch.expected)),
        batch.result.as_json(),
    )
    wrong = {}
    for path, want in batch.expected.items():
        got = batch.files[path]
        codes = tuple(f.code for f in got.findings)
        text = got.findings[0].message if got.findings else got.note
        if (got.state, codes) != (want.state, want.codes) or want.says not in text:
            wrong[path] = (got.state, codes, text)
        elif want.unit is not None and got.unit != want.unit:
            wrong[path] = ("unit", got.unit)
        for f in got.findings:
            assert _chinese(f.message), (path, f.message)
        if got.state == "skipped":
            assert _chinese(got.note), (path, got.note)
    assert not wrong, wrong


def test_totals_reconcile(batch: Batch) -> None:
    t = batch.result.totals
    assert t["received"] == len(batch.expected)
    assert t["received"] == t["accepted"] + t["rejected"] + t["duplicate"] + t["skipped"]
    states = [e.state for e in batch.expected.values()]
    for state in ("accepted", "rejected", "duplicate", "skipped"):
        assert t[state] == states.count(state), state
    assert t["accepted"] >= 8 and t["rejected"] >= 30  # the good returns were not held up


def _member_bytes(inbox: Path, display: str) -> bytes:
    if (inbox / display).is_file():
        return (inbox / display).read_bytes()
    archive, _, member = display.partition("!")
    with zipfile.ZipFile(inbox / archive) as zf:
        return zf.read(member)


def test_every_candidate_original_is_archived_byte_identical(batch: Batch) -> None:
    root = batch.office.ws.root
    with batch.office.store() as store:
        for path, report in batch.files.items():
            if report.state == "skipped":
                assert report.sha256 is None
                continue
            original = _member_bytes(batch.office.ws.inbox, path)
            assert report.sha256 == hashlib.sha256(original).hexdigest(), path
            sub = store.submission_by_sha(report.sha256)
            assert sub is not None and sub.archive_path, path
            assert (root / sub.archive_path).read_bytes() == original, path
            if report.state != "duplicate":
                assert sub.original_path == path
                assert sub.state == report.state
        assert store.integrity_check() == []
        audited = {e.path for e in store.audit_entries(batch.result.run_id)}
    assert set(batch.files) <= audited  # the audit log says what happened to every file


def test_the_inbox_is_untouched(batch: Batch) -> None:
    assert tree(batch.office.ws.inbox) == batch.inbox_before


def test_nothing_outside_the_workspace_is_read_or_written(batch: Batch) -> None:
    ws = batch.office.ws
    assert tree(batch.outside) == batch.outside_before
    assert {str(p.relative_to(batch.base)) for p in batch.base.iterdir()} == batch.base_before
    # nothing escaped from the archive with ../ names
    assert not list(batch.base.rglob("escaped.xlsx")) and not list(batch.base.rglob("outside.xlsx"))
    markers = [SECRET.encode("utf-8"), SECRET.encode("utf-16-le")]
    passwd = Path("/etc/passwd")
    if passwd.is_file():
        first = passwd.read_text("utf-8", "replace").splitlines()[0]
        markers += [first.encode(), first.encode("utf-16-le")]
    outside_form = (batch.outside / "outside_SX02.xlsx").read_bytes()
    # what the tool wrote: the store (and its WAL), outputs, archived originals (which are
    # copies of inbox files, so their members need no unpacking), temporary files
    written = [
        *blobs(ws.outbox),
        *blobs(ws.archive, unzip=False),
        *[(str(p), p.read_bytes()) for p in ws.root.iterdir() if p.is_file()],
    ]
    for name, data in written:
        for marker in markers:
            assert marker not in data, (name, marker)
        assert data != outside_form, name
    # archive/<period>/[<unit>_]<sha>.<ext>
    archived = [p.stem.rsplit("_", 1)[-1] for p in ws.archive.rglob("*") if p.is_file()]
    assert archived and all(len(sha) == 64 for sha in archived)
    secret_sha = hashlib.sha256(SECRET.encode()).hexdigest()
    assert secret_sha not in archived
    assert hashlib.sha256(outside_form).hexdigest() not in archived
    with batch.office.store() as store:
        assert store.current_submission("SX02", PERIOD) is None  # the linked form was not read


def test_parsing_runs_under_the_memory_and_time_caps(batch: Batch) -> None:
    from reporting.intake.sandbox import run_isolated

    defaults = inspect.signature(run_isolated).parameters
    assert defaults["memory_mb"].default <= 500 and defaults["timeout_s"].default <= 10
    assert batch.sandbox_calls, "collect parsed nothing in the sandbox"
    for kw in batch.sandbox_calls:
        assert kw.get("memory_mb", 500) <= 500 and kw.get("timeout_s", 10) <= 10
    lie = batch.files["cell_at_xfd1048576_lying_dimension.xlsx"]
    assert lie.state == "rejected" and lie.findings[0].code == "unreadable"
    assert batch.files["x.xlsx/SX17.xlsx"].state == "accepted"  # after it in inbox order
    assert batch.seconds < 60


def test_formula_like_text_is_stored_verbatim(batch: Batch) -> None:
    with batch.office.store() as store:
        sub = store.current_submission("SX01", PERIOD)
        assert sub is not None
        values = store.values_for([sub.id])[sub.id]
        ledgers = store.ledger_rows_for([sub.id])[sub.id]
        activities = store.activities_for([sub.id])[sub.id]
        assert store.findings_for(sub.id) == []
    assert values["B09"] == FORMULA_LIKE["B09"]
    rows = {r.ledger: r.data for r in ledgers}
    for ledger, columns in (
        ("整改台账", ("问题描述", "整改措施", "责任领导", "责任人")),
        ("典型推荐", ("名称", "所在科室", "主要事迹", "联系电话")),
    ):
        for column in columns:
            assert rows[ledger][column] == FORMULA_LIKE[column], (ledger, column)
    first = activities[0]
    assert (first.evidence, first.note) == (FORMULA_LIKE["evidence"], FORMULA_LIKE["note"])


def test_control_characters_are_stored_verbatim(batch: Batch) -> None:
    with batch.office.store() as store:
        sub = store.current_submission("SX03", PERIOD)
        assert sub is not None
        assert store.values_for([sub.id])[sub.id]["B09"] == CONTROL_TEXT.strip()


def test_a_real_xls_renamed_xlsx_is_read_by_its_bytes(batch: Batch) -> None:
    report = batch.files["Excel97_SX04.xlsx"]
    assert (report.state, report.unit, report.findings) == ("accepted", "SX04", ())
    with batch.office.store() as store:
        sub = store.submission_by_sha(report.sha256)
        assert sub is not None and sub.format == "xls" and sub.archive_path.endswith(".xls")


def test_a_forged_unit_claim_never_displaces_an_accepted_return(batch: Batch) -> None:
    report = batch.files["冒充宁波_SX07.xlsx"]
    assert report.state == "rejected" and report.unit == "SX08"
    with batch.office.store() as store:
        assert store.current_submission("SX08", PERIOD) is None
        assert store.current_submission("SX07", PERIOD) is None


def test_rerunning_over_the_hostile_inbox_is_a_no_op(batch: Batch) -> None:
    ws = batch.office.ws
    archive_before = tree(ws.archive)
    with batch.office.store() as store:
        before = [(s.sha256, s.state) for s in store.submissions()]
    again = batch.office.collect(period=PERIOD, received_at=ON_TIME, workers=2)
    assert {f.state for f in again.files} == {"duplicate", "skipped"}
    assert again.totals["received"] == batch.result.totals["received"]
    with batch.office.store() as store:
        assert [(s.sha256, s.state) for s in store.submissions()] == before
    assert tree(ws.archive) == archive_before
