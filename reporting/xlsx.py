"""Shared XlsxWriter setup for the workbooks the bureau reads (summaries, rankings, lists).

Strings are never turned into formulas, links or numbers: anything a unit typed stays text.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from reporting.errors import ReportingError
from reporting.text import cut as text_cut
from reporting.text import xml_text

SAFE_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
FONT = "宋体"


def looks_rich(text: str) -> bool:
    """XlsxWriter copies a string that starts with ``<r>`` and ends with ``</r>`` into the
    shared-string table as raw rich-text XML (that is how it stores its own rich strings), so a
    unit that types such text could make a workbook unreadable."""
    return text.startswith("<r>") and text.endswith("</r>")


def prompt_options(
    title: str, message: str, cut: Callable[[str, int], str] = text_cut
) -> dict[str, Any]:
    """A data validation's input prompt and stop message (titles 32, messages 255 UTF-16
    units; XlsxWriter writes these attributes with control characters as they are, which is
    invalid XML, so they are dropped)."""
    title, message = xml_text(title), xml_text(message)
    return {
        "input_title": cut(title, 32),
        "input_message": cut(message, 255),
        "error_title": "输入有误",
        "error_message": cut(message, 255),
        "error_type": "stop",
    }


def plain_text(text: str) -> str:
    """``text`` as XlsxWriter must be given it to show exactly ``text``: unchanged, or, when it
    looks like rich-text XML, as a one-run rich string holding the escaped text."""
    if not looks_rich(text):
        return text
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<r><t xml:space="preserve">{escaped}</t></r>'


def _worksheet_class() -> type:
    """XlsxWriter's Worksheet with a quicker innermost loop for the plain cells our tables are
    made of (a formatted number, date, shared string or blank): the same XML, written with one
    f-string a cell and one write a row. A summary or ranking of 10,000 units has one to two
    million such cells; everything else (formulas, rich strings, unformatted cells, comments)
    goes through XlsxWriter's own writer. ``tests/test_xlsx.py`` checks the output is byte for
    byte what XlsxWriter writes."""
    from xlsxwriter.utility import xl_col_to_name
    from xlsxwriter.worksheet import (
        CellBlankTuple,
        CellDatetimeTuple,
        CellNumberTuple,
        CellStringTuple,
        Worksheet,
    )

    class TableWorksheet(Worksheet):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            # rows written whole by Book.row: row -> (first column, last column, cells' XML)
            self.raw_rows: dict[int, tuple[int, int, str]] = {}

        def _write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int:
            return int(super()._write_string(row, col, plain_text(string), cell_format))

        def _calculate_spans(self) -> None:
            if self.comments:
                return super()._calculate_spans()
            # the same spans, from each row's own columns instead of every column of the sheet
            spans: dict[int, str] = {}
            lo = hi = None
            table, raw = self.table, self.raw_rows
            for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
                cells = table.get(row_num)
                whole = raw.get(row_num)
                if whole:
                    if cells:
                        raise RuntimeError(f"row {row_num} written both by Book.row and by cell")
                    first, last = whole[0], whole[1]
                    lo = first if lo is None or first < lo else lo
                    hi = last if hi is None or last > hi else hi
                elif cells:
                    first, last = min(cells), max(cells)
                    lo = first if lo is None or first < lo else lo
                    hi = last if hi is None or last > hi else hi
                end_of_block = (row_num + 1) % 16 == 0 or row_num == self.dim_rowmax
                if end_of_block and lo is not None:
                    spans[row_num // 16] = f"{lo + 1}:{hi + 1}"
                    lo = hi = None
            self.row_spans = spans

        def _write_rows(self) -> None:
            if self.comments or self.constant_memory:
                if self.raw_rows:
                    raise RuntimeError("Book.row rows need the table worksheet's own writer")
                return super()._write_rows()
            self._calculate_spans()
            table, row_info, spans, fh = self.table, self.row_info, self.row_spans, self.fh
            raw = self.raw_rows
            plain_rows = (
                self.default_row_height == self.original_row_height and self.excel_version != 2010
            )
            letters: dict[int, str] = {}
            xfs: dict[int, int] = {}
            for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
                whole = raw.get(row_num)
                if whole:
                    span = spans.get(row_num // 16)
                    info = row_info.get(row_num)
                    if info is None and plain_rows:  # what _write_row writes for such a row
                        fh.write(
                            f'<row r="{row_num + 1}" spans="{span}">{whole[2]}</row>'
                            if span
                            else f'<row r="{row_num + 1}">{whole[2]}</row>'
                        )
                    else:
                        self._write_row(row_num, span, info)
                        fh.write(whole[2] + "</row>")
                    continue
                cells = table.get(row_num)
                if not cells:
                    if row_num in row_info:
                        self._write_empty_row(row_num, spans.get(row_num // 16), row_info[row_num])
                    continue
                self._write_row(row_num, spans.get(row_num // 16), row_info.get(row_num))
                r = row_num + 1
                parts = []
                for col in sorted(cells):
                    cell = cells[col]
                    fmt = cell.format
                    kind = cell.__class__
                    if fmt is None or not (
                        kind is CellStringTuple
                        or kind is CellNumberTuple
                        or kind is CellDatetimeTuple
                        or kind is CellBlankTuple
                    ):
                        fh.write("".join(parts))
                        parts.clear()
                        self._write_cell(row_num, col, cell)
                        continue
                    name = letters.get(col)
                    if name is None:
                        name = letters[col] = xl_col_to_name(col)
                    xf = xfs.get(id(fmt))
                    if xf is None:
                        xf = xfs[id(fmt)] = fmt._get_xf_index()
                    if kind is CellStringTuple:
                        parts.append(f'<c r="{name}{r}" s="{xf}" t="s"><v>{cell.string}</v></c>')
                    elif kind is CellBlankTuple:
                        parts.append(f'<c r="{name}{r}" s="{xf}"/>')
                    else:
                        parts.append(f'<c r="{name}{r}" s="{xf}"><v>{cell.number:.16G}</v></c>')
                parts.append("</row>")
                fh.write("".join(parts))

    return TableWorksheet


_TABLE_WORKSHEET: type | None = None
_PLAIN_WORKSHEET: type | None = None


def plain_worksheet_class() -> type:
    """The Worksheet for forms and inspector sheets: text that looks like rich-text markup
    stays text (:func:`plain_text`), and no future-function rewriting of formulas (XlsxWriter
    runs ~130 regex substitutions a formula to add ``_xlfn.`` prefixes to post-2007 functions;
    our formulas use only Excel 2007 ones, checked by tests, and the rewriting was 40% of a
    form's write time)."""
    global _PLAIN_WORKSHEET
    if _PLAIN_WORKSHEET is None:
        from xlsxwriter.worksheet import Worksheet

        class PlainWorksheet(Worksheet):  # type: ignore[misc]
            def _write_string(
                self, row: int, col: int, string: str, cell_format: Any = None
            ) -> int:
                return int(super()._write_string(row, col, plain_text(string), cell_format))

            def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
                if formula.startswith("{"):
                    formula = formula[1:]
                if formula.startswith("="):
                    formula = formula[1:]
                if formula.endswith("}"):
                    formula = formula[:-1]
                return formula

        _PLAIN_WORKSHEET = PlainWorksheet
    return _PLAIN_WORKSHEET


_SHORT = 16_000  # shorter text cannot exceed Excel's 32,767 UTF-16 units
_MAX_ROWS, _MAX_COLS = 1_048_576, 16_384


def _settle_dimensions(ws: Any) -> None:
    """What XlsxWriter's per-cell dimension check would have recorded for the cells
    :meth:`Book.put` placed directly: the corners of the sheet's cells."""
    rows = [r for r, cells in ws.table.items() if cells]
    cols = [c for r in rows for c in (min(ws.table[r]), max(ws.table[r]))]
    for r, (first, last, _) in getattr(ws, "raw_rows", {}).items():
        rows.append(r)
        cols += (first, last)
    if not rows:
        return
    ws._check_dimensions(min(rows), min(cols))
    ws._check_dimensions(max(rows), max(cols))


def _cell_makers() -> tuple[Any, Any, Any]:
    from functools import partial

    from xlsxwriter.worksheet import CellBlankTuple, CellNumberTuple, CellStringTuple

    return tuple(
        partial(tuple.__new__, t) for t in (CellStringTuple, CellNumberTuple, CellBlankTuple)
    )


_string, _number, _blank = _cell_makers()


_COLUMN_NAMES: list[str] = []


def _column_names(n: int) -> list[str]:
    """The letters of the first ``n`` columns (A, B, … XFD)."""
    if len(_COLUMN_NAMES) < n:
        from xlsxwriter.utility import xl_col_to_name

        _COLUMN_NAMES.extend(xl_col_to_name(c) for c in range(len(_COLUMN_NAMES), n))
    return _COLUMN_NAMES


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
        self._strings = self.wb.str_table  # Book.row looks strings up in it directly
        self._string_index = self.wb.str_table._get_shared_string_index
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
        # The commonest cells go straight into the sheet's table as XlsxWriter's own cell
        # tuples would, and the sheet's dimensions are set once in close() (a ranking of
        # 10,000 units has a million cells); tests/test_xlsx.py compares the bytes with
        # XlsxWriter's public writers.
        fmt = fmt or self.cell
        kind = value.__class__
        if kind is str:
            if not value:
                cell = _blank((fmt,))
            elif len(value) < _SHORT and value[0] != "<":
                cell = _string((self._string_index(value), fmt))
            else:
                ws._write_string(row, col, value, fmt)  # long or "<…": TableWorksheet's
                return
        elif kind is int or kind is float:
            if value != value or value in (math.inf, -math.inf):
                ws._write_string(row, col, str(value), fmt)  # NaN/inf: shown, never an error
                return
            cell = _number((value, self.num if fmt is self.cell else fmt))
        elif value is None:
            cell = _blank((fmt,))
        else:
            self._put_other(ws, row, col, value, fmt)
            return
        if not (0 <= row < _MAX_ROWS and 0 <= col < _MAX_COLS):
            raise ReportingError(
                f"要写的表格超出 Excel 一个工作表的范围（第 {row + 1} 行第 {col + 1} 列）"
            )
        ws.table[row][col] = cell

    def row(
        self, ws: Any, row: int, values: Sequence[Any], formats: Sequence[Any] | None = None
    ) -> None:
        """Write ``values`` into ``row`` from column A, the same cells as :meth:`put` would
        write one by one (``formats``: one a value, None meaning put's default), as one piece
        of sheet XML: the per-unit tables of a provincial summary or ranking are a million and
        more cells, and this skips making and later unpacking a cell object for each.

        The row then belongs to this call: writing other cells into it is an error when the
        book is closed, and a chart cannot show cached values from it (Excel recomputes them).
        A NaN or infinity, or text that is very long or starts with "<", makes the row go
        through :meth:`put` instead, cell by cell."""
        if row in ws.raw_rows:
            raise RuntimeError(f"row {row} written twice by Book.row")
        if not (0 <= row < _MAX_ROWS and len(values) <= _MAX_COLS):
            raise ReportingError(
                f"要写的表格超出 Excel 一个工作表的范围（第 {row + 1} 行，{len(values)} 列）"
            )
        fmts = formats or (None,) * len(values)
        cell, num = self.cell, self.num
        strings = self._strings.string_table
        letters = _column_names(len(values))
        r = row + 1
        parts = []
        append = parts.append
        # the table counts every use of a string: uses of strings it has are added at the
        # end; a new string is counted as it is added (and taken back if put() takes over)
        seen = added = 0
        for c, value in enumerate(values):
            fmt = fmts[c] or cell
            kind = value.__class__
            if kind is str and value:
                if len(value) >= _SHORT or value[0] == "<":
                    break
                i = strings.get(value)
                if i is None:
                    i = self._string_index(value)
                    added += 1
                else:
                    seen += 1
                tail = f' t="s"><v>{i}</v></c>'
            elif kind is int or kind is float:
                if value != value or value in (math.inf, -math.inf):
                    break
                if fmt is cell:
                    fmt = num
                tail = f"><v>{value:.16G}</v></c>"
            elif value is None or kind is str:  # a blank: None or ""
                tail = "/>"
            elif kind is bool:
                added += 1
                tail = f' t="s"><v>{self._string_index("是" if value else "否")}</v></c>'
            elif kind is datetime or kind is date:  # a number with a date format, as put does
                if kind is date:
                    value = datetime.combine(value, datetime.min.time())
                    fmt = self.day if fmt is cell else fmt
                else:
                    value = value.replace(tzinfo=None)
                    fmt = self.time if fmt is cell else fmt
                tail = f"><v>{ws._convert_date_time(value):.16G}</v></c>"
            else:
                break
            xf = fmt.xf_index
            if xf is None:
                xf = fmt._get_xf_index()
            append(f'<c r="{letters[c]}{r}" s="{xf}"{tail}')
        else:
            self._strings.count += seen
            if parts:
                ws.raw_rows[row] = (0, len(values) - 1, "".join(parts))
            return
        self._strings.count -= added
        for c, value in enumerate(values):  # something put() must handle: the whole row there
            self.put(ws, row, c, value, fmts[c])

    def _put_other(self, ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
        kind = value.__class__
        if kind is bool:
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
        for ws in self.wb.worksheets():
            _settle_dimensions(ws)
        import xlsxwriter.workbook as module

        if getattr(module, "ZipFile", None) is not zipfile.ZipFile:  # not the XlsxWriter we know
            self.wb.close()
            return self.buf.getvalue()
        module.ZipFile = _QuickZipFile
        try:
            self.wb.close()
        finally:
            module.ZipFile = zipfile.ZipFile
        return self.buf.getvalue()


ZIP_LEVEL = 3


class _QuickZipFile(zipfile.ZipFile):
    """The zip XlsxWriter writes a Book into, at zlib level 3 (XlsxWriter asks for none, so
    zlib's default 6): a 10,000-unit ranking workbook compresses about three times quicker
    and comes out about 17% larger (4.6 instead of 3.9 MB)."""

    def writestr(
        self,
        zinfo_or_arcname: Any,
        data: Any,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        level = ZIP_LEVEL if compresslevel is None else compresslevel
        super().writestr(zinfo_or_arcname, data, compress_type, level)
