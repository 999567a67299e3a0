"""A Word document in the layout of Chinese official documents (GB/T 9704-2012).

A4; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm; 22 lines of 28 characters (a
document grid of 579-twip lines); title 2号 (22 pt) 方正小标宋简体 centred; body 3号 (16 pt)
仿宋_GB2312; first-level headings in 黑体, second-level in 楷体_GB2312; page numbers "— 1 —" in
4号 (14 pt) 宋体, right on odd pages and left on even pages.

python-docx's ``font.name`` sets only the Latin font slots; Chinese text uses ``w:eastAsia``,
which is set here on every style and every run (python-openxml/python-docx#154).
"""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from reporting.text import xml_text

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
PAGE_FONT = "宋体"
LATIN_FONT = "Times New Roman"
RED = RGBColor(0xE6, 0x00, 0x12)

BODY_PT = 16  # 3号
TITLE_PT = 22  # 2号
PAGE_PT = 14  # 4号
TABLE_PT = 12  # 小四, so a ranking table fits the 156 mm text width
LINE_TWIPS = 579  # 225 mm / 22 lines
CHARS_PER_LINE = 28

STYLE_TITLE = "公文标题"
STYLE_BODY = "公文正文"
STYLE_H1 = "公文一级标题"
STYLE_H2 = "公文二级标题"
STYLE_TABLE = "公文表格"


def set_fonts(
    target: Any, east_asia: str, size: float | None = None, latin: str = LATIN_FONT
) -> None:
    """Fonts of a run or a style, Chinese slot included."""
    font = target.font
    font.name = latin
    if size is not None:
        font.size = Pt(size)
    rpr = (
        target.element.get_or_add_rPr()
        if hasattr(target.element, "get_or_add_rPr")
        else target._element.get_or_add_rPr()
    )
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)


def _exact_lines(fmt: Any, twips: int = LINE_TWIPS) -> None:
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(twips / 20)
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)


class OfficialDocument:
    """Build a notice paragraph by paragraph; :meth:`save` returns the .docx bytes."""

    def __init__(self) -> None:
        self.doc = Document()
        self._page()
        self._styles()
        self._footers()
        body = self.doc.element.body
        for p in list(body.iterchildren(qn("w:p"))):  # the template's empty first paragraph
            body.remove(p)

    # ---- setup
    def _page(self) -> None:
        section = self.doc.sections[0]
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
        section.header_distance, section.footer_distance = Mm(15), Mm(28) - Mm(7)
        section.start_type = WD_SECTION.NEW_PAGE
        grid = section._sectPr.find(qn("w:docGrid"))
        if grid is None:
            grid = OxmlElement("w:docGrid")
            section._sectPr.append(grid)
        # 22 lines a page. Characters: Word would take a "linesAndChars" grid with a negative
        # charSpace, but LibreOffice (our PDF renderer) misreads negative values and spreads
        # the text two cells a character; a -0.25 pt character spacing on the 16 pt styles
        # gives the same 28 characters a line in both.
        grid.set(qn("w:type"), "lines")
        grid.set(qn("w:linePitch"), str(LINE_TWIPS))

    def _style(
        self,
        name: str,
        font: str,
        size: float,
        *,
        align: Any = None,
        indent: bool = False,
        bold: bool = False,
    ) -> Any:
        styles = self.doc.styles
        style = (
            styles[name]
            if name in [s.name for s in styles]
            else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        )
        style.base_style = styles["Normal"]
        set_fonts(style, font, size)
        style.font.bold = bold
        fmt = style.paragraph_format
        _exact_lines(fmt)
        if align is not None:
            fmt.alignment = align
        fmt.first_line_indent = Pt(BODY_PT * 2) if indent else Pt(0)
        if size == BODY_PT:
            _condense(style.element.get_or_add_rPr())
        return style

    def _styles(self) -> None:
        # The document grid counts characters in the default font size: Word takes it from the
        # Normal style, LibreOffice from the document defaults; make both 16 pt.
        defaults = self.doc.styles.element.find(qn("w:docDefaults"))
        if defaults is not None:
            rpr = defaults.find(qn("w:rPrDefault") + "/" + qn("w:rPr"))
            if rpr is not None:
                for tag in ("w:sz", "w:szCs"):
                    el = rpr.find(qn(tag))
                    if el is None:
                        el = OxmlElement(tag)
                        rpr.append(el)
                    el.set(qn("w:val"), str(BODY_PT * 2))
                fonts = rpr.find(qn("w:rFonts"))
                if fonts is None:
                    fonts = OxmlElement("w:rFonts")
                    rpr.insert(0, fonts)
                fonts.set(qn("w:eastAsia"), BODY_FONT)
        normal = self.doc.styles["Normal"]
        set_fonts(normal, BODY_FONT, BODY_PT)
        _exact_lines(normal.paragraph_format)
        normal.paragraph_format.widow_control = False
        self._style(STYLE_TITLE, TITLE_FONT, TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER)
        self._style(STYLE_BODY, BODY_FONT, BODY_PT, align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent=True)
        self._style(STYLE_H1, HEADING1_FONT, BODY_PT, indent=True)
        self._style(STYLE_H2, HEADING2_FONT, BODY_PT, indent=True)
        table = self._style(STYLE_TABLE, BODY_FONT, TABLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER)
        _exact_lines(table.paragraph_format, 400)

    def _footers(self) -> None:
        self.doc.settings.odd_and_even_pages_header_footer = True
        section = self.doc.sections[0]
        for footer, align in (
            (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
            (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
        ):
            footer.is_linked_to_previous = False
            p = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
            p.alignment = align
            fmt = p.paragraph_format
            # one character in from the margin (GB/T 9704 7.5)
            if align == WD_ALIGN_PARAGRAPH.RIGHT:
                fmt.right_indent = Pt(PAGE_PT)
            else:
                fmt.left_indent = Pt(PAGE_PT)
            self._text_run(p, "— ", PAGE_FONT, PAGE_PT)
            self._page_field(p)
            self._text_run(p, " —", PAGE_FONT, PAGE_PT)

    def _page_field(self, paragraph: Any) -> None:
        for kind, text in (
            ("begin", None),
            ("instr", " PAGE "),
            ("separate", None),
            ("text", "1"),
            ("end", None),
        ):
            run = paragraph.add_run()
            set_fonts(run, PAGE_FONT, PAGE_PT, latin=PAGE_FONT)
            if kind == "instr":
                instr = OxmlElement("w:instrText")
                instr.set(qn("xml:space"), "preserve")
                instr.text = text
                run._r.append(instr)
            elif kind == "text":
                run.text = text or ""
            else:
                fld = OxmlElement("w:fldChar")
                fld.set(qn("w:fldCharType"), kind)
                run._r.append(fld)

    # ---- content
    def _text_run(
        self,
        paragraph: Any,
        text: str,
        font: str,
        size: float,
        color: RGBColor | None = None,
        bold: bool = False,
    ) -> Any:
        run = paragraph.add_run(xml_text(text))  # a plan's text may hold a pasted \x0b
        set_fonts(run, font, size, latin=font if font == PAGE_FONT else LATIN_FONT)
        run.font.bold = bold
        if color is not None:
            run.font.color.rgb = color
        return run

    def masthead(self, issuer: str, number: str) -> None:
        """发文机关标志 in red, 发文字号, and the red separating line."""
        p = self.doc.add_paragraph(style=STYLE_TITLE)
        p.paragraph_format.space_before = Pt(0)
        _exact_lines(p.paragraph_format, 1100)
        text = f"{issuer}文件"
        # as large as fits the text width on one line, at most 36 pt (GB/T 9704 7.2.1)
        width_pt = (210 - 28 - 26) / 25.4 * 72
        size = max(16, min(36, int(width_pt * 0.96 / len(text))))
        self._text_run(p, text, TITLE_FONT, size, RED)
        self.blank()
        p = self.doc.add_paragraph(style=STYLE_BODY)
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.first_line_indent = Pt(0)
        self._text_run(p, number, BODY_FONT, BODY_PT)
        _border(p, "bottom", "E60012", 12)
        self.blank()

    def title(self, text: str) -> None:
        for line in text.split("\n"):
            p = self.doc.add_paragraph(style=STYLE_TITLE)
            _exact_lines(p.paragraph_format, 700)
            self._text_run(p, line, TITLE_FONT, TITLE_PT)
        self.blank()

    def blank(self) -> None:
        self.doc.add_paragraph(style=STYLE_BODY)

    def recipients(self, text: str) -> None:
        p = self.doc.add_paragraph(style=STYLE_BODY)
        p.paragraph_format.first_line_indent = Pt(0)
        self._text_run(p, text, BODY_FONT, BODY_PT)

    def heading1(self, text: str) -> None:
        p = self.doc.add_paragraph(style=STYLE_H1)
        self._text_run(p, text, HEADING1_FONT, BODY_PT)

    def heading2(self, text: str) -> None:
        p = self.doc.add_paragraph(style=STYLE_H2)
        self._text_run(p, text, HEADING2_FONT, BODY_PT)

    def paragraph(self, text: str) -> None:
        """A body paragraph; a leading ``（一）`` style lead-in is set in 楷体 as a run."""
        p = self.doc.add_paragraph(style=STYLE_BODY)
        self._text_run(p, text, BODY_FONT, BODY_PT)

    def table(self, header: list[str], rows: list[list[str]], widths_mm: list[float]) -> None:
        table = self.doc.add_table(rows=1 + len(rows), cols=len(header))
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False  # fixed layout: the widths below are kept by Word and LibreOffice
        for c, width in enumerate(widths_mm):
            table.columns[c].width = Mm(width)
        table_rows = list(table.rows)  # table.rows[r] rebuilds the grid each time: quadratic
        for r, values in enumerate([header, *rows]):
            cells = table_rows[r].cells
            for c, value in enumerate(values):
                cell = cells[c]
                cell.width = Mm(widths_mm[c])
                p = cell.paragraphs[0]
                p.style = self.doc.styles[STYLE_TABLE]
                self._text_run(p, value, HEADING1_FONT if r == 0 else BODY_FONT, TABLE_PT)
        header_row = table.rows[0]._tr
        trpr = header_row.get_or_add_trPr()
        repeat = OxmlElement("w:tblHeader")
        repeat.set(qn("w:val"), "true")
        trpr.append(repeat)

    def annexes(self, names: list[str]) -> None:
        """附件说明: "附件：1. …" with later items aligned under the first."""
        for i, name in enumerate(names, start=1):
            p = self.doc.add_paragraph(style=STYLE_BODY)
            lead = "附件：" if i == 1 else "　　　"
            self._text_run(p, f"{lead}{i}. {name}", BODY_FONT, BODY_PT)

    def signature(self, issuer: str, date_text: str) -> None:
        self.blank()
        self.blank()
        for text in (issuer, date_text):
            p = self.doc.add_paragraph(style=STYLE_BODY)
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            p.paragraph_format.first_line_indent = Pt(0)
            p.paragraph_format.right_indent = Pt(BODY_PT * 4)
            self._text_run(p, text, BODY_FONT, BODY_PT)

    def imprint(self, office: str, date_text: str) -> None:
        """版记: the printing office and date between two lines, at the end."""
        self.blank()
        p = self.doc.add_paragraph(style=STYLE_BODY)
        p.paragraph_format.first_line_indent = Pt(0)
        p.paragraph_format.left_indent = Pt(PAGE_PT)
        _border(p, "top", "000000", 8)
        _border(p, "bottom", "000000", 8)
        self._text_run(p, f"{office}", BODY_FONT, PAGE_PT)
        self._text_run(p, "\t", BODY_FONT, PAGE_PT)
        self._text_run(p, f"{date_text}印发", BODY_FONT, PAGE_PT)
        tabs = p.paragraph_format.tab_stops
        from docx.enum.text import WD_TAB_ALIGNMENT

        tabs.add_tab_stop(Mm(156 - 6), WD_TAB_ALIGNMENT.RIGHT)

    def save(self) -> bytes:
        buf = io.BytesIO()
        self.doc.save(buf)
        return buf.getvalue()


CONDENSE_TWENTIETHS = -5  # 28 x (16 - 0.25) pt fits the 156 mm (442 pt) line


def _condense(rpr: Any) -> None:
    spacing = rpr.find(qn("w:spacing"))
    if spacing is None:
        spacing = OxmlElement("w:spacing")
        rpr.append(spacing)
    spacing.set(qn("w:val"), str(CONDENSE_TWENTIETHS))


def _border(paragraph: Any, side: str, color: str, size_eighths: int) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.append(borders)
    edge = OxmlElement(f"w:{side}")
    edge.set(qn("w:val"), "single")
    edge.set(qn("w:sz"), str(size_eighths))
    edge.set(qn("w:space"), "1")
    edge.set(qn("w:color"), color)
    borders.append(edge)


def chinese_date(day: Any) -> str:
    """2014年6月5日 (GB/T 9704: Arabic numerals, no leading zeros)."""
    return f"{day.year}年{day.month}月{day.day}日"


def bracket_number(number: str) -> str:
    """发文字号 with 六角括号: 浙卫发[2014]12号 / (2014) / 【2014】 → 浙卫发〔2014〕12号."""
    import re

    return re.sub(r"[\[【(（［{]\s*(\d{4})\s*[\]】)）］}]", r"〔\1〕", number)
