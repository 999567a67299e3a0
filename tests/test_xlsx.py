"""The shared workbook writer: the quick cell loop writes exactly XlsxWriter's XML, and
``Book.put`` keeps every value's type."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
import xlsxwriter

from reporting.xlsx import SAFE_OPTIONS, Book, table_worksheet_class


def _sheet_xml(worksheet_class: type | None) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, SAFE_OPTIONS)
    ws = wb.add_worksheet("表", worksheet_class=worksheet_class)
    bold = wb.add_format({"bold": True, "border": 1})
    pct = wb.add_format({"num_format": "0.0%"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.set_row(3, 40, bold)
    ws.set_column(5, 5, 12, pct)
    for r in range(30):
        ws.write_string(r, 0, f'U{r:03d} & <名称> "引号"', bold)
        ws.write_number(r, 1, r * 1.25 + 1e-9, pct)
        ws.write_number(r, 2, 10**r, None)  # unformatted: XlsxWriter's own path
        ws.write_datetime(r, 3, datetime(2014, 5, 1 + r % 28, 8, 30), day)
        ws.write_blank(r, 4, None, bold)
        ws.write_number(r, 5, -r)  # takes the column format
        ws.write_formula(r, 6, f"=B{r + 1}*2", bold, r * 2.5)
        ws.write_rich_string(r, 7, "甲", bold, "乙", "丙")
        ws.write_string(r, 8, "  leading space", pct)
        ws.write_string(r, 9, "控制\x01字符", day)
    ws.set_row(40, 30)  # a row with a height and no cells, then a gap, then a lone cell
    ws.write_number(45, 3, 1, bold)
    ws.set_row(50, 20, pct)  # rows after the last cell
    wb.close()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        return zf.read("xl/worksheets/sheet1.xml") + zf.read("xl/sharedStrings.xml")


def test_quick_cell_loop_writes_xlsxwriters_bytes():
    assert _sheet_xml(table_worksheet_class()) == _sheet_xml(None)


def test_put_keeps_types_and_never_makes_formulas():
    book = Book()
    ws = book.sheet("数据")
    values = [
        "=SUM(A1:A2)",
        "http://example.com",
        "00123",
        "",
        None,
        True,
        False,
        7,
        2.5,
        float("nan"),
        date(2014, 6, 5),
        datetime(2014, 6, 5, 17, 30),
    ]
    for i, v in enumerate(values):
        book.put(ws, i, 0, v)
    book.put(ws, 0, 1, 0.5, book.pct)
    wb = openpyxl.load_workbook(io.BytesIO(book.close()))
    got = [wb["数据"].cell(i + 1, 1) for i in range(len(values))]
    assert [c.value for c in got[:4]] == ["=SUM(A1:A2)", "http://example.com", "00123", None]
    assert got[0].data_type == "s" and got[2].data_type == "s"
    assert [c.value for c in got[4:10]] == [None, "是", "否", 7, 2.5, "nan"]
    assert got[10].value == datetime(2014, 6, 5) and got[10].number_format == "yyyy-mm-dd"
    assert got[11].value == datetime(2014, 6, 5, 17, 30)
    assert got[11].number_format == "yyyy-mm-dd hh:mm"
    assert got[7].number_format == "#,##0.##" and got[7].border.left.style == "thin"
    assert wb["数据"]["B1"].number_format == "0.0%"


def test_put_writes_what_xlsxwriters_public_writers_write():
    book = Book()
    quick, public = book.sheet("甲"), book.sheet("乙")
    cells = [
        ("单位 & <名称>", book.cell),
        ("", book.wrap),
        (None, book.center),
        (3, book.cell),
        (0.125, book.pct),
        (-7.5, None),
        ("重复的文字", book.bold),
        ("重复的文字", book.bold),
        ("长" * 20_000, book.cell),  # beyond the quick path: truncated by XlsxWriter alike
    ]
    for r in range(40):
        for c, (value, fmt) in enumerate(cells):
            if (r + c) % 7 == 0:
                continue  # gaps
            book.put(quick, r, c, value, fmt)
            f = fmt or book.cell
            if value is None or value == "":
                public.write_blank(r, c, None, f)
            elif isinstance(value, str):
                public.write_string(r, c, value, f)
            else:
                public.write_number(r, c, value, book.num if f is book.cell else f)
    data = book.close()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        a, b = (zf.read(f"xl/worksheets/sheet{n}.xml") for n in (1, 2))
    # the first sheet is the selected tab; everything from the cells on must be the same
    assert a.split(b"<dimension")[1].split(b"/>")[0] == b.split(b"<dimension")[1].split(b"/>")[0]
    assert a.split(b"<sheetData>")[1] == b.split(b"<sheetData>")[1]


def _public_put(book: Book, ws, r: int, c: int, value, fmt) -> None:
    """What Book.put means, through XlsxWriter's public writers."""
    f = fmt or book.cell
    if value is None or value == "":
        ws.write_blank(r, c, None, f)
    elif isinstance(value, bool):
        ws.write_string(r, c, "是" if value else "否", f)
    elif isinstance(value, datetime):
        ws.write_datetime(r, c, value, book.time if f is book.cell else f)
    elif isinstance(value, date):
        day = datetime.combine(value, datetime.min.time())
        ws.write_datetime(r, c, day, book.day if f is book.cell else f)
    elif isinstance(value, str):
        ws.write_string(r, c, value, f)
    elif value != value:
        ws.write_string(r, c, str(value), f)
    else:
        ws.write_number(r, c, value, book.num if f is book.cell else f)


def test_row_writes_what_put_and_xlsxwriter_write():
    book = Book()
    quick, public = book.sheet("甲"), book.sheet("乙")
    rows = [
        ["单位 & <名称>", 3, 0.125, None, "", "重复", -7.5, 1 / 3],
        ["重复", "单位 & <名称>", 1e-9, "控制\x01字符", "  前导空格", 0, None, "末"],
        ["有日期的行", date(2014, 6, 5), datetime(2014, 6, 5, 17, 30), False, True, 2],
        ["不走快路的行", "<r>像富文本</r>", float("nan")],  # goes through put
        ["长" * 20_000, "超长的文字由 XlsxWriter 截断"],
    ]
    formats = [book.cell, None, book.pct, book.center, book.wrap, book.bold, None, book.num]
    for r in range(60):
        values = rows[r % len(rows)]
        if r % 9 == 4:  # ordinary cells in the same 16-row blocks (spans)
            for c, value in enumerate(values[:3]):
                book.put(quick, r, c + 2, value, formats[c])
                _public_put(book, public, r, c + 2, value, formats[c])
            continue
        if r == 5:  # a row with a height takes XlsxWriter's own row tag
            quick.set_row(r, 30)
            public.set_row(r, 30)
        book.row(quick, r, values, formats[: len(values)])
        for c, value in enumerate(values):
            _public_put(book, public, r, c, value, formats[c])
    data = book.close()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        a, b = (zf.read(f"xl/worksheets/sheet{n}.xml") for n in (1, 2))
        sst = zf.read("xl/sharedStrings.xml")
    assert a.split(b"<dimension")[1].split(b"/>")[0] == b.split(b"<dimension")[1].split(b"/>")[0]
    assert a.split(b"<sheetData>")[1] == b.split(b"<sheetData>")[1]
    # the table counts every use of a string, the quick rows' too
    uses = a.count(b't="s"') * 2
    assert f'count="{uses}"'.encode() in sst
    assert b'<row r="6" spans="1:8" ht="30" customHeight="1">' in a
    got = openpyxl.load_workbook(io.BytesIO(data))["甲"]
    assert [c.value for c in got[1]] == ["单位 & <名称>", 3, 0.125, None, None, "重复", -7.5, 1 / 3]
    assert got["B1"].number_format == "#,##0.##" and got["C1"].number_format == "0.0%"


def test_row_owns_its_row():
    book = Book()
    ws = book.sheet("表")
    book.row(ws, 0, ["甲", 1])
    with pytest.raises(RuntimeError, match="twice"):
        book.row(ws, 0, ["乙"])
    book.put(ws, 0, 5, "另写一格")
    with pytest.raises(RuntimeError, match="both"):
        book.close()
    from reporting.errors import ReportingError

    with pytest.raises(ReportingError, match="超出 Excel 一个工作表的范围"):
        Book().row(ws, 1_048_576, ["第 1048577 行"])


def test_text_that_looks_like_rich_text_stays_text():
    """XlsxWriter copies "<r>…</r>" into the shared strings as raw XML: a unit's ledger entry
    like the second one made the bureau's summary unreadable."""
    texts = ["<r>富文本</r>", "<r></t></si></sst>坏了</r>", "<r>a & b</r>", "<r>"]
    book = Book()
    ws = book.sheet("数据")
    for i, text in enumerate(texts):
        book.put(ws, i, 0, text)
        ws.write_string(i, 1, text)
    wb = openpyxl.load_workbook(io.BytesIO(book.close()))
    assert [[c.value for c in row] for row in wb["数据"].iter_rows()] == [[t, t] for t in texts]


def test_a_cell_beyond_the_sheet_is_a_clear_error_not_a_dropped_value():
    from reporting.errors import ReportingError

    book = Book()
    ws = book.sheet("数据")
    with pytest.raises(ReportingError, match="超出 Excel 一个工作表的范围"):
        book.put(ws, 1_048_576, 0, "第 1048577 行")


def test_books_are_compressed_at_the_quicker_level():
    import zlib

    from reporting.xlsx import ZIP_LEVEL

    book = Book()
    ws = book.sheet("表")
    for r in range(500):
        book.row(ws, r, [f"U{r:05d}", f"单位{r}", r * 1.5, "已完成" if r % 3 else "未完成"])
    data = book.close()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        for info in zf.infolist():
            packer = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)
            raw = zf.read(info)
            assert len(packer.compress(raw) + packer.flush()) == info.compress_size, info.filename
    import xlsxwriter.workbook

    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile  # put back after closing
