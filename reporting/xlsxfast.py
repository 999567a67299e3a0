"""Many workbooks of one layout: XlsxWriter renders the layout once, we write the cells.

A workbook is described by a *build* function, ``build(wb)``, that makes it on an XlsxWriter
``Workbook``. :meth:`Templates.render` runs the same function on a :class:`RecordingBook`,
which only records: cells, merged ranges, row heights and footers (what differs from one unit's
file to the next), and every other call (validations, conditional formats, columns, page setup,
protection) as the *layout*. The first time a layout is seen XlsxWriter renders that very
workbook; its parts are kept, and the worksheets are cut where XlsxWriter wrote the dimension,
the cells, the merged ranges and the header/footer. Every later workbook of the layout is those
parts with its own cells written in between, the way XlsxWriter writes them: same XML, same
shared-string order, same style indexes. An inspector sheet costs ~2.7 ms this way instead of
~10.6 ms, which went to XlsxWriter's per-cell bookkeeping and formula regexes.

Safety: a layout is known by the ``repr`` of its calls, and a template is made only when those
calls hold plain values (text, numbers, dates, formats), whose ``repr`` says all there is; the
cut is checked when a template is made (our XML for the template's own cells must equal
XlsxWriter's, else that layout always goes through XlsxWriter); a call the recorder does not
mirror exactly raises :class:`Unsupported` and that workbook goes through XlsxWriter; and the
tests compare the two paths part by part. Known, deliberate difference: a text that looks
like ``<r>…</r>`` (which XlsxWriter itself would copy into the shared strings as markup) is
plain escaped text here and a one-run rich string through XlsxWriter
(:func:`reporting.xlsx.plain_text`); both show the text itself.
"""

from __future__ import annotations

import io
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from datetime import date, datetime, time
from math import isfinite
from typing import Any

from reporting.text import utf16_len
from reporting.zippack import FAST, Part, deflate, pack

Build = Callable[[Any], None]

# Options the recorder mirrors: in memory, no string ever turned into a formula, link or number.
_MIRRORED_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}

# Excel 2007 functions: XlsxWriter adds no ``_xlfn.`` prefix to them and none is a dynamic array
# function, so writing a formula is only stripping its ``=``. Other functions: Unsupported.
FUNCTIONS = frozenset(
    {
        "ABS", "AND", "AVERAGE", "COUNT", "COUNTA", "COUNTBLANK", "COUNTIF", "COUNTIFS", "DATE",
        "IF", "IFERROR", "INDEX", "INT", "ISBLANK", "ISERROR", "ISNA", "ISNUMBER", "ISTEXT",
        "LEFT", "LEN", "MATCH", "MAX", "MIN", "MOD", "NOT", "OR", "RIGHT", "ROUND", "SUM",
        "SUMIF", "SUMIFS", "TEXT", "TRIM", "VALUE",
    }
)  # fmt: skip
_FUNCTION = re.compile(r"([A-Za-z_][A-Za-z0-9._]*)\s*\(")

# Calls that only shape the layout (never the cells, merged ranges, dimension or footer).
_LAYOUT_CALLS = frozenset(
    {
        "activate",
        "conditional_format",
        "data_validation",
        "fit_to_pages",
        "hide",
        "hide_gridlines",
        "protect",
        "set_column",
        "set_landscape",
        "set_margins",
        "set_paper",
        "set_portrait",
        "very_hidden",
    }
)


class Unsupported(Exception):
    """A call the recorder does not mirror exactly: XlsxWriter makes this workbook."""


# --------------------------------------------------------------------------- XlsxWriter side

_MARKS = ("\x00\x01D", "\x00\x02D", "\x00\x01S", "\x00\x02S", "\x00\x01M", "\x00\x02M")
_MARKS += ("\x00\x01H", "\x00\x02H")


def _sheet_classes() -> tuple[type, type]:
    from reporting.xlsx import plain_worksheet_class

    PlainWorksheet = plain_worksheet_class()

    class MarkedWorksheet(PlainWorksheet):
        """Marks where the parts a unit changes begin and end."""

        def _marked(self, n: int, write: Callable[[], None]) -> None:
            self.fh.write(_MARKS[n])
            write()
            self.fh.write(_MARKS[n + 1])

        def _write_dimension(self) -> None:
            self._marked(0, super()._write_dimension)

        def _write_sheet_data(self) -> None:
            self._marked(2, super()._write_sheet_data)

        def _write_merge_cells(self) -> None:
            self._marked(4, super()._write_merge_cells)

        def _write_header_footer(self) -> None:
            self._marked(6, super()._write_header_footer)

    return PlainWorksheet, MarkedWorksheet


_CLASSES: list[tuple[type, type]] = []


def _classes() -> tuple[type, type]:
    if not _CLASSES:
        _CLASSES.append(_sheet_classes())
    return _CLASSES[0]


def _workbook(buf: io.BytesIO, options: dict[str, Any], sheet_class: type) -> Any:
    import xlsxwriter

    class Workbook(xlsxwriter.Workbook):  # type: ignore[misc]
        def add_worksheet(self, name: str | None = None, worksheet_class: Any = None) -> Any:
            return super().add_worksheet(name, worksheet_class or sheet_class)

    return Workbook(buf, options)


def xlsxwriter_render(build: Build, options: dict[str, Any]) -> bytes:
    """The workbook made by XlsxWriter alone (formulas limited to :data:`FUNCTIONS`)."""
    buf = io.BytesIO()
    wb = _workbook(buf, options, _classes()[0])
    build(wb)
    wb.close()
    return buf.getvalue()


# --------------------------------------------------------------------------- recording side


class RecordedFormat:
    """What ``add_format`` returns while recording: the properties, as a hashable key."""

    __slots__ = ("key", "s")

    def __init__(self, props: dict[str, Any] | None) -> None:
        items = sorted((props or {}).items())
        for _, value in items:
            if not isinstance(value, str | int | float | bool):
                raise Unsupported(f"format property {value!r}")
        self.key = tuple(items)
        self.s: str | None = None  # the style attribute, once its workbook is written

    def __repr__(self) -> str:
        return f"Format{self.key!r}"


_PLAIN = (str, int, float, bool, type(None), datetime, date, time, RecordedFormat)


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only values whose ``repr`` says all there is (so that two
    layout calls that print the same are the same)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack += item.keys()
            stack += item.values()
        elif isinstance(item, list | tuple):
            stack += item
        elif not isinstance(item, _PLAIN):
            return False
    return True


_ROW_MAX, _COL_MAX, _STR_MAX = 1_048_576, 16_384, 32_767
_DEFAULT_ROW_PX = 20


class RecordingSheet:
    """Records what XlsxWriter's ``Worksheet`` would store, for the calls a build uses."""

    def __init__(self, book: RecordingBook, name: str) -> None:
        self.book = book
        self.name = name
        self.table: dict[int, dict[int, tuple[Any, ...]]] = {}
        self.row_px: dict[int, int] = {}
        self.merges: list[tuple[int, int, int, int]] = []
        self.merged: set[tuple[int, int]] = set()
        self.footer: str | None = None
        self.calls: list[str] = []  # layout calls, printed
        self.arguments: list[Any] = []  # and their arguments, checked when a template is made
        self.extra_cols: set[int] = set()  # columns set_row counts in the dimension
        self.first_col: int | None = None  # of the cells written so far

    def __getattr__(self, name: str) -> Any:
        if name not in _LAYOUT_CALLS:
            raise Unsupported(f"Worksheet.{name}")

        def record(*args: Any, **kwargs: Any) -> None:
            if name == "set_column" and (len(args) > 3 or kwargs):
                raise Unsupported("set_column with a format or options")
            # printed now: what the call meant even if the caller changes its dict later
            self.calls.append(repr((name, args, kwargs)))
            self.arguments.append((args, kwargs))

        return record

    def dimension(self) -> tuple[int, int, int, int] | None:
        """First and last row and column, as XlsxWriter counts them: every cell written (a
        merged range's corners are cells too) and the rows given a height."""
        if not self.table and not self.row_px:
            return None
        rows = self.table.keys() | self.row_px.keys()
        cols = set(self.extra_cols)
        for line in self.table.values():
            cols.update(line)
        return min(rows), max(rows), min(cols), max(cols)

    def _put(self, row: int, col: int, cell: tuple[Any, ...]) -> None:
        if not (0 <= row < _ROW_MAX and 0 <= col < _COL_MAX):
            raise Unsupported("cell outside the sheet")
        line = self.table.get(row)
        if line is None:
            line = self.table[row] = {}
        line[col] = cell
        if self.first_col is None or col < self.first_col:
            self.first_col = col

    def write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int:
        if len(string) > _STR_MAX // 2 and utf16_len(string) > _STR_MAX:
            raise Unsupported("string over 32,767 characters")
        book = self.book
        index = book.strings.get(string)
        if index is None:
            index = book.strings[string] = len(book.strings)
        book.string_count += 1
        self._put(row, col, ("s", index, cell_format))
        return 0

    def write_number(self, row: int, col: int, number: Any, cell_format: Any = None) -> int:
        if not isinstance(number, int | float) or not isfinite(number):
            raise Unsupported(f"number {number!r}")
        self._put(row, col, ("n", number, cell_format))
        return 0

    def write_blank(self, row: int, col: int, blank: Any, cell_format: Any = None) -> int:
        if cell_format is None:
            return 0
        self._put(row, col, ("b", None, cell_format))
        return 0

    def write_formula(
        self, row: int, col: int, formula: str, cell_format: Any = None, value: Any = 0
    ) -> int:
        if not formula.startswith("=") or formula.startswith("={"):
            raise Unsupported(f"formula {formula!r}")
        if not {f.upper() for f in _FUNCTION.findall(formula)} <= FUNCTIONS:
            raise Unsupported(f"formula {formula!r}")
        self._put(row, col, ("f", (formula[1:], value), cell_format))
        return 0

    def merge_range(
        self,
        first_row: int,
        first_col: int,
        last_row: int,
        last_col: int,
        data: Any,
        cell_format: Any = None,
    ) -> int:
        if first_row > last_row or first_col > last_col:
            raise Unsupported("merge range given backwards")
        if first_row == last_row and first_col == last_col:
            raise Unsupported("a merge range of one cell")
        if cell_format is None:
            raise Unsupported("a merge range without a format")  # its corners count, unwritten
        rows, cols = range(first_row, last_row + 1), range(first_col, last_col + 1)
        area = {(r, c) for r in rows for c in cols}
        if area & self.merged:
            raise Unsupported("overlapping merge ranges")
        self.merged |= area
        self.merges.append((first_row, first_col, last_row, last_col))
        if data is None or data == "":
            self.write_blank(first_row, first_col, None, cell_format)
        elif isinstance(data, str):
            self.write_string(first_row, first_col, data, cell_format)
        elif isinstance(data, int | float) and not isinstance(data, bool):
            self.write_number(first_row, first_col, data, cell_format)
        else:
            raise Unsupported(f"merged value {data!r}")
        for r in rows:
            for c in cols:
                if (r, c) != (first_row, first_col):
                    self.write_blank(r, c, None, cell_format)
        return 0

    def set_row(
        self, row: int, height: float | None = None, cell_format: Any = None, options: Any = None
    ) -> int:
        if cell_format is not None or options or height is None or height <= 0:
            raise Unsupported("set_row with a format, options or no height")
        if not 0 <= row < _ROW_MAX:
            raise Unsupported("row outside the sheet")
        first = min(self.extra_cols, default=None)
        if self.first_col is not None and (first is None or self.first_col < first):
            first = self.first_col
        self.extra_cols.add(first or 0)  # XlsxWriter counts (row, first column so far)
        self.row_px[row] = int(height * 4.0 / 3.0 + 0.5)
        return 0

    def set_footer(self, footer: str = "", options: Any = None, margin: Any = None) -> None:
        if options is not None or margin is not None:
            raise Unsupported("footer options")
        footer = footer.replace("&[Picture]", "&G")
        if utf16_len(footer) > 255 or "&G" in footer:
            raise Unsupported("footer XlsxWriter refuses")
        self.footer = footer


class RecordingBook:
    """Stands in for ``xlsxwriter.Workbook`` while a build function runs."""

    def __init__(self) -> None:
        self.sheets: list[RecordingSheet] = []
        self.strings: dict[str, int] = {}
        self.string_count = 0
        self.properties: dict[str, Any] = {}

    def add_format(self, properties: dict[str, Any] | None = None) -> RecordedFormat:
        return RecordedFormat(properties)

    def set_properties(self, properties: dict[str, Any]) -> None:
        self.properties = dict(properties)

    def add_worksheet(self, name: str | None = None) -> RecordingSheet:
        if name is None:
            raise Unsupported("a sheet without a name")
        sheet = RecordingSheet(self, name)
        self.sheets.append(sheet)
        return sheet

    def __getattr__(self, name: str) -> Any:
        raise Unsupported(f"Workbook.{name}")


# --------------------------------------------------------------------------- our XML


def _col_name(col: int) -> str:
    name = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        name = chr(65 + rem) + name
    return name


_COLS = [_col_name(c) for c in range(256)]


def _ref(row: int, col: int) -> str:
    return (_COLS[col] if col < 256 else _col_name(col)) + str(row + 1)


def _esc(text: str) -> str:
    """XlsxWriter's ``_escape_data``: ``&``, ``<`` and ``>`` only."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


_ESCAPE_OF_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile("([\x00-\x08\x0b-\x1f])")
_NEEDS_ESCAPE = re.compile("_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f\ufffe\uffff]")


def _control(text: str) -> str:
    """XlsxWriter's ``_escape_control_characters``: ``\\x01`` → ``_x0001_``, and a literal
    ``_x0001_`` → ``_x005F_x0001_``."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    text = _ESCAPE_OF_ESCAPE.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
    return text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")


_EDGE_SPACE = re.compile(r"^\s|\s$")


class _Styles:
    """Style (xf) indexes in order of first use, as XlsxWriter numbers them while writing."""

    def __init__(self) -> None:
        self.index: dict[tuple[Any, ...], int] = {}

    def attribute(self, fmt: RecordedFormat) -> str:
        n = self.index.get(fmt.key)
        if n is None:
            n = self.index[fmt.key] = len(self.index) + 1
        fmt.s = f' s="{n}"'
        return fmt.s


def _dimension(d: tuple[int, int, int, int] | None) -> str:
    if d is None:
        raise Unsupported("an empty sheet")
    rmin, rmax, cmin, cmax = d
    ref = (
        _ref(rmin, cmin)
        if (rmin, cmin) == (rmax, cmax)
        else f"{_ref(rmin, cmin)}:{_ref(rmax, cmax)}"
    )
    return f'<dimension ref="{ref}"/>'


_ERROR_VALUES = frozenset(("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!"))


def _formula_xml(ref: str, s: str, value: tuple[str, Any]) -> str:
    formula, result = value
    t = ""
    if isinstance(result, bool):
        t, result = ' t="b"', int(result)
    elif isinstance(result, str):
        if result in _ERROR_VALUES:
            t = ' t="e"'
        elif result:
            t = ' t="str"'
        result = _esc(result)
    return f'<c r="{ref}"{s}{t}><f>{_esc(formula)}</f><v>{result}</v></c>'


def _sheet_data(ws: RecordingSheet, style: _Styles) -> str:
    """``<sheetData>`` as XlsxWriter's ``_write_rows`` writes it."""
    spans: dict[int, tuple[int, int]] = {}
    for row, line in ws.table.items():
        block = row // 16
        lo, hi = min(line), max(line)
        if block in spans:
            a, b = spans[block]
            lo, hi = min(lo, a), max(hi, b)
        spans[block] = (lo, hi)
    out = ["<sheetData>"]
    add = out.append
    table, heights = ws.table, ws.row_px
    for row in sorted(table.keys() | heights.keys()):
        number = str(row + 1)
        head = f'<row r="{number}"'
        span = spans.get(row // 16)
        if span:
            head += f' spans="{span[0] + 1}:{span[1] + 1}"'
        px = heights.get(row, _DEFAULT_ROW_PX)
        if px != _DEFAULT_ROW_PX:
            head += f' ht="{px * 0.75:.16g}" customHeight="1"'
        line = table.get(row)
        if not line:
            add(head + "/>")
            continue
        add(head + ">")
        for col in sorted(line):
            kind, value, fmt = line[col]
            ref = (_COLS[col] if col < 256 else _col_name(col)) + number
            s = "" if fmt is None else (fmt.s or style.attribute(fmt))
            if kind == "s":
                add(f'<c r="{ref}"{s} t="s"><v>{value}</v></c>')
            elif kind == "b":
                add(f'<c r="{ref}"{s}/>')
            elif kind == "n":
                add(f'<c r="{ref}"{s}><v>{value:.16G}</v></c>')
            else:
                add(_formula_xml(ref, s, value))
        add("</row>")
    add("</sheetData>")
    return "".join(out)


def _merge_cells(ws: RecordingSheet) -> str:
    if not ws.merges:
        return ""
    cells = "".join(
        f'<mergeCell ref="{_ref(r1, c1)}:{_ref(r2, c2)}"/>' for r1, c1, r2, c2 in ws.merges
    )
    return f'<mergeCells count="{len(ws.merges)}">{cells}</mergeCells>'


def _header_footer(ws: RecordingSheet) -> str:
    if ws.footer is None:
        return ""
    footer = f"<oddFooter>{_control(_esc(ws.footer))}</oddFooter>" if ws.footer else ""
    return f"<headerFooter>{footer}</headerFooter>"


def _regions(book: RecordingBook) -> tuple[list[tuple[str, str, str, str]], tuple[Any, ...]]:
    """Each sheet's dimension, cells, merged ranges and footer; the styles in order of use."""
    style = _Styles()
    regions = [
        (_dimension(ws.dimension()), _sheet_data(ws, style), _merge_cells(ws), _header_footer(ws))
        for ws in book.sheets
    ]
    return regions, tuple(style.index)


_SST_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
)


def _shared_strings(book: RecordingBook) -> str:
    out = [f'{_SST_HEAD} count="{book.string_count}" uniqueCount="{len(book.strings)}">']
    for text in book.strings:  # insertion order is index order
        text = _control(text)
        space = ' xml:space="preserve"' if _EDGE_SPACE.search(text) else ""
        out.append(f"<si><t{space}>{_esc(text)}</t></si>")
    out.append("</sst>")
    return "".join(out)


def _core(properties: dict[str, Any]) -> str:
    from xlsxwriter.core import Core

    core = Core()
    core._set_properties(properties)
    core._set_xml_writer(io.StringIO())
    core._assemble_xml_file()
    return str(core.fh.getvalue())


# --------------------------------------------------------------------------- templates

_SST = "xl/sharedStrings.xml"
_CORE = "docProps/core.xml"
_SHEET = re.compile(r"xl/worksheets/sheet(\d+)\.xml")


class _Template:
    """A layout's parts: compressed constants, and each worksheet's text between regions
    (by part name: the worksheet's index and its five pieces)."""

    def __init__(self, parts: list[Part | str], sheets: dict[str, tuple[int, list[str]]]) -> None:
        self.parts = parts
        self.sheets = sheets


def _cut(xml: str) -> tuple[list[str], list[str]]:
    """A marked worksheet → the five constant pieces and XlsxWriter's four regions."""
    pieces, regions = [], []
    rest = xml
    for n in range(0, len(_MARKS), 2):
        before, sep, rest = rest.partition(_MARKS[n])
        region, sep2, rest = rest.partition(_MARKS[n + 1])
        if not (sep and sep2):
            raise Unsupported("a worksheet XlsxWriter wrote without a region")
        pieces.append(before)
        regions.append(region)
    pieces.append(rest)
    if any(m in piece for piece in pieces for m in _MARKS):
        raise Unsupported("a region written twice")
    return pieces, regions


class Templates:
    """Renders workbooks through templates, one per layout, kept per process.

    ``stats`` counts workbooks made from a template ("template"), by XlsxWriter because the
    recorder could not mirror a call ("unsupported"), and layouts whose check failed
    ("mismatch", every workbook of such a layout is made by XlsxWriter)."""

    def __init__(self, options: dict[str, Any], limit: int = 32) -> None:
        if options != _MIRRORED_OPTIONS:
            raise ValueError(f"options the recorder does not mirror: {options}")
        self.options = dict(options)
        self.limit = limit
        self._cache: OrderedDict[Any, _Template | None] = OrderedDict()
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()

    def render(self, build: Build) -> bytes:
        book = RecordingBook()
        try:
            build(book)
            regions, styles = _regions(book)
            key = self._key(book, styles)
        except Unsupported:
            self.stats["unsupported"] += 1
            return xlsxwriter_render(build, self.options)
        with self._lock:
            known = key in self._cache
            template = self._cache.get(key)
            if known:
                self._cache.move_to_end(key)
        if not known:
            if not all(_plain(ws.arguments) for ws in book.sheets) or not _plain(book.properties):
                self.stats["unsupported"] += 1  # a key that could match unlike calls
                return xlsxwriter_render(build, self.options)
            template = self._make(build, regions)
            with self._lock:
                self._cache[key] = template
                while len(self._cache) > self.limit:
                    self._cache.popitem(last=False)
        if template is None:
            self.stats["mismatch"] += 1
            return xlsxwriter_render(build, self.options)
        self.stats["template"] += 1
        return self._assemble(template, book, regions)

    @staticmethod
    def _key(book: RecordingBook, styles: tuple[Any, ...]) -> Any:
        """Everything the kept parts depend on: the layout calls of every sheet, the
        workbook's properties but title and subject (core.xml is written per workbook), the
        styles in order of first use, and whether there are strings at all."""
        properties = {k: v for k, v in book.properties.items() if k not in ("title", "subject")}
        sheets = tuple((ws.name, tuple(ws.calls)) for ws in book.sheets)
        return (sheets, repr(properties), styles, bool(book.strings))

    def _make(self, build: Build, regions: list[tuple[str, str, str, str]]) -> _Template | None:
        """The template of this layout from XlsxWriter's own rendering of this workbook, or
        None when our XML for its cells differs from XlsxWriter's."""
        import zipfile

        buf = io.BytesIO()
        wb = _workbook(buf, self.options, _classes()[1])
        build(wb)
        wb.close()
        parts: list[Part | str] = []
        sheets: dict[str, tuple[int, list[str]]] = {}
        theirs: list[tuple[int, list[str]]] = []
        with zipfile.ZipFile(buf) as z:
            for name in z.namelist():
                data = z.read(name)
                found = _SHEET.fullmatch(name)
                if found:
                    try:
                        pieces, cut = _cut(data.decode())
                    except Unsupported:
                        return None
                    index = int(found.group(1)) - 1
                    sheets[name] = (index, pieces)
                    theirs.append((index, cut))
                    parts.append(name)
                elif name in (_SST, _CORE):
                    parts.append(name)
                else:
                    parts.append(deflate(name, data))
        ours = [list(r) for r in regions]
        if [cut for _, cut in sorted(theirs)] != ours or len(sheets) != len(regions):
            return None
        return _Template(parts, sheets)

    @staticmethod
    def _assemble(
        t: _Template, book: RecordingBook, regions: list[tuple[str, str, str, str]]
    ) -> bytes:
        own: dict[str, str] = {_CORE: _core(book.properties)}
        if book.strings:
            own[_SST] = _shared_strings(book)
        for name, (index, pieces) in t.sheets.items():
            dim, data, merges, footer = regions[index]
            own[name] = "".join(
                (pieces[0], dim, pieces[1], data, pieces[2], merges, pieces[3], footer, pieces[4])
            )
        made = {name: deflate(name, text.encode(), FAST) for name, text in own.items()}
        return pack(p if isinstance(p, Part) else made[p] for p in t.parts)
