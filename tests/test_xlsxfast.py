"""reporting.xlsxfast: workbooks made from a template are XlsxWriter's workbooks, byte for byte
(but the creation time), and anything the recorder does not mirror goes through XlsxWriter."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from typing import Any

import openpyxl
import pytest

from reporting.xlsx import SAFE_OPTIONS
from reporting.xlsxfast import Templates, xlsxwriter_render

_WHEN = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def parts(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        return [(n, _WHEN.sub(b"<when>", z.read(n))) for n in z.namelist()]


def same(templates: Templates, build: Any) -> bytes:
    fast = templates.render(build)
    assert parts(fast) == parts(xlsxwriter_render(build, SAFE_OPTIONS))
    return fast


def varied(wb: Any, texts: list[str], numbers: list[float], rows: int = 40) -> Any:
    """A workbook touching every kind of cell and row the recorder mirrors."""
    wb.set_properties({"title": texts[0], "subject": texts[1], "author": "局办公室"})
    box = wb.add_format({"border": 1, "text_wrap": True})
    bold = wb.add_format({"bold": True, "align": "center"})
    same_as_box = wb.add_format({"text_wrap": True, "border": 1})
    first = wb.add_worksheet("表一")
    other = wb.add_worksheet("表二")
    first.merge_range(0, 0, 0, 5, "", bold)
    first.write_string(0, 0, texts[0], bold)
    first.merge_range(2, 1, 4, 3, texts[1], box)  # several rows
    for r in range(5, rows):
        first.write_string(r, 0, texts[r % len(texts)], box)
        first.write_number(r, 1, numbers[r % len(numbers)], same_as_box)
        first.write_blank(r, 2, None, box)
        first.write_blank(r, 3, None)  # no format: not written at all
        if r % 7 == 0:
            first.write_string(r, 30, "AE 列", None)  # a later column, no style
    first.write_formula(rows, 1, f"=SUM(B6:B{rows})", bold, 12.5)
    first.write_formula(rows, 2, '=IF(B1="","空","<有>")', bold, "<有>")
    first.write_formula(rows, 3, "=ISNUMBER(B6)", bold, True)
    first.write_formula(rows, 4, "=AND(B6>0,B7<1)", None)
    first.set_row(0, 30)
    first.set_row(rows + 3, 28)  # a row with a height and no cells
    first.set_column(0, 0, 12)
    first.data_validation(5, 1, 40, 1, {"validate": "decimal", "criteria": ">=", "value": 0})
    first.conditional_format(5, 1, 40, 1, {"type": "blanks", "format": bold})
    first.set_footer(f"&C{texts[2][:20]}　第 &P 页")
    first.protect("pw", {"format_columns": True})
    other.set_row(3, 15)  # before any cell: counts column A
    other.write_string(5, 4, texts[3])
    other.write_number(6, 4, 7)
    other.very_hidden()
    first.activate()
    return first


TEXTS = [
    "标题",
    "  前后有空格  ",
    "A&B<C>\"D\"'E' 😀",
    "控制\x01字符\x1f _x0041_ \ufffe",
    "制表\t换行\n回车\r",
    "=SUM(A1)",
    "http://example.com",
    "12345",
    "",
    "<r>x</r>中间",
    "结尾换行\n",
]
NUMBERS = [0, -0.0, 1 / 3, 1e20, 123456789012345678, -2.5, 40, True]


def test_template_workbooks_are_xlsxwriter_workbooks():
    templates = Templates(SAFE_OPTIONS)
    for shift in range(4):
        texts, numbers = TEXTS[shift:] + TEXTS[:shift], NUMBERS[shift:] + NUMBERS[:shift]
        same(templates, lambda wb, t=texts, n=numbers: varied(wb, t, n))
    same(templates, lambda wb: varied(wb, TEXTS, NUMBERS, rows=70))  # more rows, same layout
    assert templates.stats == {"template": 5}
    assert len(templates._cache) == 1


def test_another_layout_gets_its_own_template():
    templates = Templates(SAFE_OPTIONS)

    def build(wb: Any, width: int) -> None:
        varied(wb, TEXTS, NUMBERS).set_column(1, 1, width)

    same(templates, lambda wb: build(wb, 10))
    same(templates, lambda wb: build(wb, 20))
    same(templates, lambda wb: build(wb, 10))
    assert templates.stats == {"template": 3} and len(templates._cache) == 2


def test_what_the_recorder_does_not_mirror_goes_through_xlsxwriter():
    templates = Templates(SAFE_OPTIONS)

    def commented(wb: Any) -> None:
        varied(wb, TEXTS, NUMBERS).write_comment(1, 1, "注")

    def long_text(wb: Any) -> None:
        varied(wb, ["😀" * 20_000, *TEXTS], NUMBERS)  # over 32,767 UTF-16 units: cut

    def new_function(wb: Any) -> None:
        varied(wb, TEXTS, NUMBERS).write_formula(60, 0, "=XLOOKUP(1,A1:A2,B1:B2)")

    for build in (commented, long_text, new_function):
        same(templates, build)
    assert templates.stats == {"unsupported": 3} and not templates._cache


def test_a_layout_whose_check_fails_goes_through_xlsxwriter(monkeypatch: pytest.MonkeyPatch):
    import reporting.xlsxfast as fast

    templates = Templates(SAFE_OPTIONS)
    real = fast._merge_cells
    monkeypatch.setattr(fast, "_merge_cells", lambda ws: real(ws).replace("mergeCell ", "x "))
    same(templates, lambda wb: varied(wb, TEXTS, NUMBERS))
    same(templates, lambda wb: varied(wb, TEXTS[1:], NUMBERS))
    assert templates.stats == {"mismatch": 2} and list(templates._cache.values()) == [None]


def test_rich_text_lookalike_stays_text():
    """XlsxWriter copies a string like ``<r>…</r>`` into the shared strings unescaped (the file
    breaks); from a template it is text like any other, and the XlsxWriter path writes it as a
    one-run rich string (reporting.xlsx.plain_text)."""
    templates = Templates(SAFE_OPTIONS)
    same(templates, lambda wb: varied(wb, TEXTS, NUMBERS))
    for text in ("<r>A&B</r>", "<r></t></si></sst>坏</r>"):
        build = lambda wb, text=text: varied(wb, [text, *TEXTS], NUMBERS)  # noqa: E731
        for data in (templates.render(build), xlsxwriter_render(build, SAFE_OPTIONS)):
            wb = openpyxl.load_workbook(io.BytesIO(data))
            assert wb["表一"]["A1"].value == text


def test_only_plain_options_are_mirrored():
    with pytest.raises(ValueError):
        Templates({**SAFE_OPTIONS, "strings_to_numbers": True})


def test_read_back_values():
    data = Templates(SAFE_OPTIONS).render(lambda wb: varied(wb, TEXTS, NUMBERS))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["表一"]
    assert ws["A1"].value == "标题" and ws["B3"].value == "  前后有空格  "
    assert {m.coord for m in ws.merged_cells.ranges} == {"A1:F1", "B3:D5"}
    assert ws["A8"].value == TEXTS[7] and ws["B8"].value == NUMBERS[7] and ws["AE8"].value
    assert ws["B41"].value == "=SUM(B6:B40)"
    assert ws.row_dimensions[1].height == 30 and ws.row_dimensions[44].height == 27.75
    assert ws.oddFooter.center.text.startswith("A&B")
    assert wb["表二"].sheet_state == "veryHidden" and wb.properties.creator == "局办公室"
    assert isinstance(wb.properties.created, datetime)
