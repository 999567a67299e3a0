"""Reading returned workbooks into plain data, and refusing what is not one (as data)."""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from datetime import date, datetime

import pytest

from reporting.intake import reader
from reporting.intake.reader import Limits, ReadResult, cell_ref, read_workbook, split_ref

# --- building workbooks ----------------------------------------------------------------------


def _xlsxwriter_form() -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    moment = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ws = wb.add_worksheet("数据")
    ws.write_row(0, 0, ["单位", 166, 2.5])
    ws.write_datetime(0, 3, datetime(2024, 3, 1), day)
    ws.write_datetime(0, 4, datetime(2024, 3, 1, 10, 30), moment)
    ws.write_boolean(0, 5, True)
    # row 2 left blank on purpose
    ws.write(2, 0, "第三行：学习讨论")
    ws.write(2, 2, 0)
    wb.add_worksheet("清单").write(4, 1, "只有 B5")
    meta = wb.add_worksheet("_meta")
    meta.write(0, 0, "plan")
    meta.hide()
    wb.close()
    return buf.getvalue()


def _openpyxl_book() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "月报"
    ws.append(["指标", "数值", "比例", "备注"])
    ws.append(["参加人数", 50, "=B2/B3", "后面的值"])  # formula never calculated
    ws.append(["职工人数", 0, None, "尾"])
    ws["C3"] = "#DIV/0!"  # openpyxl writes an error cell (t="e")
    hidden = wb.create_sheet("隐藏")
    hidden.sheet_state = "hidden"
    hidden["A1"] = "h"
    very = wb.create_sheet("元数据")
    very.sheet_state = "veryHidden"
    very["B2"] = "签名"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_CT = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def minimal_xlsx(
    sheet_data: str,
    *,
    dimension: str | None = None,
    prolog: str = "",
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """A hand-made workbook with one sheet "S" holding ``sheet_data`` (the <sheetData> body)."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData>{sheet_data}</sheetData></worksheet>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CT)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def _failed(result: ReadResult, code: str, reason: str) -> str:
    assert not result.ok and result.book is None
    assert (result.code, result.reason) == (code, reason), result
    assert result.message
    return result.message


# --- values ----------------------------------------------------------------------------------


def test_values_types_and_true_positions() -> None:
    result = read_workbook(_xlsxwriter_form(), "a.xlsx")
    assert result.ok and result.book is not None
    book = result.book
    assert book.format == "xlsx"
    assert list(book.sheets) == ["数据", "清单", "_meta"]
    data = book.sheets["数据"]
    assert data.rows[0] == [
        "单位",
        166.0,
        2.5,
        date(2024, 3, 1),
        datetime(2024, 3, 1, 10, 30),
        True,
    ]
    assert [type(v) for v in data.rows[0]] == [str, float, float, date, datetime, bool]
    assert data.rows[1] == [None] * 6  # the blank row keeps its place
    assert data.cell("A3") == "第三行：学习讨论"
    assert data.value(3, 3) == 0.0 and type(data.value(3, 3)) is float
    assert data.cell("Z99") is None and data.value(0, 1) is None
    assert len({len(row) for row in data.rows}) == 1  # rectangular
    ledger = book.sheets["清单"]
    assert ledger.n_rows == 5 and ledger.rows[4][1] == "只有 B5"  # padded from A1
    assert ledger.rows[0] == [None, None]
    assert book.sheets["_meta"].visibility == "hidden"
    assert data.visibility == "visible"
    assert book.formula_cells_without_value == () and book.error_cells == ()


def test_hidden_sheets_formulas_without_value_and_error_cells() -> None:
    result = read_workbook(_openpyxl_book())
    assert result.book is not None
    book = result.book
    assert [(s.name, s.visibility) for s in book.sheets.values()] == [
        ("月报", "visible"),
        ("隐藏", "hidden"),
        ("元数据", "veryhidden"),
    ]
    assert book.sheets["元数据"].cell("B2") == "签名"
    report = book.sheets["月报"]
    assert book.formula_cells_without_value == (("月报", "C2"),)
    assert report.rows[1] == ["参加人数", 50.0, None, "后面的值"]  # never read as 0
    assert book.error_cells == (("月报", "C3", "#DIV/0!"),)
    assert report.rows[2] == ["职工人数", 0.0, None, "尾"]


def test_own_sheets_are_not_searched_for_formulas_but_still_read_safely() -> None:
    book = read_workbook(_openpyxl_book(), own_sheets={"月报"}).book
    assert book is not None
    assert book.formula_cells_without_value == () and book.error_cells == ()
    # their values still read as None, never 0
    assert book.sheets["月报"].rows[1] == ["参加人数", 50.0, None, "后面的值"]
    assert book.sheets["月报"].rows[2] == ["职工人数", 0.0, None, "尾"]
    # the extent (measured when there is no dimension) and the prolog are still checked
    far = minimal_xlsx('<row r="1048576"><c r="XFD1048576"><f>1</f></c></row>')
    assert read_workbook(far, own_sheets={"S"}).reason == "too-large-extent"
    doctype = minimal_xlsx("", prolog="<!DOCTYPE x [<!ENTITY a 'b'>]>", dimension="A1")
    assert read_workbook(doctype, own_sheets={"S"}).reason == "unsafe-xml"


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _with_sheet(sheet: str) -> bytes:
    """``minimal_xlsx`` with its worksheet part replaced by ``sheet`` (the whole XML)."""
    src = zipfile.ZipFile(io.BytesIO(minimal_xlsx("", dimension="A1")))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            zf.writestr(info, sheet if info.filename.endswith("sheet1.xml") else src.read(info))
    return buf.getvalue()


@pytest.mark.parametrize("variant", ["plain", "prefixed", "commented", "spaced", "cdata"])
def test_formulas_and_errors_are_found_among_the_cells_wherever_they_stand(
    variant: str,
) -> None:
    """The byte search looks between <sheetData> and </sheetData> (where cells are) when the
    sheet is written as office suites write it, and through the whole sheet otherwise."""
    cells = (
        '<row r="1"><c r="A1"><v>1</v></c></row>'
        '<row r="40"><c r="A40"><f>1+1</f></c><c r="B40" t="e"><v>#N/A</v></c>'
        '<c r="C40"><v>3</v></c></row>'
    )
    tail = (
        '<conditionalFormatting sqref="A1"><cfRule type="expression" dxfId="0" priority="1">'
        '<formula>A1=""</formula></cfRule></conditionalFormatting>'
    )
    head = '<?xml version="1.0"?><worksheet xmlns="' + _MAIN + '"><dimension ref="A1:C40"/>'

    def sheet(cells: str) -> bytes:
        xml = f"{head}<sheetData>{cells}</sheetData>{tail}</worksheet>"
        if variant == "prefixed":
            xml = re.sub(r"<(/?)(?!\?)", r"<\1x:", xml).replace("xmlns=", "xmlns:x=")
        elif variant == "commented":  # the first "<sheetData" is not the element
            xml = xml.replace("<dimension", "<!-- <sheetData> --><dimension")
        elif variant == "spaced":  # whitespace inside the tags
            xml = xml.replace("<sheetData>", "<sheetData >").replace(
                "</sheetData>", "</sheetData >"
            )
        elif variant == "cdata":  # a literal end tag in a cell's text, before the formula
            text = '<c r="C1" t="inlineStr"><is><t><![CDATA[</sheetData>]]></t></is></c>'
            xml = xml.replace("<v>1</v></c>", "<v>1</v></c>" + text, 1)
        return _with_sheet(xml)

    book = read_workbook(sheet(cells)).book
    assert book is not None
    assert book.formula_cells_without_value == (("S", "A40"),)
    assert book.error_cells == (("S", "B40", "#N/A"),)
    assert book.sheets["S"].rows[39] == [None, None, 3.0]
    if variant == "cdata":
        assert book.sheets["S"].rows[0] == [1.0, None, "</sheetData>"]
    # a formula in the conditional formats alone is no cell of the sheet
    quiet = read_workbook(sheet(cells.replace("<f>1+1</f>", "<v>2</v>"))).book
    assert quiet is not None and quiet.formula_cells_without_value == ()


def test_a_row_lost_by_calamine_is_recovered_from_the_xml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Some calamine versions drop the whole row of a formula without a cached value."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "动作"
    ws.append(["动作", "日期", "人数", "合计", "完成", "时间"])
    ws.append(["学习会", date(2024, 5, 6), 30, "=C2*2", True, datetime(2024, 5, 6, 9, 15)])
    ws["B2"].number_format = "yyyy-mm-dd"
    buf = io.BytesIO()
    wb.save(buf)

    original = reader._normalise

    def losing(rows: list[list[object]]) -> list[list[reader.Value]]:
        out = original(rows)
        if len(out) > 1 and out[0][0] == "动作":
            out[1] = [None] * len(out[1])
        return out

    monkeypatch.setattr(reader, "_normalise", losing)
    book = read_workbook(buf.getvalue()).book
    assert book is not None
    assert book.formula_cells_without_value == (("动作", "D2"),)
    assert book.sheets["动作"].rows[1] == [
        "学习会",
        date(2024, 5, 6),
        30.0,
        None,
        True,
        datetime(2024, 5, 6, 9, 15),
    ]


def test_cells_without_references_keep_their_positions() -> None:
    data = minimal_xlsx(
        '<row><c t="inlineStr"><is><t>甲</t></is></c><c><f>1+1</f></c><c><v>3</v></c></row>'
        '<row r="3"><c t="e"><v>#N/A</v></c><c t="b"><v>1</v></c></row>'
    )
    book = read_workbook(data).book
    assert book is not None
    assert book.sheets["S"].rows == [["甲", None, 3.0], [None, None, None], [None, True, None]]
    assert book.formula_cells_without_value == (("S", "B1"),)
    assert book.error_cells == (("S", "A3", "#N/A"),)


def test_xlsm_is_read_as_xlsm() -> None:
    source = _xlsxwriter_form()
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("xl/vbaProject.bin", b"\x00" * 16)
    book = read_workbook(buf.getvalue()).book
    assert book is not None and book.format == "xlsm"


def test_refs() -> None:
    assert split_ref("B7") == (7, 2)
    assert split_ref("$XFD$1048576") == (1048576, 16384)
    assert cell_ref(1048576, 16384) == "XFD1048576"
    assert cell_ref(3, 27) == "AA3"
    with pytest.raises(ValueError):
        split_ref("7B")


# --- what is not a readable workbook ---------------------------------------------------------


def _flip_in_sheet_data(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    pos = start + info.compress_size // 2
    return data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1 :]


def test_not_workbooks_are_findings_with_advice() -> None:
    form = _xlsxwriter_form()
    assert _failed(read_workbook(b""), "unreadable", "empty").startswith("文件是空的（0 字节）")
    html = "<html><head><title>附件预览</title></head><body></body></html>".encode()
    assert "邮箱“下载”得到的预览页" in _failed(read_workbook(html), "unreadable", "html")
    assert "CSV" in _failed(read_workbook("单位,人数\n甲,5\n".encode()), "unreadable", "csv")
    truncated = _failed(read_workbook(form[: len(form) // 2]), "unreadable", "truncated")
    assert truncated == "文件不完整（可能下载或发送中断），请重新发送"
    assert "损坏" in _failed(read_workbook(_flip_in_sheet_data(form)), "unreadable", "corrupt")
    _failed(read_workbook(b"%PDF-1.5\n"), "unreadable", "not-excel")
    _failed(read_workbook(b"\x01\x02\x03\x00garbage"), "unreadable", "unknown")
    with zipfile.ZipFile(buf := io.BytesIO(), "w") as zf:
        zf.writestr("xl/workbook.bin", b"")
    assert ".xlsb" in _failed(read_workbook(buf.getvalue()), "unreadable", "xlsb")


def test_workbook_missing_a_part() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_xlsxwriter_form())) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info, src.read(info))
    result = read_workbook(buf.getvalue())
    assert not result.ok and result.code == "unreadable"


def _encrypted_ole() -> bytes:
    """A minimal OLE compound file with the streams of a password-protected OOXML workbook."""
    import struct

    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIII", header, 0x2C, 1, 1, 0, 4096)
    struct.pack_into("<IIII", header, 0x3C, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([0xFFFFFFFF] * 108))
    fat = bytearray(b"\xff" * 512)
    struct.pack_into("<II", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE)
    directory = bytearray(512)
    for i, (name, kind) in enumerate(
        [("Root Entry", 5), ("EncryptionInfo", 2), ("EncryptedPackage", 2)]
    ):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        directory[i * 128 : i * 128 + len(raw)] = raw
        struct.pack_into("<HB", directory, i * 128 + 0x40, len(raw), kind)
    return bytes(header + fat + directory)


def test_encrypted_workbook_crafted() -> None:
    message = _failed(read_workbook(_encrypted_ole()), "encrypted", "encrypted")
    assert message == "文件设置了打开密码，请取消密码后重新报送"


def test_encrypted_workbook_real() -> None:
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml")
    out = io.BytesIO()
    ooxml.OOXMLFile(io.BytesIO(_xlsxwriter_form())).encrypt("secret", out)
    _failed(read_workbook(out.getvalue()), "encrypted", "encrypted")


def test_members_read_from_memory_exactly_as_zipfile_reads_them() -> None:
    """The reader's zip reads members straight from the bytes: same data, and an error
    wherever zipfile has one (a corrupt stream may be noticed by its CRC instead of zlib)."""
    form = _xlsxwriter_form()
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.xml", b"<a/>" * 50)
        zf.writestr("empty.xml", b"")
        zf.writestr("名字.xml", "文字".encode())
    rnd = random.Random(20240601)

    def outcome(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, object]:
        try:
            return ("ok", zf.read(info))
        except (zipfile.BadZipFile, zlib.error) as exc:
            return ("corrupt" if "CRC" in str(exc) or isinstance(exc, zlib.error) else "bad", "")
        except (EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            return (type(exc).__name__, "")

    def stream_head(zf: zipfile.ZipFile, info: zipfile.ZipInfo, size: int) -> bytes:
        with zf.open(info) as fh:
            return fh.read(size)

    def head_outcome(read: Callable[..., bytes], *args: object) -> tuple[str, object]:
        try:
            return ("ok", read(*args))
        except (zipfile.BadZipFile, zlib.error) as exc:
            return ("corrupt" if "CRC" in str(exc) or isinstance(exc, zlib.error) else "bad", "")
        except (EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            return (type(exc).__name__, "")

    for base in (form, stored.getvalue()):
        headers = [m.start() for m in re.finditer(rb"PK\x03\x04|PK\x01\x02", base)]
        cases = [base, base[:-30], base[: len(base) // 2]]
        for _ in range(400):
            data = bytearray(base)
            pos = rnd.choice(headers) + rnd.randrange(46) if rnd.random() < 0.7 else None
            data[min(len(data) - 1, pos if pos is not None else rnd.randrange(len(data)))] ^= (
                1 << rnd.randrange(8)
            )
            cases.append(bytes(data))
        for data in cases:
            try:
                plain, memory = zipfile.ZipFile(io.BytesIO(data)), reader._MemoryZip(data)
            except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, OSError):
                continue
            for a, b in zip(plain.infolist(), memory.infolist(), strict=True):
                if a.file_size < 10_000_000:
                    assert outcome(plain, a) == outcome(memory, b)
                    # the head: what zipfile's stream gives, or an error where it has one
                    # (zipfile inflates up to 4 KiB ahead, so it may meet corruption first)
                    for size in (0, 5, 1024):
                        mine = head_outcome(memory.head, b, size)
                        theirs = head_outcome(stream_head, plain, a, size)
                        assert mine == theirs or (mine[0] == "ok" and theirs[0] != "ok")


def test_zip_bombs_are_refused_before_decompression(monkeypatch: pytest.MonkeyPatch) -> None:
    form = _xlsxwriter_form()
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(form)) as src,
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        with dst.open("xl/media/padding.bin", "w") as member:  # 24 MB of zeros → ~24 KB
            chunk = b"\x00" * (1024 * 1024)
            for _ in range(24):
                member.write(chunk)
    bomb = buf.getvalue()
    assert len(bomb) < 200_000

    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self: zipfile.ZipFile, name: str | zipfile.ZipInfo, *args: object, **kw: object):  # type: ignore[no-untyped-def]
        opened.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return real_open(self, name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    message = _failed(read_workbook(bomb), "unreadable", "zip-bomb")
    assert "压缩炸弹" in message
    assert opened == []  # refused from the directory alone
    total = Limits(max_total_bytes=10 * 1024 * 1024)
    _failed(read_workbook(bomb, limits=total), "unreadable", "zip-bomb")
    _failed(read_workbook(form, limits=Limits(max_entries=5)), "unreadable", "zip-bomb")


_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)


def test_dtds_and_entities_are_refused() -> None:
    laughs = minimal_xlsx(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row>', prolog=_LAUGHS
    )
    assert "不安全的 XML" in _failed(read_workbook(laughs), "unreadable", "unsafe-xml")
    external = (
        '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<si><t>&x;</t></si></sst>"
    )
    shared = minimal_xlsx(
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
        extra={"xl/sharedStrings.xml": external.encode()},
    )
    _failed(read_workbook(shared), "unreadable", "unsafe-xml")
    # the workbook part, parsed once per distinct bytes: a refusal is never remembered as a pass
    workbook = minimal_xlsx('<row r="1"><c r="A1"><v>1</v></c></row>')
    assert read_workbook(workbook).ok and read_workbook(workbook).ok
    hostile = _replace_member(
        workbook, "xl/workbook.xml", lambda xml: xml.replace(b"?>", b"?>" + _LAUGHS.encode(), 1)
    )
    for _ in range(2):
        _failed(read_workbook(hostile), "unreadable", "unsafe-xml")


def _replace_member(data: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info, change(body) if info.filename == name else body)
    return out.getvalue()


def test_sheet_extent_beyond_a_form_is_refused_before_calamine() -> None:
    far = (
        '<row r="1"><c r="A1"><v>1</v></c></row>'
        '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    )
    message = _failed(read_workbook(minimal_xlsx(far)), "unreadable", "too-large-extent")
    assert "XFD1048576" in message
    # A dimension that claims the whole sheet is checked against the real cells.
    book = read_workbook(
        minimal_xlsx('<row r="1"><c r="B1"><v>1</v></c></row>', dimension="A1:XFD1048576")
    ).book
    assert book is not None and book.sheets["S"].rows == [[None, 1.0]]
    wide = '<row r="1"><c r="A1"><v>1</v></c><c r="GS1"><v>2</v></c></row>'
    _failed(read_workbook(minimal_xlsx(wide)), "unreadable", "too-large-extent")
    read_workbook(minimal_xlsx(wide), limits=Limits(max_cols=201)).book  # noqa: B018


def test_a_worksheet_outside_xl_worksheets_is_checked_too() -> None:
    """calamine reads a sheet as a worksheet by its relationship's type, wherever its part
    lies: the XML pass must check such a part like any other."""

    def moved(data: bytes, folder: str) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                body = src.read(info)
                name = info.filename.replace("worksheets/", folder)
                dst.writestr(
                    name, body.replace(b"worksheets/sheet1.xml", f"{folder}sheet1.xml".encode())
                )
        return out.getvalue()

    formula = minimal_xlsx('<row r="1"><c r="A1"><v>1</v></c><c r="B1"><f>1+1</f></c></row>')
    far = minimal_xlsx('<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    for folder in ("elsewhere/", "chartsheets/", ""):
        book = read_workbook(moved(formula, folder)).book
        assert book is not None and book.formula_cells_without_value == (("S", "B1"),), folder
        assert read_workbook(moved(far, folder)).reason == "too-large-extent", folder


def test_read_workbook_task() -> None:
    result = reader.read_workbook_task((_xlsxwriter_form(), "a.xlsx"))
    assert result.ok and result.kind == "xlsx"


def test_a_panic_inside_calamine_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    import python_calamine

    class PanicException(BaseException):  # what pyo3 raises for a Rust panic
        pass

    class Exploding:
        @staticmethod
        def from_filelike(_: object) -> None:
            raise PanicException("range end index 29449 out of range for slice of length 9")

    monkeypatch.setattr(python_calamine, "CalamineWorkbook", Exploding)
    message = _failed(read_workbook(_xlsxwriter_form()), "unreadable", "corrupt")
    assert "损坏" in message


@pytest.fixture(scope="module")
def libreoffice_xls(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The test form re-saved as a real BIFF .xls by LibreOffice (skipped without it)."""
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) not installed")
    folder = tmp_path_factory.mktemp("xls")
    source = folder / "form.xlsx"
    source.write_bytes(_xlsxwriter_form())
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{folder / 'profile'}",
            "--headless",
            "--convert-to",
            "xls",
            "--outdir",
            str(folder),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return (folder / "form.xls").read_bytes()


def test_real_xls_saved_by_libreoffice(libreoffice_xls: bytes) -> None:
    result = read_workbook(libreoffice_xls, "form.xls")
    assert result.kind == "xls" and result.book is not None
    book = result.book
    assert book.format == "xls"
    assert list(book.sheets) == ["数据", "清单", "_meta"]
    data = book.sheets["数据"]
    assert data.rows[0] == [
        "单位",
        166.0,
        2.5,
        date(2024, 3, 1),
        datetime(2024, 3, 1, 10, 30),
        True,
    ]
    assert type(data.rows[0][1]) is float  # calamine gives int from .xls
    assert data.cell("A3") == "第三行：学习讨论" and data.cell("C3") == 0.0
    assert book.sheets["_meta"].visibility == "hidden"


def test_corrupted_xls_never_raises(libreoffice_xls: bytes) -> None:
    """Corrupt BIFF records make calamine panic (an exception we turn into a finding) or abort
    (the sandbox's business); nothing else may escape the reader."""
    from reporting.intake.sandbox import run_isolated

    rnd = random.Random(7)
    tasks = []
    for i in range(200):
        data = bytearray(libreoffice_xls)
        for _ in range(1 + i % 4):
            data[rnd.randrange(512, len(data))] = rnd.randrange(256)
        tasks.append((bytes(data), f"corrupt-{i}.xls"))
    outcomes = run_isolated(reader.read_workbook_task, tasks, workers=2, timeout_s=5)
    assert [o.detail for o in outcomes if o.failure not in (None, "crashed")] == []
    results = [o.result for o in outcomes if o.result is not None]
    assert any(r.ok for r in results) and any(r.reason == "corrupt" for r in results)


# --- what calamine is given --------------------------------------------------------------------


def _calamine_input(monkeypatch: pytest.MonkeyPatch, data: bytes) -> tuple[ReadResult, bytes]:
    seen: list[bytes] = []
    real = reader._read_calamine

    def spy(given: bytes, *args: object) -> ReadResult:
        seen.append(given)
        return real(given, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(reader, "_read_calamine", spy)
    result = read_workbook(data, "x.xlsx")
    monkeypatch.setattr(reader, "_read_calamine", real)
    (given,) = seen
    return result, given


@pytest.mark.parametrize("make", [_xlsxwriter_form, _openpyxl_book], ids=["xlsxwriter", "openpyxl"])
def test_calamine_reads_the_checked_worksheets_stored(monkeypatch, make):
    data = make()
    result, given = _calamine_input(monkeypatch, data)
    with zipfile.ZipFile(io.BytesIO(data)) as a, zipfile.ZipFile(io.BytesIO(given)) as b:
        assert b.namelist() == a.namelist()
        for info in b.infolist():
            original = a.getinfo(info.filename)
            assert b.read(info) == a.read(original)
            if info.filename.startswith("xl/worksheets/sheet"):
                assert info.compress_type == zipfile.ZIP_STORED
            else:  # the other members' compressed bytes as they were
                assert info.compress_type == original.compress_type
                assert info.compress_size == original.compress_size
    assert result.ok and result.book is not None
    # the same values as calamine reading the original file
    plain = reader._read_calamine(data, "xlsx", None, "x.xlsx")
    assert plain.book is not None
    if make is _xlsxwriter_form:
        assert result.book.sheets == plain.book.sheets
    else:  # (the XML pass blanks the formula without a value and the error cell there)
        assert set(result.book.sheets) == set(plain.book.sheets)


def test_a_workbook_with_a_member_twice_goes_to_calamine_as_it_is(monkeypatch):
    data = _xlsxwriter_form()
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        with pytest.warns(UserWarning, match="Duplicate name"):
            out.writestr("docProps/app.xml", src.read("docProps/app.xml"))
    twice = buf.getvalue()
    _, given = _calamine_input(monkeypatch, twice)
    assert given == twice
