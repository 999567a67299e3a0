"""The inbox scan and byte sniffing: what counts as a return, what is skipped and why."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest

from reporting.intake import sources
from reporting.intake.sniff import HEAD_BYTES, sniff
from reporting.intake.sources import Source, SourceUnavailable, scan_inbox


def _xlsx(text: str = "表单") -> bytes:
    """A small workbook. Not reproducible: XlsxWriter writes the current second into its
    properties, so compare a file's bytes with the very bytes written, never a second call."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.add_worksheet("数据").write(0, 0, text)
    wb.close()
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _set_central_flag(archive: bytes, name: bytes, flag: int) -> bytes:
    """Set a general-purpose flag bit of one member in the zip's central directory."""
    data = bytearray(archive)
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len] == name:
            data[pos + 8] |= flag
        pos = data.find(b"PK\x01\x02", pos + 4)
    return bytes(data)


def _table(found: list[Source]) -> list[tuple[str, str]]:
    return [(s.display, s.status) for s in found]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "inbox").mkdir(parents=True)
    return root


def test_scan_lists_returns_and_skips_clutter(workspace: Path) -> None:
    inbox = workspace / "inbox"
    form = _xlsx()
    nested = inbox / "县卫生局" / "2024-03"
    nested.mkdir(parents=True)
    (nested / "a.xlsx").write_bytes(form)
    (inbox / "~$lock.xlsx").write_bytes(b"\x05user" + b"\x00" * 160)
    (inbox / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 60)
    (inbox / "__MACOSX").mkdir()
    (inbox / "__MACOSX" / "._a.xlsx").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 60)
    (inbox / "x.xlsx").mkdir()  # a folder that looks like a workbook
    (inbox / "x.xlsx" / "form.xlsx").write_bytes(form)
    os.symlink("/etc/passwd", inbox / "passwd")
    (workspace / "shared").mkdir()
    linked = _xlsx("链接")
    (workspace / "shared" / "real.xlsx").write_bytes(linked)
    os.symlink(workspace / "shared" / "real.xlsx", inbox / "link.xlsx")
    os.symlink(inbox, inbox / "loop")  # a folder link: never followed
    os.symlink(workspace, inbox / "root")  # ... the workspace itself included
    (workspace / ".form-key").write_text("0" * 64)
    (workspace / "store.sqlite").write_bytes(b"SQLite format 3\x00")
    os.symlink(workspace / ".form-key", inbox / "key.xlsx")  # the tool's own files: never read
    os.symlink(workspace / "store.sqlite", inbox / "store.xlsx")
    (inbox / "returns.zip").write_bytes(
        _zip(
            {
                "b.xlsx": form,
                "子目录/c.xlsx": form,
                "../evil.xlsx": form,
                "deep/nested/d.xlsx": form,
                "__MACOSX/._b.xlsx": b"\x00\x05\x16\x07",
            }
        )
    )
    (inbox / "网页.xlsx").write_bytes("<!DOCTYPE html><html><body>附件预览</body></html>".encode())
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    (inbox / "renamed.pdf").write_bytes(form)  # a workbook whatever its name
    (inbox / "empty.xlsx").write_bytes(b"")
    (inbox / ".secret").write_bytes(b"x")
    (inbox / ".git").mkdir()
    (inbox / ".git" / "config").write_bytes(b"x")

    found = scan_inbox(inbox, workspace)

    assert _table(found) == [
        (".git/", "skipped"),
        (".secret", "skipped"),
        ("Thumbs.db", "skipped"),
        ("__MACOSX/._a.xlsx", "skipped"),
        ("empty.xlsx", "candidate"),
        ("key.xlsx", "skipped"),
        ("link.xlsx", "candidate"),
        ("loop", "skipped"),
        ("passwd", "skipped"),
        ("renamed.pdf", "candidate"),
        ("returns.zip!__MACOSX/._b.xlsx", "skipped"),
        ("returns.zip!b.xlsx", "candidate"),
        ("returns.zip!deep/nested/d.xlsx", "candidate"),
        ("returns.zip!evil.xlsx", "skipped"),
        ("returns.zip!子目录/c.xlsx", "candidate"),
        ("root", "skipped"),
        ("scan.pdf", "skipped"),
        ("store.xlsx", "skipped"),
        ("x.xlsx/form.xlsx", "candidate"),
        ("~$lock.xlsx", "skipped"),
        ("县卫生局/2024-03/a.xlsx", "candidate"),
        ("网页.xlsx", "candidate"),
    ]
    by = {s.display: s for s in found}
    assert by["~$lock.xlsx"].skip_reason == "Office 临时锁文件（~$ 开头），已跳过"
    assert by["passwd"].skip_code == "symlink-outside"
    assert "工作区以外" in (by["passwd"].skip_reason or "")
    assert by["loop"].skip_code == by["root"].skip_code == "symlink-folder"
    assert by["key.xlsx"].skip_code == by["store.xlsx"].skip_code == "symlink-private"
    assert "签名密钥" in (by["key.xlsx"].skip_reason or "")
    assert by["returns.zip!evil.xlsx"].skip_code == "unsafe-path"
    assert "压缩包内路径不安全" in (by["returns.zip!evil.xlsx"].skip_reason or "")
    assert by["scan.pdf"].skip_reason is not None
    assert by["scan.pdf"].skip_reason.startswith("不是 Excel 文件")
    assert by["Thumbs.db"].skip_code == "system-file"
    assert by["__MACOSX/._a.xlsx"].skip_code == "macos-resource"
    assert by["网页.xlsx"].kind == "html"
    assert by["renamed.pdf"].kind == "xlsx"
    assert by["empty.xlsx"].kind == "empty"
    assert by["empty.xlsx"].size == 0
    assert all(s.skip_reason for s in found if s.status == "skipped")
    assert all(s.skip_reason is None for s in found if s.status == "candidate")

    # Reading: members from memory, links through their (workspace) target.
    member = by["returns.zip!子目录/c.xlsx"]
    assert member.path == inbox / "returns.zip"
    assert member.member == "子目录/c.xlsx"
    assert member.read_bytes() == form
    assert by["link.xlsx"].read_bytes() == linked
    assert by["县卫生局/2024-03/a.xlsx"].read_bytes() == form
    assert not (inbox / "evil.xlsx").exists() and not (workspace / "evil.xlsx").exists()


def test_missing_inbox_is_empty(tmp_path: Path) -> None:
    assert scan_inbox(tmp_path / "nope", tmp_path) == []


def test_read_bytes_after_the_file_vanished(workspace: Path) -> None:
    inbox = workspace / "inbox"
    (inbox / "a.xlsx").write_bytes(_xlsx())
    (found,) = scan_inbox(inbox, workspace)
    (inbox / "a.xlsx").unlink()
    with pytest.raises(SourceUnavailable, match="已被移走或删除"):
        found.read_bytes()


def test_source_reader_opens_each_archive_once(workspace: Path) -> None:
    inbox = workspace / "inbox"
    forms = {f"{i}.xlsx": _xlsx(f"表{i}") for i in range(3)}
    (inbox / "a.zip").write_bytes(_zip(forms))
    (inbox / "b.zip").write_bytes(_zip({"x.xlsx": forms["0.xlsx"]}))
    (inbox / "c.xlsx").write_bytes(forms["1.xlsx"])
    found = scan_inbox(inbox, workspace)
    assert [s.display for s in found] == [
        "a.zip!0.xlsx",
        "a.zip!1.xlsx",
        "a.zip!2.xlsx",
        "b.zip!x.xlsx",
        "c.xlsx",
    ]
    with sources.SourceReader() as reader:
        data = [reader.read(s) for s in found]
    assert data == [
        forms["0.xlsx"],
        forms["1.xlsx"],
        forms["2.xlsx"],
        forms["0.xlsx"],
        forms["1.xlsx"],
    ]
    (inbox / "a.zip").write_bytes(_zip({"other.xlsx": forms["0.xlsx"]}))  # changed since the scan
    with pytest.raises(SourceUnavailable, match="已变化"):
        found[1].read_bytes()


def test_a_scan_with_a_reader_hands_it_the_small_files_it_read_whole(workspace: Path) -> None:
    """Same Sources as without a reader; each small candidate's bytes are primed, so reading
    it right after the scan reaches it does not open the file again; large or skipped files,
    zip members and a source other than the primed one are read from disk as before."""
    inbox = workspace / "inbox"
    form = _xlsx()
    big = _zip({"xl/workbook.xml": b"<workbook/>", "pad.bin": os.urandom(70_000)})
    assert len(big) > sources.WHOLE_READ_BYTES
    files = {
        "a.xlsx": form,
        "b.zip": _zip({"m.xlsx": form, "n.pdf": b"%PDF-1.4"}),
        "c.pdf": b"%PDF-1.4\n",
        "d.html": b"<html><table></table></html>",
        "e_big.xlsx": big,
        "f.xlsx": _xlsx("另一张"),
        "~$g.xlsx": b"lock",
    }
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    plain = scan_inbox(inbox, workspace)
    reader = sources.SourceReader()
    scanned = sources.iter_inbox(inbox, workspace, reader=reader)
    found = []
    primed = []
    for source in scanned:
        found.append(source)
        if source.member is None and source.is_candidate:
            path = inbox / source.display
            kept = path.read_bytes()
            path.unlink()  # only primed bytes can still be read
            try:
                data = reader.read(source)
            except SourceUnavailable:
                data = None
            path.write_bytes(kept)
            primed.append((source.display, data is not None))
            assert data in (None, files[source.display])
    assert found == plain
    assert primed == [
        ("a.xlsx", True),
        ("d.html", True),
        ("e_big.xlsx", False),
        ("f.xlsx", True),
    ]
    # primed bytes go to that very Source object only, and only once
    reader = sources.SourceReader()
    first = next(sources.iter_inbox(inbox, workspace, reader=reader))
    equal = plain[0]
    assert first.display == equal.display == "a.xlsx" and first is not equal
    (inbox / "a.xlsx").unlink()
    with pytest.raises(SourceUnavailable):
        reader.read(equal)  # an equal Source is read from disk, and empties the slot
    with pytest.raises(SourceUnavailable):
        reader.read(first)
    reader.close()


def test_fifo_is_never_opened(workspace: Path) -> None:
    inbox = workspace / "inbox"
    os.mkfifo(inbox / "pipe.xlsx")
    (found,) = scan_inbox(inbox, workspace)
    assert (found.status, found.skip_code) == ("skipped", "not-regular")


def test_zip_members_gbk_names_encryption_nesting_and_other_documents(workspace: Path) -> None:
    inbox = workspace / "inbox"
    form = _xlsx()
    docx = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    archive = _zip(
        {
            "XXXX.xlsx": form,  # renamed below to GBK bytes, without the UTF-8 flag
            "secret.xlsx": form,
            "inner.zip": _zip({"a.xlsx": form}),
            "说明.docx": docx,
            "照片.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 20,
            "C:/Windows/x.xlsx": form,
            "/abs/y.xlsx": form,
        }
    )
    archive = archive.replace(b"XXXX.xlsx", "报表.xlsx".encode("gbk"))
    archive = _set_central_flag(archive, b"secret.xlsx", 0x1)
    (inbox / "附件.zip").write_bytes(archive)

    found = {s.display: s for s in scan_inbox(inbox, workspace)}

    assert {d: (s.status, s.skip_code) for d, s in found.items()} == {
        "附件.zip!报表.xlsx": ("candidate", None),
        "附件.zip!secret.xlsx": ("skipped", "encrypted-member"),
        "附件.zip!inner.zip": ("skipped", "nested-archive"),
        "附件.zip!说明.docx": ("skipped", "not-excel"),
        "附件.zip!照片.jpg": ("skipped", "not-excel"),
        "附件.zip!Windows/x.xlsx": ("skipped", "unsafe-path"),
        "附件.zip!abs/y.xlsx": ("skipped", "unsafe-path"),
    }
    assert found["附件.zip!报表.xlsx"].read_bytes() == form


def test_zip_bomb_checks_happen_before_decompression(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = workspace / "inbox"
    zeros = b"\x00" * (2 * 1024 * 1024)
    (inbox / "big.zip").write_bytes(_zip({"a.xlsx": zeros}))
    (inbox / "many.zip").write_bytes(_zip({f"{i}.xlsx": b"x" for i in range(6)}))
    (inbox / "ratio.zip").write_bytes(_zip({"bomb.xlsx": zeros, "ok.xlsx": _xlsx()}))
    (inbox / "empty.zip").write_bytes(_zip({}))
    monkeypatch.setattr(sources, "MAX_ARCHIVE_ENTRIES", 5)
    monkeypatch.setattr(sources, "MAX_ARCHIVE_TOTAL_BYTES", 3 * 1024 * 1024)
    monkeypatch.setattr(sources, "RATIO_CHECK_ABOVE_BYTES", 1024 * 1024)
    (inbox / "big.zip").write_bytes(_zip({"a.xlsx": zeros, "b.xlsx": zeros}))

    found = {s.display: (s.status, s.skip_code) for s in scan_inbox(inbox, workspace)}

    assert found == {
        "big.zip": ("skipped", "archive-too-large"),
        "empty.zip": ("skipped", "archive-empty"),
        "many.zip": ("skipped", "archive-too-many"),
        "ratio.zip!bomb.xlsx": ("skipped", "zip-bomb"),
        "ratio.zip!ok.xlsx": ("candidate", None),
    }


# --- sniffing --------------------------------------------------------------------------------


def _ole(stream_names: list[str]) -> bytes:
    """A minimal OLE compound file (512-byte sectors: FAT at 0, directory at 1)."""
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIII", header, 0x2C, 1, 1, 0, 4096)
    struct.pack_into("<IIII", header, 0x3C, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([0xFFFFFFFF] * 108))
    fat = bytearray(b"\xff" * 512)
    struct.pack_into("<II", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE)
    directory = bytearray(512)
    entries = [("Root Entry", 5), *[(name, 2) for name in stream_names[:3]]]
    for i, (name, kind) in enumerate(entries):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        directory[i * 128 : i * 128 + len(raw)] = raw
        struct.pack_into("<HB", directory, i * 128 + 0x40, len(raw), kind)
    return bytes(header + fat + directory)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html>\n<html><body></body></html>", "html"),
        (b"  <HTML><head><meta charset='gbk'></head>", "html"),
        (b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=x", "html"),
        ("单位,人数\n甲,5\n乙,6\n".encode("gbk"), "csv"),
        ("单位\t人数\r\n甲\t5\r\n".encode("utf-16"), "csv"),  # Excel "Unicode text"
        ("这是一段说明文字。\n第二行".encode(), "text"),
        (b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:sp">', "xml"),
        (b"%PDF-1.7\n", "pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image"),
        (b"\xff\xd8\xff\xe1\x00\x10Exif", "image"),
        (b"Rar!\x1a\x07\x01\x00", "archive"),
        (b"\x00\x01\x02\x03\x04binary", "unknown"),
        (b"PK\x03\x04truncated-zip", "damaged"),
    ],
)
def test_sniff_plain_files(data: bytes, kind: str) -> None:
    assert sniff(data) == kind


def test_sniff_zip_family() -> None:
    form = _xlsx()
    assert sniff(form) == "xlsx"
    assert sniff(form[: len(form) // 2]) == "damaged"
    macro = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(form)) as src, zipfile.ZipFile(macro, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("xl/vbaProject.bin", b"\x00")
    assert sniff(macro.getvalue()) == "xlsm"
    assert sniff(_zip({"xl/workbook.bin": b""})) == "xlsb"
    assert sniff(_zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"})) == "zip"
    ods = {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}
    assert sniff(_zip(ods)) == "ods"
    assert sniff(_zip({"[Content_Types].xml": b"", "ppt/presentation.xml": b""})) == "office"
    assert sniff(_zip({"a.txt": b"x"})) == "zip"


def test_quick_sniff_tells_workbooks_by_member_names_and_defers_the_rest() -> None:
    form = _xlsx()
    vba = io.BytesIO()
    content_types = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(form)) as src:
        with zipfile.ZipFile(vba, "w") as dst:
            for info in src.infolist():
                dst.writestr(info, src.read(info))
            dst.writestr("xl/vbaProject.bin", b"\x00")
        with zipfile.ZipFile(content_types, "w") as dst:
            for info in src.infolist():
                body = src.read(info)
                if info.filename == "[Content_Types].xml":
                    body = body.replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml")
                dst.writestr(info, body)
    assert sniff(form, quick=True) == "xlsx"
    assert sniff(vba.getvalue(), quick=True) == "xlsm"
    # the content type alone needs [Content_Types].xml: the quick sniff leaves it to the reader
    assert sniff(content_types.getvalue()) == "xlsm"
    assert sniff(content_types.getvalue(), quick=True) == "xlsx"
    # everything that is not plainly a workbook gets the full sniff
    with_comment = io.BytesIO()
    with zipfile.ZipFile(with_comment, "w") as zf:
        zf.writestr("a.txt", b"x")
        zf.comment = "附件说明".encode()
    odd_comment = io.BytesIO()
    with zipfile.ZipFile(odd_comment, "w") as zf:
        zf.writestr("xl/workbook.xml", b"<workbook/>")
        zf.comment = b"PK\x05\x06 in a comment"
    cases = [
        (_zip({"a.txt": b"x", "打包/SX01.xlsx": form}), "zip"),
        (_zip({"[Content_Types].xml": b"", "ppt/presentation.xml": b""}), "office"),
        (_zip({"xl/workbook.bin": b""}), "xlsb"),
        (with_comment.getvalue(), "zip"),
        (odd_comment.getvalue(), "damaged"),  # zipfile itself cannot find the directory
        (form[: len(form) // 2], "damaged"),
        (form[:-10], "damaged"),
    ]
    for data, kind in cases:
        assert sniff(data, quick=True) == sniff(data) == kind
    # a flipped bit anywhere in the directory never makes the quick sniff call a workbook what
    # the full sniff calls something else
    for pos in range(form.find(b"PK\x01\x02"), len(form)):
        for bit in (0x01, 0x20, 0x80):
            data = bytearray(form)
            data[pos] ^= bit
            if sniff(bytes(data), quick=True) in ("xlsx", "xlsm"):
                assert sniff(bytes(data)) in ("xlsx", "xlsm", "damaged"), (pos, bit)


def _zip_names_reference(fh: io.BytesIO) -> set[bytes] | None:
    """The central-directory walk as first written (one name at a time): the quick sniff's
    names must stay exactly these, so its verdicts stay those the tests above pin down."""
    eocd, entry_head = struct.Struct("<4s4H2LH"), struct.Struct("<4s6H3L5H2L")
    size = fh.seek(0, io.SEEK_END)
    start = max(0, size - (eocd.size + 0xFFFF))
    fh.seek(start)
    tail = fh.read(size - start)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + eocd.size > len(tail):
        return None
    _, disk, cd_disk, on_disk, count, cd_size, cd_offset, comment = eocd.unpack_from(tail, pos)
    if (
        disk
        or cd_disk
        or on_disk != count
        or pos + eocd.size + comment != len(tail)
        or cd_offset + cd_size != start + pos
    ):
        return None
    if cd_offset >= start:
        directory = tail[cd_offset - start : pos]
    else:
        fh.seek(cd_offset)
        directory = fh.read(cd_size)
    names: set[bytes] = set()
    at = 0
    for _ in range(count):
        if at + entry_head.size > len(directory):
            return None
        entry = entry_head.unpack_from(directory, at)
        if entry[0] != b"PK\x01\x02":
            return None
        name_len, extra_len, comment_len = entry[10], entry[11], entry[12]
        raw = directory[at + entry_head.size : at + entry_head.size + name_len]
        names.add(raw.split(b"\x00", 1)[0].replace(b"\\", b"/").lower())
        at += entry_head.size + name_len + extra_len + comment_len
    return names if at == len(directory) else None


def test_quick_sniff_reads_the_same_member_names_as_the_reference_walk() -> None:
    from reporting.intake.sniff import _zip_names

    odd_names = io.BytesIO()
    with zipfile.ZipFile(odd_names, "w") as zf:
        for name in [
            "XL\\Workbook.XML",
            "xl/vbaProject.bin",
            "附件/宁波.xlsx",
            "a\x00b.txt",
            "Ä.txt",
        ]:
            zf.writestr(name, b"x")
        zf.comment = b"comment"
    form = _xlsx()
    bases = [form, odd_names.getvalue(), _zip({"a.txt": b"x"}), _zip({})]
    cases = [*bases]
    for base in bases:
        directory = base.rfind(b"PK\x01\x02")
        cases += [base[:cut] for cut in range(max(0, directory - 40), len(base), 7)]
        for pos in range(base.find(b"PK\x01\x02"), len(base)):
            for bit in (0x01, 0x04, 0x20, 0x80):
                data = bytearray(base)
                data[pos] ^= bit
                cases.append(bytes(data))
        cases.append(b"junk" + base)  # data before the archive
        cases.append(base + b"\x00" * 10)  # after it
    assert len(cases) > 4_000
    for data in cases:
        assert _zip_names(io.BytesIO(data)) == _zip_names_reference(io.BytesIO(data)), data[-80:]
    assert _zip_names(io.BytesIO(odd_names.getvalue())) == {
        b"xl/workbook.xml",
        b"xl/vbaproject.bin",
        "附件/宁波.xlsx".encode(),
        b"a",
        "Ä.txt".encode(),
    }
    assert sniff(odd_names.getvalue(), quick=True) == "xlsm"


def test_sniff_ole_family() -> None:
    assert sniff(_ole(["EncryptionInfo", "EncryptedPackage"])) == "encrypted"
    assert sniff(_ole(["Workbook"])) == "xls"
    assert sniff(_ole(["WordDocument"])) == "office"
    assert sniff(_ole(["Something"])) == "ole"
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40) == "ole"  # truncated


class _CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk


def test_sniff_reads_only_the_head_of_plain_files(tmp_path: Path) -> None:
    big = _CountingReader(("单位,人数\n" * 200_000).encode())
    assert sniff(big) == "csv"
    assert big.consumed <= HEAD_BYTES
    ole = _CountingReader(_ole(["Workbook"]) + b"\x00" * 1_000_000)
    assert sniff(ole) == "xls"
    assert ole.consumed <= HEAD_BYTES + 2048  # head, header, directory and FAT sectors
    path = tmp_path / "renamed.xlsx"
    path.write_bytes(b"%PDF-1.4" + b"\x00" * 100_000)
    assert sniff(path) == "pdf"


def test_reading_a_file_asks_for_its_size_and_still_honours_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"x" * 100)
    assert sources._read_regular(path, 100) == b"x" * 100
    with pytest.raises(SourceUnavailable):
        sources._read_regular(path, 99)
    # a file that grew after its size was taken is read whole, within the limit
    real_fstat = os.fstat

    def stale(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        return os.stat_result((*st[:6], 10, *st[7:]))

    monkeypatch.setattr(sources.os, "fstat", stale)
    assert sources._read_regular(path, 1000) == b"x" * 100
    with pytest.raises(SourceUnavailable):
        sources._read_regular(path, 50)
