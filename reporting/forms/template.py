"""Unit forms at provincial scale: XlsxWriter renders each form *shape* once; every unit's form
is that render with the unit's own values put in.

Two units' forms differ only in the unit's name, code, region and headcount (titles, footers,
the facts on 填报说明, prompts and checks that name the headcount), the signed metadata and, when
pre-filled, the carried-over cells. Everything else follows from the *shape*: the category
(which activities apply), each ledger's row count, and whether a 预填说明 line is shown.

:meth:`FormTemplate.build` renders a shape once with :func:`~reporting.forms.writer.trace_render`
using sentinels for the unit's values (private-use characters, and a nine-digit headcount) and
cuts the parts' XML into static text and *slots*: a shared-string index, an element text holding
a sentinel, the headcount, an activity input cell, a ledger's rows and ``<dimension>``, the
self-check's cached results. :meth:`FormTemplate.render` fills the slots for one unit and zips the
parts, in about a tenth of XlsxWriter's time: parts no unit changes are deflated once, and so is
the head of every other part up to its first slot a blank form changes. The signed metadata comes
from the template's fingerprint JSON with the unit's values in it (:meth:`FormTemplate.meta_for`).
Not thread-safe (one escaper is shared); :mod:`reporting.forms.generate` uses processes.

Every slot is filled the way XlsxWriter fills it, so the parts are the bytes
:func:`~reporting.forms.writer.render_form` writes (only ``docProps/core.xml``'s creation time is
the template's):

* text is escaped by XlsxWriter's own functions (``&<>``, control characters as ``_xHHHH_``,
  ``xml:space="preserve"`` for edge spaces);
* the shared-string table is replayed in XlsxWriter's order, first write first: a unit name equal
  to another string on the form shares its entry and later indexes move, as in a direct render,
  and pre-filled strings join where the writer writes them;
* pre-filled numbers and dates are written as XlsxWriter writes them (``%.16G``, Excel serial
  dates), ledger rows with XlsxWriter's ``spans``, and the ledger's ``<dimension>`` grows.

:meth:`FormTemplate.render` returns ``None`` for a unit it cannot reproduce (a text cut to a
length limit, such as a very long name in a footer; a value of an unexpected type): the caller
renders that unit directly. :meth:`FormTemplate.build` raises :class:`TemplateUnsupported` for a
shape it cannot cut into slots, and :mod:`reporting.forms.generate` compares each template's first
form with a direct render before using it.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from reporting import zippack
from reporting.forms.layout import (
    ACTIVITIES,
    ACTIVITY_COLUMNS,
    INDICATORS,
    INSTRUCTIONS,
    META,
    FormLayout,
    FormMeta,
    LedgerSlot,
    a1,
    build_layout,
    col_letter,
    fingerprint_of,
    make_meta,
    sign,
)
from reporting.forms.writer import (
    EMPTY_PREFILL,
    Prefill,
    RenderTrace,
    conclusion_text,
    initial_missing,
    trace_render,
)
from reporting.periods import Period
from reporting.plan.model import Plan, Unit
from reporting.text import header_footer_text, utf16_len
from reporting.xlsx import looks_rich

# Sentinels for the unit's values. If plan text ever held one, the template would not match its
# direct render, and generate would not use it.
S_NAME = "\ue000"
S_CODE = "\ue001"
S_REGION = "\ue002"
S_FINGERPRINT = "\ue003"
S_SIGNATURE = "\ue004"
S_SOURCE = "\ue005"
S_HEADCOUNT = 918273645  # appears as digits in texts, formulas and validations
# A feedback copy's summary lines (reporting.forms.feedback_template).
S_SUMMARY = ("\ue006", "\ue007", "\ue008")
_SENTINEL = re.compile("[\ue000-\ue008]|918273645")
# Markers put in place of the self-check's cached results before the scan.
_ACTS_MISSING = "\ue0f0"
_CONCLUSION = "\ue0f1"

# XlsxWriter keeps strings up to 32,767 UTF-16 units; a longer text (no unit has one) goes direct.
_LONG_TEXT = 16_000
# Excel's (and XlsxWriter's) limit for a header or footer, in UTF-16 units.
_HEADER_FOOTER_LIMIT = 255
_HEADER_FOOTER_TAGS = frozenset(
    {"oddHeader", "oddFooter", "evenHeader", "evenFooter", "firstHeader", "firstFooter"}
)

CONTENT_TYPES = "[Content_Types].xml"
SHARED_STRINGS = "xl/sharedStrings.xml"
CORE = "docProps/core.xml"

# The activity sheet's input columns (1-based) in the order the writer writes them.
_INPUT_COLUMNS = tuple(
    (c, col.key) for c, col in enumerate(ACTIVITY_COLUMNS, start=1) if not col.locked
)


class TemplateUnsupported(Exception):
    """This shape's render is not one the template can reproduce; render its forms directly."""


@dataclass(frozen=True)
class Shape:
    """What decides a form's structure: everything but the unit's own values."""

    category: str
    ledger_rows: tuple[tuple[str, int], ...]
    has_source: bool


def shape_of(layout: FormLayout, prefill: Prefill) -> Shape:
    return Shape(
        layout.unit.category,
        tuple((slot.sheet, slot.n_rows) for slot in layout.ledgers),
        bool(prefill.source),
    )


def same_form(a: bytes, b: bytes) -> bool:
    """Two .xlsx files with the same parts in the same order, byte for byte, apart from
    ``docProps/core.xml``'s creation and modification times."""
    with zipfile.ZipFile(io.BytesIO(a)) as za, zipfile.ZipFile(io.BytesIO(b)) as zb:
        if za.namelist() != zb.namelist():
            return False
        for name in za.namelist():
            pa, pb = za.read(name), zb.read(name)
            if name == CORE:
                pa, pb = (_W3CDTF.sub(b"", p) for p in (pa, pb))
            if pa != pb:
                return False
    return True


_W3CDTF = re.compile(rb'(?<=xsi:type="dcterms:W3CDTF">)[^<]*')


# --------------------------------------------------------------------------- XML text


class _Escaper:
    """XlsxWriter's own escaping, so a filled slot is what XlsxWriter would have written."""

    def __init__(self) -> None:
        from xlsxwriter.sharedstrings import SharedStrings
        from xlsxwriter.utility import _datetime_to_excel_datetime
        from xlsxwriter.xmlwriter import XMLwriter

        self._buf = io.StringIO()
        self._sst = SharedStrings()
        self._sst._set_filehandle(self._buf)
        self._xml = XMLwriter()
        self._serial = _datetime_to_excel_datetime

    def si(self, text: str) -> str:
        """A shared-string table entry, ``<si>…</si>``."""
        buf = self._buf
        buf.seek(0)
        buf.truncate()
        self._sst._write_si(text)
        return buf.getvalue()

    def data(self, text: str) -> str:
        """An element's text as ``XMLwriter._xml_data_element`` writes it (footers, core.xml)."""
        return str(self._xml._escape_control_characters(self._xml._escape_data(text)))

    def formula_value(self, text: str) -> str:
        """A formula's cached text result (``XMLwriter._xml_formula_element``)."""
        return str(self._xml._escape_data(text))

    def serial(self, day: datetime) -> float:
        """A date as the worksheet writes it (1900 epoch, time zones kept)."""
        return float(self._serial(day, False, False))


_ESCAPER: _Escaper | None = None


def _escaper() -> _Escaper:
    global _ESCAPER
    if _ESCAPER is None:
        _ESCAPER = _Escaper()
    return _ESCAPER


_CONTROL_ESCAPE = re.compile("_x([0-9A-Fa-f]{4})_")


def _unescape_data(text: str) -> str:
    """Inverse of :meth:`_Escaper.data` (checked by a round trip where it is used)."""
    text = _CONTROL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _unescape_attr(text: str) -> str:
    return (
        text.replace("&quot;", '"')
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#xA;", "\n")
        .replace("&amp;", "&")
    )


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


# --------------------------------------------------------------------------- scanning parts

# One scan of a part finds every place where a unit's form can differ from the template.
_TOKENS = re.compile(
    r'<c r="(?P<sref>[A-Z]+[0-9]+)"(?: s="[0-9]+")? t="s"><v>(?P<sidx>[0-9]+)</v>'
    r'|<c r="(?P<bref>[A-Z]+[0-9]+)" s="(?P<bstyle>[0-9]+)"/>'
    # element text XlsxWriter writes with _xml_data_element: headers, footers, core properties
    r"|<(?P<tag>(?:odd|even|first)(?:Header|Footer)|dc:[a-z]+|cp:[A-Za-z]+)>"
    r"(?P<text>[^<]*[\ue000-\ue008][^<]*)(?=</(?P=tag)>)"
    r'|<dimension ref="(?P<dim>[^"]*)"/>'
    r"|(?P<enddata></sheetData>)"
    r"|(?P<hc>918273645)"
    r"|(?P<acts>\ue0f0)"
    r"|(?P<concl>\ue0f1)"
    r"|(?P<stray>[\ue000-\ue008])"
)
_CELL_REF = re.compile(r"([A-Z]+)([0-9]+)")
_ROW = re.compile(r'<row r="([0-9]+)"(?: spans="([0-9]+):([0-9]+)")?')
_COL_STYLE = re.compile(r'<col min="([0-9]+)" max="([0-9]+)"[^>]*? style="([0-9]+)"')
_SST = re.compile(
    r'(?s)(?P<head>.*?<sst [^>]*?)count="(?P<count>[0-9]+)" uniqueCount="(?P<unique>[0-9]+)">'
    r"(?P<body>.*)</sst>"
)
_SI = re.compile(r"(?s)<si>.*?</si>")
_WORKBOOK_SHEET = re.compile(
    r'<sheet name="([^"]*)" sheetId="[0-9]+"(?: state="[A-Za-z]+")? r:id="([^"]+)"/>'
)
_RELATIONSHIP = re.compile(r'<Relationship Id="([^"]+)" Type="[^"]*/worksheet" Target="([^"]+)"/>')
_STR_FORMULA = re.compile(r'<c r="[A-Z]+[0-9]+" s="[0-9]+" t="str"><f>[^<]*</f><v>([^<]*)</v></c>')


@dataclass
class _Part:
    name: str
    pieces: list[Any] = field(default_factory=list)  # str, or a slot tuple (see _join)
    packed: tuple[bytes, int, int] | None = None  # a part no unit changes, deflated once
    head: _Head | None = None  # what precedes its first slot that every blank form changes


@dataclass
class _Head:
    """A part's beginning up to the first slot that differs for every unit (a text holding the
    unit's name, its headcount), deflated once: a blank form's part continues from a copy of
    the compressor. zlib's output does not depend on how the input is split."""

    data: bytes  # the compressed output so far
    compressor: Any  # zlib compress object after the head
    crc: int
    size: int
    rest: int  # index of the first piece after the head


@dataclass
class _Ledger:
    """What a ledger sheet's pre-filled rows need from the template."""

    slot: LedgerSlot
    col_styles: dict[int, int]  # 1-based column → xf index of its column format
    dim: str  # the template's <dimension ref>
    dim_box: tuple[int, int, int, int]  # its first col, first row, last col, last row
    block0: tuple[int, int] | None  # spans of rows 1–16 (title and header rows)


@dataclass
class _Fill:
    """One unit's values for the slots."""

    subst: Callable[[str], str]
    subst_hf: Callable[[str], str]
    headcount: str
    blank: bool  # every slot but texts and the headcount filled as in the template
    remap: list[str]
    sst: str
    inputs: dict[str, str]
    rows: dict[str, str]
    dims: dict[str, str]
    acts_missing: str
    conclusion: str
    at: dict[str, int] = field(default_factory=dict)  # inserted cell → its string's index
    extra: dict[str, str] = field(default_factory=dict)  # text for the "extra" slots


class _Direct(Exception):
    """This unit's form is rendered directly."""


# --------------------------------------------------------------------------- the template


class FormTemplate:
    """One shape's render cut into slots; :meth:`render` gives one unit's form."""

    # Whether to deflate the parts' heads once (see _Head). Each keeps a zlib compressor, about
    # 256 KB: worth it for blank forms, of which a shape has thousands.
    HEADS = True

    def __init__(self, shape: Shape, layout: FormLayout, meta: FormMeta, key: bytes) -> None:
        self.shape = shape
        self.layout = layout
        self.meta = meta
        self.key = key
        self.fingerprint_text = layout.fingerprint_text()
        self.parts: list[_Part] = []
        self.cuts: list[tuple[str, int]] = []  # texts with unit values cut to a limit
        self.formats: dict[str, int | None] = {}
        self.strings: list[str] = []
        self.si: list[str] = []
        self.sentinel_strings: frozenset[int] = frozenset()
        self.fixed_strings: frozenset[str] = frozenset()  # the strings no unit changes
        self.indexes: list[str] = []  # 0, 1, 2…: the template's own numbering
        self.sst_head = ""
        self.sst_count = 0
        self.input_styles: dict[str, int] = {}  # activity input cell → its blank style
        self.act_boundary: dict[int, int] = {}  # activity row → where its strings join
        self.ledgers: dict[str, _Ledger] = {}
        self.ledger_boundary: dict[str, int] = {}
        self.limited_texts: list[tuple[str, int]] = []  # footers: text, UTF-16 limit
        self.prefill_ok = False
        self.row_sheets: frozenset[str] = frozenset()  # sheets other than ledgers with rows
        self.acts_missing0 = ""  # the self-check's cached results in the template
        self.conclusion0 = ""

    # ------------------------------------------------------------------ build

    @classmethod
    def build(
        cls, plan: Plan, period: Period, shape: Shape, key: bytes, generated_at: str
    ) -> FormTemplate:
        """Render ``shape`` once with sentinel unit values and cut it into slots.

        Raises :class:`TemplateUnsupported` when the render is not one this module can fill."""
        prefill = Prefill(source=S_SOURCE) if shape.has_source else EMPTY_PREFILL
        self = cls._with_sentinels(plan, period, shape, key, generated_at, prefill)
        data, trace = trace_render(self.layout, self.meta, prefill)
        self._take_trace(trace)
        self._read(data, trace.strings)
        return self

    @classmethod
    def _with_sentinels(
        cls,
        plan: Plan,
        period: Period,
        shape: Shape,
        key: bytes,
        generated_at: str,
        prefill: Prefill,
    ) -> Any:
        """An empty template of ``shape``: its layout and metadata with sentinel unit values."""
        unit = Unit(S_CODE, S_NAME, shape.category, S_REGION, S_HEADCOUNT, "", "")
        layout = build_layout(plan, unit, period, dict(shape.ledger_rows))
        if shape_of(layout, prefill) != shape:
            raise TemplateUnsupported("the shape's ledger rows do not give that layout")
        meta = replace(
            make_meta(layout, key, generated_at), fingerprint=S_FINGERPRINT, signature=S_SIGNATURE
        )
        return cls(shape, layout, meta, key)

    def _take_trace(self, trace: RenderTrace) -> None:
        """The texts with unit values that the render cut to a limit, and the style indexes."""
        for text, limit in dict.fromkeys(trace.cuts):
            if _SENTINEL.search(text):
                if utf16_len(text) > limit:
                    raise TemplateUnsupported("a text with unit values is cut in the template")
                self.cuts.append((text, limit))
        self.formats = dict(trace.formats)

    def _read(self, data: bytes, strings: list[str]) -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            raw = {n: zf.read(n) for n in names}
        if not names or names[0] != CONTENT_TYPES or SHARED_STRINGS not in raw:
            raise TemplateUnsupported("unexpected package")
        self._read_shared_strings(raw[SHARED_STRINGS].decode(), strings)
        part_sheet = {part: sheet for sheet, part in _sheet_parts(raw).items()}
        ledgers = {slot.sheet: slot for slot in self.layout.ledgers}
        inputs = {a1(s.row, c) for s in self.layout.activities for c, _ in _INPUT_COLUMNS}
        cells_by_sheet: dict[str, list[tuple[int, int]]] = {}
        for name in names:
            if name == SHARED_STRINGS:
                self.parts.append(_Part(name))  # rebuilt for every unit
                continue
            text = raw[name].decode()
            if _ACTS_MISSING in text or _CONCLUSION in text:
                raise TemplateUnsupported("marker characters in the template")
            sheet = part_sheet.get(name)
            if sheet == INSTRUCTIONS:
                text = self._mark_cached_results(text)
            pieces, cells = self._scan(text, sheet, inputs, ledgers.get(sheet) if sheet else None)
            if sheet is not None:
                cells_by_sheet[sheet] = cells
            if all(isinstance(p, str) for p in pieces):
                self.parts.append(_Part(name, packed=_deflate(raw[name])))
            else:
                self.parts.append(_Part(name, _merge_static(pieces)))
        if set(self.input_styles) != inputs:
            raise TemplateUnsupported("activity input cells")
        if set(self.ledgers) != set(ledgers):
            raise TemplateUnsupported("ledger sheets")
        self.prefill_ok = self._string_order(cells_by_sheet) and all(
            lg.block0 is not None for lg in self.ledgers.values()
        )
        for part in self.parts:
            if part.pieces and self.HEADS:
                part.head = self._head(part.pieces)

    def _head(self, pieces: list[Any]) -> _Head:
        """The pieces a blank form fills as the template did (shared-string indexes unchanged,
        blank inputs, no ledger rows, the self-check as it stands), up to the first other."""
        text: list[str] = []
        for piece in pieces:
            value = self._as_in_template(piece)
            if value is None:
                break
            text.append(value)
        n = len(text)
        data = "".join(text).encode()
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        return _Head(compressor.compress(data), compressor, zlib.crc32(data), len(data), n)

    def _as_in_template(self, piece: Any) -> str | None:
        """A piece as a blank form fills it, or ``None`` for the unit's texts and headcount."""
        if isinstance(piece, str):
            return piece
        kind = piece[0]
        if kind == "s":
            return str(piece[1])
        if kind == "in":
            return str(piece[2])
        if kind == "rows":
            return ""
        if kind == "dim":
            return self._template_dim(piece[1])
        if kind == "extra":
            return ""
        if kind == "acts":
            return self.acts_missing0
        if kind == "concl":
            return self.conclusion0
        return None

    def _read_shared_strings(self, xml: str, strings: list[str]) -> None:
        esc = _escaper()
        m = _SST.fullmatch(xml)
        if m is None:
            raise TemplateUnsupported("shared strings")
        si = _SI.findall(m.group("body"))
        if len(si) != len(strings) or int(m.group("unique")) != len(strings):
            raise TemplateUnsupported("shared string count")
        if "".join(si) != m.group("body"):
            raise TemplateUnsupported("shared strings")
        for i, (entry, text) in enumerate(zip(si, strings, strict=True)):
            if entry != esc.si(text):
                raise TemplateUnsupported(f"shared string {i} is not escaped as expected")
        self.strings = list(strings)
        self.si = si
        self.sentinel_strings = frozenset(i for i, s in enumerate(strings) if _SENTINEL.search(s))
        self.fixed_strings = frozenset(strings) - {strings[i] for i in self.sentinel_strings}
        self.indexes = [str(i) for i in range(len(strings))]
        self.sst_head = m.group("head")
        self.sst_count = int(m.group("count"))

    def _mark_cached_results(self, text: str) -> str:
        """Mark the self-check results that depend on pre-filled activities: the activity sheet's
        missing count and the conclusion line."""
        from reporting.forms import checks

        esc = _escaper()
        missing = initial_missing(self.layout, EMPTY_PREFILL)
        self.acts_missing0 = str(missing.get(ACTIVITIES, 0))
        self.conclusion0 = esc.formula_value(conclusion_text(sum(missing.values())))
        if self.layout.activities:
            formula = esc.formula_value(checks.activities_missing_count(self.layout)[1:])
            cell = f"<f>{formula}</f><v>{missing[ACTIVITIES]}</v>"
            if text.count(cell) != 1:
                raise TemplateUnsupported("activity missing count")
            text = text.replace(cell, f"<f>{formula}</f><v>{_ACTS_MISSING}</v>")
        found = list(_STR_FORMULA.finditer(text))
        expected = esc.formula_value(conclusion_text(sum(missing.values())))
        if len(found) != 1 or found[0].group(1) != expected:
            raise TemplateUnsupported("conclusion")
        m = found[0]
        return text[: m.start(1)] + _CONCLUSION + text[m.end(1) :]

    def _scan(
        self, text: str, sheet: str | None, inputs: set[str], ledger: LedgerSlot | None
    ) -> tuple[list[Any], list[tuple[int, int]]]:
        """Cut one part into static text and slots; also list its string cells as (row, index)
        in document order, which is row-major."""
        esc = _escaper()
        pieces: list[Any] = []
        cells: list[tuple[int, int]] = []
        pos = 0

        def cut(start: int, end: int, slot: tuple[Any, ...]) -> None:
            nonlocal pos
            pieces.append(text[pos:start])
            pieces.append(slot)
            pos = end

        for m in _TOKENS.finditer(text):
            kind = m.lastgroup
            if kind == "sidx":
                index = int(m.group("sidx"))
                if index >= len(self.strings):
                    raise TemplateUnsupported("shared string index")
                ref = _CELL_REF.fullmatch(m.group("sref"))
                assert ref is not None
                cells.append((int(ref.group(2)), index))
                cut(m.start("sidx"), m.end("sidx"), ("s", index))
            elif kind == "bstyle":
                if sheet == ACTIVITIES and m.group("bref") in inputs:
                    self.input_styles[m.group("bref")] = int(m.group("bstyle"))
                key = self._blank_slot(sheet, m.group("bref"), inputs)
                if key is not None:
                    cut(m.start(), m.end(), ("in", key, m.group()))
            elif kind == "text":
                value = m.group("text")
                plain = _unescape_data(value)
                if esc.data(plain) != value:
                    raise TemplateUnsupported("element text does not round-trip")
                if m.group("tag") in _HEADER_FOOTER_TAGS:
                    self.limited_texts.append((plain, _HEADER_FOOTER_LIMIT))
                    cut(m.start("text"), m.end("text"), ("hf", plain))
                else:
                    cut(m.start("text"), m.end("text"), ("text", plain))
            elif kind == "dim":
                if ledger is not None:
                    self._read_ledger(text, ledger, m.group("dim"))
                    cut(m.start("dim"), m.end("dim"), ("dim", ledger.sheet))
                elif sheet is not None and self._rows_slot(sheet, text, m.group("dim")):
                    cut(m.start("dim"), m.end("dim"), ("dim", sheet))
            elif kind == "enddata":
                if ledger is not None or (sheet is not None and sheet in self.row_sheets):
                    cut(m.start(), m.start(), ("rows", ledger.sheet if ledger else sheet))
            elif kind == "hc":
                cut(m.start(), m.end(), ("hc",))
            elif kind == "acts":
                cut(m.start(), m.end(), ("acts",))
            elif kind == "concl":
                cut(m.start(), m.end(), ("concl",))
            else:
                raise TemplateUnsupported(f"a unit value in an unexpected place ({sheet})")
        pieces.append(text[pos:])
        return pieces, cells

    def _blank_slot(self, sheet: str | None, ref: str, inputs: set[str]) -> str | None:
        """The slot key of a blank cell a unit's render may change (``None``: static text)."""
        return ref if sheet == ACTIVITIES and ref in inputs else None

    def _rows_slot(self, sheet: str, text: str, dim: str) -> bool:
        """Whether a sheet other than a ledger gets rows at its end (its dimension a slot)."""
        return False

    def _template_dim(self, sheet: str) -> str:
        return self.ledgers[sheet].dim

    def _read_ledger(self, text: str, slot: LedgerSlot, dim: str) -> None:
        corners = [_CELL_REF.fullmatch(r) for r in dim.split(":")]
        if len(corners) != 2 or corners[0] is None or corners[1] is None:
            raise TemplateUnsupported("ledger dimension")
        c1, r1 = _col_number(corners[0].group(1)), int(corners[0].group(2))
        c2, r2 = _col_number(corners[1].group(1)), int(corners[1].group(2))
        styles: dict[int, int] = {}
        for lo, hi, style in _COL_STYLE.findall(text):
            for c in range(int(lo), int(hi) + 1):
                styles[c] = int(style)
        rows = _ROW.findall(text)
        if not rows or any(int(r) >= slot.first_row for r, _, _ in rows):
            raise TemplateUnsupported("ledger rows in the template")
        spans = {(int(a), int(b)) for r, a, b in rows if a}
        block0 = spans.pop() if len(spans) == 1 and max(int(r) for r, _, _ in rows) <= 16 else None
        self.ledgers[slot.sheet] = _Ledger(slot, styles, dim, (c1, r1, c2, r2), block0)

    def _string_order(self, cells_by_sheet: dict[str, list[tuple[int, int]]]) -> bool:
        """Where pre-filled strings join the shared-string table.

        XlsxWriter numbers strings in the order they are first written, and the writer writes
        规定动作 row by row (an activity's pre-filled cells after its fixed ones), then 月报数据,
        the ledgers (pre-filled rows after the header), 填报说明 and the metadata. False when the
        template's numbering does not bear that out: pre-filled forms of the shape then go direct.
        """
        order = [
            ACTIVITIES,
            INDICATORS,
            *(slot.sheet for slot in self.layout.ledgers),
            INSTRUCTIONS,
            META,
        ]
        if sorted(order) != sorted(cells_by_sheet):
            return False
        top = -1
        after_row: dict[int, int] = {}
        for sheet in order:
            for row, index in cells_by_sheet[sheet]:
                if index > top:
                    if index != top + 1:
                        return False
                    top = index
                if sheet == ACTIVITIES:
                    after_row[row] = top + 1
            if sheet == ACTIVITIES:
                for slot in self.layout.activities:
                    self.act_boundary[slot.row] = max(
                        (n for row, n in after_row.items() if row <= slot.row), default=0
                    )
            if sheet in self.ledgers:
                self.ledger_boundary[sheet] = top + 1
        return top + 1 == len(self.strings)

    # ------------------------------------------------------------------ render

    def render(self, unit: Unit, prefill: Prefill) -> bytes | None:
        """``unit``'s form as .xlsx bytes, or ``None`` when it has to be rendered directly."""
        try:
            fill = self._fill(unit, prefill, self.meta_for(unit))
        except Exception:  # _Direct, or anything unforeseen: the direct renderer decides
            return None
        entries = []
        for part in self.parts:
            if part.packed is not None:
                packed = part.packed
            elif part.name == SHARED_STRINGS:
                packed = _deflate(fill.sst.encode())
            elif fill.blank and part.head is not None:
                head = part.head
                rest = _join(part.pieces[head.rest :], fill).encode()
                compressor = head.compressor.copy()
                data = head.data + compressor.compress(rest) + compressor.flush()
                packed = (data, zlib.crc32(rest, head.crc), head.size + len(rest))
            else:
                packed = _deflate(_join(part.pieces, fill).encode())
            entries.append((part.name, packed))
        return _zip(entries)

    def meta_for(self, unit: Unit) -> FormMeta:
        """What :func:`~reporting.forms.layout.make_meta` gives for ``unit``'s layout, without
        building it: the fingerprint's JSON is the template's with the unit's values in their
        places (JSON escapes character by character, and the cells are sorted by position)."""
        if (
            unit.category != self.shape.category
            or type(unit.headcount) is not int
            or unit.headcount <= 0
        ):
            raise _Direct
        values = {
            S_NAME: _json_inner(unit.name),
            S_CODE: _json_inner(unit.code),
            S_REGION: _json_inner(unit.region),
            str(S_HEADCOUNT): str(unit.headcount),
        }
        # (the other sentinels cannot be in locked cells unless plan text holds them; then the
        # template fails its check against a direct render anyway)
        text = _SENTINEL.sub(lambda m: values.get(m.group(), m.group()), self.fingerprint_text)
        try:
            fingerprint = fingerprint_of(text)
        except UnicodeEncodeError:  # a lone surrogate: let the direct renderer fail on it
            raise _Direct from None
        unsigned = replace(
            self.meta,
            unit_code=unit.code,
            unit_name=unit.name,
            fingerprint=fingerprint,
            signature="",
        )
        return replace(unsigned, signature=sign(self.key, unsigned.payload()))

    def _fill(
        self,
        unit: Unit,
        prefill: Prefill,
        meta: FormMeta,
        more_values: dict[str, str] | None = None,
        more_strings: dict[int, list[tuple[str, str]]] | None = None,
    ) -> _Fill:
        """The slots' values for ``unit``. ``more_values``: texts for further sentinels;
        ``more_strings``: strings written after the template's string ``i`` was first written,
        as (cell key, text) in writing order (their indexes come back in ``_Fill.at``)."""
        esc = _escaper()
        if bool(prefill.source) != self.shape.has_source:
            raise _Direct
        values = {
            S_NAME: unit.name,
            S_CODE: unit.code,
            S_REGION: unit.region,
            S_FINGERPRINT: meta.fingerprint,
            S_SIGNATURE: meta.signature,
            S_SOURCE: prefill.source,
            str(S_HEADCOUNT): str(unit.headcount),
            **(more_values or {}),
        }

        def subst(text: str) -> str:
            return _SENTINEL.sub(lambda m: values[m.group()], text)

        def subst_hf(text: str) -> str:  # in a header or footer, as the writer puts them
            return _SENTINEL.sub(lambda m: header_footer_text(values[m.group()]), text)

        for text, limit in self.cuts:
            if utf16_len(subst(text)) > limit:
                raise _Direct  # the writer would cut it
        for text, limit in self.limited_texts:
            if utf16_len(subst_hf(text)) > limit:
                raise _Direct

        # pre-filled cells: (cell, kind, value, style); strings join the table at a boundary
        inserts: dict[int, list[tuple[str, str]]] = {}
        act_cells: list[tuple[str, str, str, int]] = []
        ledger_cells: dict[str, list[tuple[int, int, str, str, int]]] = {}
        if prefill.activities or prefill.ledger_rows:
            if not self.prefill_ok:
                raise _Direct
            self._prefill_activities(prefill, act_cells, inserts)
            self._prefill_ledgers(prefill, ledger_cells, inserts)
        for boundary, cells in (more_strings or {}).items():
            inserts.setdefault(boundary, []).extend(cells)

        # the shared-string table, replayed in the writer's order
        index: dict[str, int] = {}
        si: list[str] = []
        at: dict[str, int] = {}  # pre-filled cell → its string's index

        def add(text: str, entry: str | None = None) -> int:
            i = index.get(text)
            if i is None:
                if len(text) > _LONG_TEXT or looks_rich(text):
                    raise _Direct  # the writer rewrites such text (reporting.xlsx.plain_text)
                i = index[text] = len(si)
                si.append(entry if entry is not None else esc.si(text))
            return i

        strings, entries, sentinel = self.strings, self.si, self.sentinel_strings
        own = {t: subst(strings[t]) for t in sentinel}
        texts = set(own.values())
        if any(map(looks_rich, texts)):
            raise _Direct  # the writer rewrites such text (reporting.xlsx.plain_text)
        same_indexes = (
            not inserts
            and len(texts) == len(own)
            and not texts & self.fixed_strings
            and max(map(len, texts), default=0) <= _LONG_TEXT
        )
        if same_indexes:  # nothing shares an entry: the template's numbering holds
            si = list(entries)
            for t, text in own.items():
                si[t] = esc.si(text)
            remap = self.indexes
        else:
            remap = []
            for t in range(len(strings)):
                if t in inserts:
                    for cell, text in inserts[t]:
                        at[cell] = add(text)
                i = add(own[t]) if t in sentinel else add(strings[t], entries[t])
                remap.append(str(i))
            for cell, text in inserts.get(len(strings), ()):
                at[cell] = add(text)
        count = self.sst_count + sum(len(v) for v in inserts.values())
        sst = f'{self.sst_head}count="{count}" uniqueCount="{len(si)}">{"".join(si)}</sst>'

        inputs = {
            ref: _cell_xml(ref, style, kind, str(at[ref]) if kind == "s" else value)
            for ref, kind, value, style in act_cells
        }
        rows, dims = self._ledger_rows(ledger_cells, at)
        missing = initial_missing(self.layout, prefill)
        acts_missing = str(missing.get(ACTIVITIES, 0))
        conclusion = esc.formula_value(conclusion_text(sum(missing.values())))
        blank = (
            same_indexes
            and not act_cells
            and not ledger_cells
            and (acts_missing, conclusion) == (self.acts_missing0, self.conclusion0)
        )
        return _Fill(
            subst=subst,
            subst_hf=subst_hf,
            headcount=str(unit.headcount),
            blank=blank,
            remap=remap,
            sst=sst,
            inputs=inputs,
            rows=rows,
            dims=dims,
            acts_missing=acts_missing,
            conclusion=conclusion,
            at=at,
        )

    def _prefill_activities(
        self,
        prefill: Prefill,
        out: list[tuple[str, str, str, int]],
        inserts: dict[int, list[tuple[str, str]]],
    ) -> None:
        date_style = self.formats.get("input_date")
        for slot in self.layout.activities:
            done = prefill.activities.get(slot.activity.code, {})
            for c, key in _INPUT_COLUMNS:
                cell = _cell_value(done.get(key))
                if cell is None:
                    continue
                kind, value = cell
                ref = a1(slot.row, c)
                style = date_style if kind == "d" else self.input_styles[ref]
                if style is None:
                    raise _Direct
                out.append((ref, kind, value, style))
                if kind == "s":
                    inserts.setdefault(self.act_boundary[slot.row], []).append((ref, value))

    def _prefill_ledgers(
        self,
        prefill: Prefill,
        out: dict[str, list[tuple[int, int, str, str, int]]],
        inserts: dict[int, list[tuple[str, str]]],
    ) -> None:
        date_style = self.formats.get("input_date")
        for slot in self.layout.ledgers:
            rows = prefill.ledger_rows.get(slot.sheet, [])
            if not rows:
                continue
            ledger = self.ledgers[slot.sheet]
            cells = out.setdefault(slot.sheet, [])
            for n, data in enumerate(rows[: slot.n_rows]):
                row = slot.first_row + n
                for i, column in enumerate(slot.ledger.columns):
                    cell = _cell_value(data.get(column.name))
                    if cell is None:
                        continue
                    kind, value = cell
                    col = slot.column(i)
                    style = date_style if kind == "d" else ledger.col_styles.get(col)
                    if style is None:
                        raise _Direct
                    cells.append((row, col, kind, value, style))
                    if kind == "s":
                        ref = f"{slot.sheet}!{a1(row, col)}"
                        inserts.setdefault(self.ledger_boundary[slot.sheet], []).append(
                            (ref, value)
                        )

    def _ledger_rows(
        self, ledger_cells: dict[str, list[tuple[int, int, str, str, int]]], at: dict[str, int]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Each pre-filled ledger's ``<row>`` elements and ``<dimension>``, as XlsxWriter writes
        them (``spans``: first and last used column of each block of 16 rows)."""
        rows_xml: dict[str, str] = {}
        dims = {sheet: lg.dim for sheet, lg in self.ledgers.items()}
        for sheet, cells in ledger_cells.items():
            if not cells:
                continue
            lg = self.ledgers[sheet]
            blocks: dict[int, tuple[int, int]] = {}
            for row, col, _, _, _ in cells:
                block = (row - 1) // 16
                lo, hi = blocks.get(block, (col, col))
                blocks[block] = (min(lo, col), max(hi, col))
            if 0 in blocks:
                assert lg.block0 is not None
                lo, hi = blocks[0]
                if lo < lg.block0[0] or hi > lg.block0[1]:
                    raise _Direct  # the title rows' spans would change
                blocks[0] = lg.block0
            out: list[str] = []
            current = 0
            for row, col, kind, value, style in cells:
                if row != current:
                    if current:
                        out.append("</row>")
                    lo, hi = blocks[(row - 1) // 16]
                    out.append(f'<row r="{row}" spans="{lo}:{hi}">')
                    current = row
                ref = a1(row, col)
                text = str(at[f"{sheet}!{ref}"]) if kind == "s" else value
                out.append(_cell_xml(ref, style, kind, text))
            out.append("</row>")
            rows_xml[sheet] = "".join(out)
            c1, r1, c2, r2 = lg.dim_box
            last_row = max(r2, cells[-1][0])
            last_col = max(c2, max(col for _, col, _, _, _ in cells))
            dims[sheet] = f"{col_letter(c1)}{r1}:{col_letter(last_col)}{last_row}"
        return rows_xml, dims


def _json_inner(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _cell_value(value: Any) -> tuple[str, str] | None:
    """A pre-filled value as the writer's ``_write_value`` stores it: ``None`` (a blank) or
    (kind, text): ``"s"`` a string, ``"n"`` a number, ``"d"`` a date (as its Excel serial)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "s", "是" if value else "否"
    if isinstance(value, datetime | date):
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                raise _Direct
            day = value
        else:
            day = datetime.combine(value, datetime.min.time())
        return "d", f"{_escaper().serial(day):.16G}"
    if isinstance(value, int | float):
        try:
            finite = math.isfinite(value)
        except OverflowError:
            raise _Direct from None
        if finite:
            return "n", f"{value:.16G}"
    text = str(value)
    if not text:
        raise _Direct
    return "s", text


def _cell_xml(ref: str, style: int, kind: str, value: str) -> str:
    if kind == "b":  # a blank with a style
        return f'<c r="{ref}" s="{style}"/>'
    if kind == "s":
        return f'<c r="{ref}" s="{style}" t="s"><v>{value}</v></c>'
    return f'<c r="{ref}" s="{style}"><v>{value}</v></c>'


def _join(pieces: list[Any], fill: _Fill) -> str:
    out = []
    remap = fill.remap
    for p in pieces:
        if p.__class__ is str:
            out.append(p)
            continue
        kind = p[0]
        if kind == "s":
            out.append(remap[p[1]])
        elif kind == "in":
            out.append(fill.inputs.get(p[1], p[2]))
        elif kind == "text":
            out.append(_escaper().data(fill.subst(p[1])))
        elif kind == "hf":
            out.append(_escaper().data(fill.subst_hf(p[1])))
        elif kind == "hc":
            out.append(fill.headcount)
        elif kind == "rows":
            out.append(fill.rows.get(p[1], ""))
        elif kind == "dim":
            out.append(fill.dims[p[1]])
        elif kind == "acts":
            out.append(fill.acts_missing)
        elif kind == "concl":
            out.append(fill.conclusion)
        elif kind == "extra":
            out.append(fill.extra.get(p[1], ""))
        else:  # pragma: no cover - a slot without a filler is a bug
            raise AssertionError(kind)
    return "".join(out)


def _merge_static(pieces: list[Any]) -> list[Any]:
    out: list[Any] = []
    for p in pieces:
        if isinstance(p, str):
            if not p:
                continue
            if out and isinstance(out[-1], str):
                out[-1] += p
                continue
        out.append(p)
    return out


def _sheet_parts(parts: dict[str, bytes]) -> dict[str, str]:
    """Sheet name → its part (``xl/worksheets/sheetN.xml``)."""
    workbook = parts.get("xl/workbook.xml", b"").decode()
    rels = parts.get("xl/_rels/workbook.xml.rels", b"").decode()
    targets = dict(_RELATIONSHIP.findall(rels))
    out = {}
    for name, rid in _WORKBOOK_SHEET.findall(workbook):
        target = targets.get(rid)
        if target is None:
            raise TemplateUnsupported("workbook relationships")
        out[_unescape_attr(name)] = "xl/" + target
    return out


# --------------------------------------------------------------------------- zip


def _deflate(data: bytes) -> tuple[bytes, int, int]:
    part = zippack.deflate("", data)
    return part.data, part.crc, part.size


def _zip(entries: list[tuple[str, tuple[bytes, int, int]]]) -> bytes:
    """The archive zipfile writes for XlsxWriter (every part deflated, dated 1980-01-01, mode
    0600), byte for byte, with the unchanging parts deflated once per template."""
    parts = (zippack.Part(name, crc, size, data) for name, (data, crc, size) in entries)
    return zippack.pack(parts, mode=zippack.XLSXWRITER_MODE)
