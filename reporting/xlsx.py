"""Shared XlsxWriter setup for the workbooks the bureau reads (summaries, rankings, lists).

Strings are never turned into formulas, links or numbers: anything a unit typed stays text.
"""

from __future__ import annotations

import io
import math
from datetime import date, datetime
from typing import Any

SAFE_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
FONT = "宋体"


def _worksheet_class() -> type:
    """XlsxWriter's Worksheet with a quicker innermost loop for the plain cells our tables are
    made of (a formatted number, date, shared string or blank): the same XML, written with one
    f-string instead of attribute lists and escaping of attributes that never need it. A
    summary or ranking of 10,000 units has one to two million such cells; everything else
    (formulas, rich strings, unformatted cells) goes through XlsxWriter's own writer.
    ``tests/test_xlsx.py`` checks the output is byte for byte what XlsxWriter writes."""
    from xlsxwriter.utility import xl_rowcol_to_cell_fast
    from xlsxwriter.worksheet import (
        CellBlankTuple,
        CellDatetimeTuple,
        CellNumberTuple,
        CellStringTuple,
        Worksheet,
    )

    numbers = (CellNumberTuple, CellDatetimeTuple)

    class TableWorksheet(Worksheet):  # type: ignore[misc]
        def _write_cell(self, row: int, col: int, cell: Any) -> None:
            fmt = cell.format
            kind = cell.__class__
            if fmt is None or self.constant_memory:
                return super()._write_cell(row, col, cell)
            ref = xl_rowcol_to_cell_fast(row, col)
            if kind is CellStringTuple:
                self.fh.write(
                    f'<c r="{ref}" s="{fmt._get_xf_index()}" t="s"><v>{cell.string}</v></c>'
                )
            elif kind in numbers:
                self.fh.write(
                    f'<c r="{ref}" s="{fmt._get_xf_index()}"><v>{cell.number:.16G}</v></c>'
                )
            elif kind is CellBlankTuple:
                self.fh.write(f'<c r="{ref}" s="{fmt._get_xf_index()}"/>')
            else:
                super()._write_cell(row, col, cell)

    return TableWorksheet


_TABLE_WORKSHEET: type | None = None


def table_worksheet_class() -> type:
    global _TABLE_WORKSHEET
    if _TABLE_WORKSHEET is None:
        _TABLE_WORKSHEET = _worksheet_class()
    return _TABLE_WORKSHEET


class Book:
    """A workbook in memory with the formats every report uses."""

    def __init__(self) -> None:
        import xlsxwriter

        self.buf = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buf, SAFE_OPTIONS)
        base = {"font_name": FONT, "font_size": 10, "valign": "vcenter"}
        add = self.wb.add_format
        self.title = add({**base, "bold": True, "font_size": 14})
        self.note = add({**base, "font_color": "#595959"})
        self.head = add(
            {
                **base,
                "bold": True,
                "bg_color": "#DDEBF7",
                "border": 1,
                "text_wrap": True,
                "align": "center",
            }
        )
        self.cell = add({**base, "border": 1})
        self.wrap = add({**base, "border": 1, "text_wrap": True})
        self.center = add({**base, "border": 1, "align": "center"})
        self.num = add({**base, "border": 1, "num_format": "#,##0.##"})
        self.pct = add({**base, "border": 1, "num_format": "0.0%"})
        self.day = add({**base, "border": 1, "num_format": "yyyy-mm-dd"})
        self.time = add({**base, "border": 1, "num_format": "yyyy-mm-dd hh:mm"})
        self.bold = add({**base, "bold": True, "border": 1})
        self.bold_pct = add({**base, "bold": True, "border": 1, "num_format": "0.0%"})
        self.bad_num = add(
            {
                **base,
                "border": 1,
                "bg_color": "#FFC7CE",
                "font_color": "#9C0006",
                "num_format": "#,##0.##",
            }
        )
        self.good = add({"bg_color": "#C6EFCE", "font_color": "#006100"})
        self.bad = add({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        self.grey = add({"bg_color": "#EDEDED", "font_color": "#7F7F7F"})
        self.warn = add({"bg_color": "#FFEB9C", "font_color": "#9C5700"})

    def sheet(self, name: str) -> Any:
        ws = self.wb.add_worksheet(name, worksheet_class=table_worksheet_class())
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.hide_gridlines(0)
        return ws

    def put(self, ws: Any, row: int, col: int, value: Any, fmt: Any = None) -> None:
        """Write ``value`` keeping its type; text is always a plain string."""
        # XlsxWriter's private writers: the public ones only add A1-notation parsing and a
        # type dispatch this method already does (a ranking of 10,000 units has 1.1M cells).
        fmt = fmt or self.cell
        kind = value.__class__
        if kind is str:
            if value:
                ws._write_string(row, col, value, fmt)
            else:
                ws._write_blank(row, col, None, fmt)
        elif kind is int or kind is float:
            if value != value or value in (math.inf, -math.inf):
                ws._write_string(row, col, str(value), fmt)  # NaN/inf: shown, never an error
            else:
                ws._write_number(row, col, value, self.num if fmt is self.cell else fmt)
        elif value is None:
            ws._write_blank(row, col, None, fmt)
        elif kind is bool:
            ws._write_string(row, col, "是" if value else "否", fmt)
        elif isinstance(value, datetime):
            ws._write_datetime(
                row, col, value.replace(tzinfo=None), self.time if fmt is self.cell else fmt
            )
        elif isinstance(value, date):
            ws._write_datetime(
                row,
                col,
                datetime.combine(value, datetime.min.time()),
                self.day if fmt is self.cell else fmt,
            )
        elif isinstance(value, int | float):
            self.put(ws, row, col, float(value), fmt)
        else:
            self.put(ws, row, col, str(value), fmt)

    def header(
        self, ws: Any, row: int, col: int, names: list[str], widths: list[float] | None = None
    ) -> None:
        for i, name in enumerate(names):
            ws.write_string(row, col + i, name, self.head)
            if widths:
                ws.set_column(col + i, col + i, widths[i])

    def close(self) -> bytes:
        self.wb.close()
        return self.buf.getvalue()
