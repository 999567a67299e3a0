"""Feedback copies (退回修改表) at provincial scale: one XlsxWriter render per form shape, the
returned values, marks, comments and 问题清单 rows put in for each file.

A feedback copy is :func:`~reporting.forms.writer.render_form` with
:class:`~reporting.forms.writer.Annotations`: the unit's form with its values written back into
the input cells, every problem cell marked (red or amber border and fill) and commented, and a
问题清单 sheet in front listing the findings. XlsxWriter takes ~14 ms for one; a file in five is
sent back in a real first month, so at 10,000 units that was the largest single cost of collect.

:class:`FeedbackTemplate` is a :class:`~reporting.forms.template.FormTemplate` cut from a
feedback render with sentinel unit values and sentinel summary lines, no values, no marks and no
issue rows. For each file it fills:

* the unit's texts and the summary lines (the form template's text slots);
* every blank cell of the form's sheets (a slot each): the value written back, with the style
  XlsxWriter gives it (``input``, or ``input_date`` for a date; a marked cell ``bad``/``warn``
  or their date twins). The writer numbers the styles in one fixed order for feedback copies,
  so a style's index does not depend on which cells are marked;
* ledger cells as new rows (the form template's ledger rows, with the values' styles);
* the 问题清单 rows and the sheet's dimension;
* the shared strings in the writer's order: the values' strings after the form's (values first,
  then the marked cells, as :func:`~reporting.forms.writer._write_annotations` writes them),
  before the 问题清单's own, and the rows' strings last;
* comments: ``<legacyDrawing>`` in each commented sheet, and the comments, VML and relationship
  parts written by XlsxWriter's own classes, with positions from the template's worksheets
  (the column widths and row heights are the shape's).

Anything else (a mark on a cell the form does not leave blank, text XlsxWriter would rewrite, a
value of an unexpected type) makes :meth:`FeedbackTemplate.render_feedback` return ``None`` and
the caller renders that copy with XlsxWriter. :mod:`reporting.intake.feedback` compares each
template's first copy with a direct render before it uses the template, and the tests compare
many copies part by part.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import replace
from typing import Any

from reporting import zippack
from reporting.forms.layout import (
    ACTIVITIES,
    INDICATORS,
    INSTRUCTIONS,
    META,
)
from reporting.forms.template import (
    CONTENT_TYPES,
    S_SUMMARY,
    SHARED_STRINGS,
    FormTemplate,
    Shape,
    TemplateUnsupported,
    _cell_value,
    _cell_xml,
    _deflate,
    _Direct,
    _Fill,
    _join,
    _sheet_parts,
    _zip,
)
from reporting.forms.writer import (
    COMMENT_LIMIT,
    COMMENT_OPTIONS,
    EMPTY_PREFILL,
    ISSUES_SHEET,
    Annotations,
    render_form,
    trace_render,
)
from reporting.periods import Period
from reporting.plan.model import Plan, Unit
from reporting.text import cut

ISSUE_COLUMNS = 6

_CELL = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
_DIM = re.compile(r"A1:([A-Z]+)([0-9]+)")
_VML_DEFAULT = (
    '<Default Extension="vml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.vmlDrawing"/>'
)
_XML_DEFAULT = '<Default Extension="xml" ContentType="application/xml"/>'
_COMMENTS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
_SST_OVERRIDE = '<Override PartName="/xl/sharedStrings.xml"'
_THEME = "xl/theme/theme1.xml"
STYLES = "xl/styles.xml"
_SHEET_END = "</worksheet>"
_AFTER_LEGACY = re.compile("<(?:legacyDrawingHF|picture|tableParts|extLst)[ >/]")


class FeedbackTemplate(FormTemplate):
    """One shape's feedback render cut into slots; :meth:`render_feedback` gives one copy."""

    HEADS = False  # every copy changes its parts early on: no compressor state kept (~2 MB)

    @classmethod
    def build_feedback(
        cls, plan: Plan, period: Period, shape: Shape, key: bytes, generated_at: str
    ) -> FeedbackTemplate:
        """Render ``shape``'s feedback copy once with sentinel values and cut it into slots.

        Raises :class:`TemplateUnsupported` when the render is not one this module can fill."""
        if shape.has_source:
            raise TemplateUnsupported("a feedback copy has no pre-fill note")
        self = cls._with_sentinels(plan, period, shape, key, generated_at, EMPTY_PREFILL)
        self.row_sheets = frozenset({ISSUES_SHEET})
        self.blank_cells: set[str] = set()  # "sheet!A1" of every blank on the form's sheets
        self.issues_dim = ""
        self.issues_first_row = 0  # the first 问题清单 row (1-based)
        self.issues_spans = ""
        notes = Annotations(summary=list(S_SUMMARY))
        layout, meta = self.layout, self.meta
        data, trace = trace_render(layout, meta, EMPTY_PREFILL, notes)
        self._take_trace(trace)
        if any(self.formats.get(n) is None for n in _STYLES_USED):
            raise TemplateUnsupported("a style the copies use has no index")
        self.worksheets = trace.sheets
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            self.sheet_part_names = _sheet_parts(
                {n: zf.read(n) for n in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels")}
            )
            self.content_types = zf.read(CONTENT_TYPES).decode()
        if list(self.sheet_part_names) != list(self.worksheets):
            raise TemplateUnsupported("sheets")
        if (
            self.content_types.count(_XML_DEFAULT) != 1
            or self.content_types.count(_SST_OVERRIDE) != 1
        ):
            raise TemplateUnsupported("content types")
        self._read(data, trace.strings)
        self._boundary = trace.issue_strings
        if not 0 < self._boundary < len(self.strings):
            raise TemplateUnsupported("问题清单 strings")
        if not self.issues_dim:
            raise TemplateUnsupported("问题清单 dimension")
        self.styles_with_comments = self._styles_with_comments(layout, meta, notes)
        return self

    def _styles_with_comments(
        self, layout: Any, meta: Any, notes: Annotations
    ) -> tuple[bytes, int, int]:
        """styles.xml of a copy with comments (XlsxWriter adds the comments' font)."""
        first = next(iter(self.input_styles), None)
        if first is None:
            raise TemplateUnsupported("no blank cell to comment on")
        marked = replace(notes, marks={(ACTIVITIES, first): ("error", "x")})
        with zipfile.ZipFile(io.BytesIO(render_form(layout, meta, annotations=marked))) as zf:
            return _deflate(zf.read(STYLES))

    # ------------------------------------------------------------------ reading the template

    def _blank_slot(self, sheet: str | None, ref: str, inputs: set[str]) -> str | None:
        if sheet is None or sheet in (ISSUES_SHEET, META):
            return None
        key = f"{sheet}!{ref}"
        self.blank_cells.add(key)
        return key

    def _rows_slot(self, sheet: str, text: str, dim: str) -> bool:
        if sheet != ISSUES_SHEET:
            return False
        m = _DIM.fullmatch(dim)
        if m is None or m.group(1) != "F":
            raise TemplateUnsupported("问题清单 dimension")
        rows = re.findall(r'<row r="([0-9]+)" spans="([0-9]+:[0-9]+)"', text)
        if not rows or {spans for _, spans in rows} != {f"1:{ISSUE_COLUMNS}"}:
            raise TemplateUnsupported("问题清单 rows")
        if int(rows[-1][0]) != int(m.group(2)):
            raise TemplateUnsupported("问题清单 rows")
        self.issues_dim = dim
        self.issues_first_row = int(m.group(2)) + 1
        self.issues_spans = f"1:{ISSUE_COLUMNS}"
        return True

    def _template_dim(self, sheet: str) -> str:
        if sheet == ISSUES_SHEET:
            return self.issues_dim
        return super()._template_dim(sheet)

    def _read(self, data: bytes, strings: list[str]) -> None:
        super()._read(data, strings)
        names = [p.name for p in self.parts]
        if names[0] != CONTENT_TYPES or SHARED_STRINGS not in names or _THEME not in names:
            raise TemplateUnsupported("unexpected package")
        if any("comments" in n or "vmlDrawing" in n or "_rels/sheet" in n for n in names):
            raise TemplateUnsupported("the template has comments")
        # a commented sheet's <legacyDrawing> goes last (these sheets have none of the elements
        # XlsxWriter writes after it): a slot before </worksheet>
        parts = {p.name: p for p in self.parts}
        for sheet in self._form_sheets():
            part = parts[self.sheet_part_names[sheet]]
            if part.packed is not None:
                part.pieces = [zlib.decompress(part.packed[0], -15).decode()]
                part.packed = None
            last = part.pieces[-1]
            if not isinstance(last, str) or not last.endswith(_SHEET_END):
                raise TemplateUnsupported("a sheet ends unexpectedly")
            if any(isinstance(p, str) and _AFTER_LEGACY.search(p) for p in part.pieces):
                raise TemplateUnsupported("an element XlsxWriter writes after <legacyDrawing>")
            part.pieces[-1:] = [last[: -len(_SHEET_END)]]
            part.pieces += [("extra", f"legacy:{sheet}"), "</worksheet>"]

    # ------------------------------------------------------------------ one copy

    def render_feedback(self, unit: Unit, notes: Annotations) -> bytes | None:
        """The feedback copy for ``unit``, or ``None`` when it has to be rendered directly."""
        try:
            return self._render(unit, notes)
        except Exception:  # _Direct, or anything unforeseen: the direct renderer decides
            return None

    def _render(self, unit: Unit, notes: Annotations) -> bytes:
        if len(notes.summary) != len(S_SUMMARY):
            raise _Direct
        meta = self.meta_for(unit)
        cells = self._cells(notes)
        strings: list[tuple[str, str]] = [(k, text) for k, kind, text, _ in cells if kind == "s"]
        rows = self._issue_rows(notes)
        issue_strings = [(k, t) for k, kind, t, _ in rows if kind == "s"]
        more = {
            self._boundary: strings,
            len(self.strings): issue_strings,
        }
        fill = self._fill(
            unit,
            EMPTY_PREFILL,
            meta,
            dict(zip(S_SUMMARY, notes.summary, strict=True)),
            {b: v for b, v in more.items() if v},
        )
        self._place(cells, fill)
        fill.rows[ISSUES_SHEET], fill.dims[ISSUES_SHEET] = self._issue_xml(rows, fill)
        extra_parts = self._comments(notes, fill)
        return self._package(fill, extra_parts)

    def _cells(self, notes: Annotations) -> list[tuple[str, str, str, int]]:
        """The cells the writer writes, in its order: (sheet!A1, kind, text, style); kind is
        ``s`` (text), ``n`` (number), ``d`` (date serial) or ``b`` (a blank)."""
        f = self.formats
        sheets = self._form_sheets()
        out: list[tuple[str, str, str, int]] = []

        def put(sheet: str, ref: str, value: Any, style: str, date_style: str) -> None:
            cell = _cell_value(value)
            if cell is None:
                out.append((f"{sheet}!{ref}", "b", "", _int(f[style])))
                return
            kind, text = cell
            out.append(
                (f"{sheet}!{ref}", kind, text, _int(f[date_style if kind == "d" else style]))
            )

        for (sheet, ref), value in notes.values.items():
            if sheet not in sheets or (sheet, ref) in notes.marks:
                continue
            put(sheet, ref, value, "input", "input_date")
        for (sheet, ref), (severity, _message) in notes.marks.items():
            if sheet not in sheets:
                continue
            error = severity == "error"
            put(
                sheet,
                ref,
                notes.values.get((sheet, ref)),
                "bad" if error else "warn",
                "bad_date" if error else "warn_date",
            )
        return out

    def _form_sheets(self) -> set[str]:
        return {INSTRUCTIONS, ACTIVITIES, INDICATORS, *(s.sheet for s in self.layout.ledgers)}

    def _place(self, cells: list[tuple[str, str, str, int]], fill: _Fill) -> None:
        """Each cell into its blank's slot, or into its ledger's new rows."""
        ledger_cells: dict[str, list[tuple[int, int, str, str, int]]] = {}
        for key, kind, text, style in cells:
            sheet, ref = key.split("!", 1)
            m = _CELL.fullmatch(ref)
            if m is None:
                raise _Direct
            if key in self.blank_cells:
                value = str(fill.at[key]) if kind == "s" else text
                fill.inputs[key] = _cell_xml(ref, style, kind, value)
                continue
            ledger = self.ledgers.get(sheet)
            row = int(m.group(2))
            if ledger is None or row < ledger.slot.first_row:
                raise _Direct  # a cell the form writes text into, or outside the form
            col = 0
            for ch in m.group(1):
                col = col * 26 + ord(ch) - 64
            ledger_cells.setdefault(sheet, []).append((row, col, kind, text, style))
        for lc in ledger_cells.values():
            lc.sort(key=lambda c: (c[0], c[1]))
            if len({(r, c) for r, c, *_ in lc}) != len(lc):
                raise _Direct
        rows, dims = self._ledger_rows(ledger_cells, fill.at)
        fill.rows.update(rows)
        fill.dims.update(dims)

    def _issue_rows(self, notes: Annotations) -> list[tuple[str, str, str, int]]:
        f = self.formats
        out: list[tuple[str, str, str, int]] = []
        row = self.issues_first_row
        for n, issue in enumerate(notes.issues, start=1):
            if len(issue) != ISSUE_COLUMNS - 1:
                raise _Direct
            out.append((f"{ISSUES_SHEET}!A{row}", "n", f"{n:.16G}", _int(f["locked_center"])))
            for c, text in enumerate(issue, start=2):
                key = f"{ISSUES_SHEET}!{chr(64 + c)}{row}"
                out.append((key, "s", str(text), _int(f["locked"])))
            row += 1
        return out

    def _issue_xml(self, rows: list[tuple[str, str, str, int]], fill: _Fill) -> tuple[str, str]:
        if not rows:
            return "", self.issues_dim
        out: list[str] = []
        current = ""
        for key, kind, text, style in rows:
            ref = key.split("!", 1)[1]
            row = ref[1:]
            if row != current:
                if current:
                    out.append("</row>")
                out.append(f'<row r="{row}" spans="{self.issues_spans}">')
                current = row
            value = str(fill.at[key]) if kind == "s" else text
            out.append(_cell_xml(ref, style, kind, value))
        out.append("</row>")
        return "".join(out), f"A1:F{current}"

    # ------------------------------------------------------------------ comments

    def _comments(self, notes: Annotations, fill: _Fill) -> list[tuple[str, str]]:
        """Each commented sheet's ``<legacyDrawing>`` (into ``fill.extra``), and the parts to
        add: (name, XML) for the VML drawings, the comments and the sheets' relationships."""
        from xlsxwriter.comments import Comments, CommentType
        from xlsxwriter.relationships import Relationships
        from xlsxwriter.utility import xl_cell_to_rowcol
        from xlsxwriter.vml import Vml

        by_sheet: dict[str, dict[tuple[int, int], Any]] = {}
        sheets = self._form_sheets()
        for (sheet, ref), (_severity, message) in notes.marks.items():
            if sheet not in sheets:
                continue
            ws = self.worksheets.get(sheet)
            if ws is None:
                raise _Direct
            r, c = xl_cell_to_rowcol(ref)
            text = cut(message, COMMENT_LIMIT)
            if ws._check_dimensions(r, c, True, True):  # (read-only with both flags)
                raise _Direct
            by_sheet.setdefault(sheet, {})[(r, c)] = CommentType(r, c, text, COMMENT_OPTIONS)
        if not by_sheet:
            return []
        vml_parts: list[tuple[str, str]] = []
        comment_parts: list[tuple[str, str]] = []
        rel_parts: list[tuple[str, str]] = []
        data_id, shape_id, n = 1, 1024, 0
        for sheet_name, ws in self.worksheets.items():
            comments = by_sheet.get(sheet_name)
            if not comments:
                continue
            n += 1
            listed = [comments[k] for k in sorted(comments)]
            for comment in listed:
                comment.vertices = ws._comment_vertices(comment)
                if comment.is_visible is None:
                    comment.is_visible = ws.comments_visible
                if comment.author is None:
                    comment.author = ws.comments_author
            count = len(listed)
            ids: Any = data_id
            for i in range(count // 1024):
                ids = f"{ids},{data_id + i + 1}"
            vml = Vml()
            vml_parts.append(
                (f"xl/drawings/vmlDrawing{n}.vml", _xml(vml, ids, shape_id, listed, []))
            )
            comments_part = Comments()
            comment_parts.append((f"xl/comments{n}.xml", _xml(comments_part, listed)))
            rels = Relationships()
            rels._add_document_relationship("/vmlDrawing", f"../drawings/vmlDrawing{n}.vml")
            rels._add_document_relationship("/comments", f"../comments{n}.xml")
            part = self.sheet_part_names[sheet_name]
            rel_parts.append(
                (part.replace("worksheets/", "worksheets/_rels/") + ".rels", _xml(rels))
            )
            fill.extra[f"legacy:{sheet_name}"] = '<legacyDrawing r:id="rId1"/>'
            data_id += (1024 + count) // 1024
            shape_id += 1024 * ((1024 + count) // 1024)
        overrides = "".join(
            f'<Override PartName="/{name}" ContentType="{_COMMENTS_TYPE}"/>'
            for name, _ in comment_parts
        )
        ct = self.content_types.replace(_XML_DEFAULT, _XML_DEFAULT + _VML_DEFAULT, 1)
        ct = ct.replace(_SST_OVERRIDE, overrides + _SST_OVERRIDE, 1)
        fill.extra["content-types"] = ct
        return [*vml_parts, *comment_parts, ("", ""), *rel_parts]

    def _package(self, fill: _Fill, extra: list[tuple[str, str]]) -> bytes:
        split = extra.index(("", "")) if extra else 0
        before_sst, after_theme = extra[:split], extra[split + 1 :]
        entries = []
        for part in self.parts:
            if part.name == SHARED_STRINGS:
                entries.extend((name, _fast(xml)) for name, xml in before_sst)
                entries.append((part.name, _fast(fill.sst)))
            elif part.name == CONTENT_TYPES and "content-types" in fill.extra:
                entries.append((part.name, _fast(fill.extra["content-types"])))
            elif part.name == STYLES and extra:
                entries.append((part.name, self.styles_with_comments))
            elif part.packed is not None:
                entries.append((part.name, part.packed))
            else:
                entries.append((part.name, _fast(_join(part.pieces, fill))))
            if part.name == _THEME:
                entries.extend((name, _fast(xml)) for name, xml in after_theme)
        return _zip(entries)


_STYLES_USED = (
    "input",
    "input_date",
    "bad",
    "bad_date",
    "warn",
    "warn_date",
    "locked",
    "locked_center",
)


def _int(value: int | None) -> int:
    if value is None:
        raise _Direct
    return value


def _fast(xml: str) -> tuple[bytes, int, int]:
    """A part written for one copy, deflated at zippack's fast level (the parts' bytes are
    XlsxWriter's; only the compressed size differs, by a few per cent)."""
    part = zippack.deflate("", xml.encode(), zippack.FAST)
    return part.data, part.crc, part.size


def _xml(writer: Any, *args: Any) -> str:
    buf = io.StringIO()
    writer._set_filehandle(buf)
    writer._assemble_xml_file(*args)
    return buf.getvalue()
