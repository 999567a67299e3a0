"""The Word inspector sheet as python-docx built it before ``reporting.inspection.word`` wrote
the XML directly: the oracle the fast renderer is compared with, part by part.

Kept as it was except two fixes: the footer and the document title now go through
``xml_text`` too (a unit name with a control character made lxml raise).
"""

from __future__ import annotations

import copy
import io
from typing import Any

from reporting.inspection.sheet import (
    COMMENT_LABEL,
    DATE_LABEL,
    INFO_LABELS,
    InspectionSheet,
    title_text,
)
from reporting.inspection.word import BODY_FONT, HEAD_FONT, xml_text


def set_east_asian(target: Any, name: str) -> None:
    """Set Latin and East Asian font of a run or a style to ``name``."""
    from docx.oxml.ns import qn

    target.font.name = name
    rpr = target.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _run_template(font: str, size: float, bold: bool) -> Any:
    """A ``w:r`` with its fonts, size and weight set, and an empty ``w:t`` last."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = OxmlElement("w:r")
    rpr = OxmlElement("w:rPr")
    fonts = OxmlElement("w:rFonts")
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia"):
        fonts.set(qn(attr), font)
    rpr.append(fonts)
    if bold:
        rpr.append(OxmlElement("w:b"))
    sz = OxmlElement("w:sz")
    sz.set(qn("w:val"), str(int(size * 2)))
    rpr.append(sz)
    run.append(rpr)
    text = OxmlElement("w:t")
    text.set(qn("xml:space"), "preserve")
    run.append(text)
    return run


def reference_docx(sheet: InspectionSheet) -> bytes:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(20)
    section.top_margin = section.bottom_margin = Mm(20)
    grid = doc.styles["Table Grid"]
    for style_name in ("Normal", "Table Grid"):
        style = doc.styles[style_name]
        set_east_asian(style, BODY_FONT)
        style.font.size = Pt(10.5)

    def para(
        text: str,
        *,
        size: float = 10.5,
        bold: bool = False,
        font: str = BODY_FONT,
        align: Any = None,
        space_after: float = 4,
    ) -> Any:
        p = doc.add_paragraph()
        if align is not None:
            p.alignment = align
        p.paragraph_format.space_after = Pt(space_after)
        run = p.add_run(xml_text(text))
        run.bold = bold
        run.font.size = Pt(size)
        set_east_asian(run, font)
        return p

    def table(
        headers: tuple[str, ...] | None, rows: list[tuple[str, ...]], widths: tuple[float, ...]
    ) -> Any:
        # Built on the XML directly: python-docx's per-cell API costs ~1 ms a cell, and a sheet
        # has hundreds of cells. Every run still carries its own fonts (East Asian included).
        lines = ([headers] if headers else []) + rows
        t = doc.add_table(rows=len(lines), cols=len(widths), style=grid)
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        t.autofit = False
        twips = [str(int(Mm(w).twips)) for w in widths]
        for c, width in enumerate(widths):  # the grid, which Word and LibreOffice lay out by
            t.columns[c].width = Mm(width)
        head_run, body_run = _run_template(HEAD_FONT, 9, True), _run_template(BODY_FONT, 9, False)
        for n, (tr, line) in enumerate(zip(t._tbl.tr_lst, lines, strict=True)):
            template = head_run if headers is not None and n == 0 else body_run
            for c, (tc, text) in enumerate(zip(tr.tc_lst, line, strict=True)):
                tc.tcPr.find(qn("w:tcW")).set(qn("w:w"), twips[c])
                if text:
                    run = copy.deepcopy(template)
                    run[-1].text = xml_text(text)
                    tc.p_lst[0].append(run)
        return t

    para(sheet.plan_name, size=12, align=WD_ALIGN_PARAGRAPH.CENTER)
    para(
        title_text(sheet), size=18, font=HEAD_FONT, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=10
    )
    info = list(zip(INFO_LABELS, sheet.info_values(), strict=True))
    pairs = [info[i : i + 2] for i in range(0, len(info), 2)]
    table(
        None,
        [tuple(x for pair in chunk for x in pair) + ("", "") * (2 - len(chunk)) for chunk in pairs],
        (28, 57, 28, 57),
    )

    para("一、考评评分", size=12, font=HEAD_FONT, space_after=4).paragraph_format.space_before = Pt(
        10
    )
    rows = []
    for r in sheet.rows:
        score = f"{r.score:g}" if r.auto and r.score is not None else ""
        why = f"{r.rule}：{r.why}" if r.auto else ""
        rows.append(
            (r.code, r.item, r.content, f"{r.points:g}", "自动" if r.auto else "现场", score, why)
        )
    total = sum(r.points for r in sheet.rows)
    rows.append(("合计", "", "", f"{total:g}", "", "", f"自动评分项合计 {sheet.auto_total:g} 分"))
    table(
        ("编号", "项目", "考评内容和评分标准", "分值", "方式", "得分", "评分依据／扣分理由"),
        rows,
        (11, 18, 48, 11, 11, 14, 57),
    )
    para(
        "说明：现场评分项由督导组填写得分；得分低于满分的，须在“评分依据／扣分理由”栏写明扣分理由。",
        size=9,
    )

    para("二、单位报送情况（规定动作，按已采用的报送累计）", size=12, font=HEAD_FONT)
    table(
        ("编号", "规定动作", "完成时限", "完成情况", "次数", "完成日期", "佐证材料"),
        [(a[0], a[1], a[2], a[4], a[5], a[6], a[9]) for a in sheet.activities]
        or [("", "本单位类别没有规定动作", "", "", "", "", "")],
        (10, 46, 22, 18, 10, 22, 42),
    )
    para(f"三、{sheet.period_label}月报数据", size=12, font=HEAD_FONT)
    table(
        ("编号", "指标名称", "计量单位", "本期数值"),
        [tuple(line) for line in sheet.indicators],
        (14, 80, 26, 50),
    )
    para("四、清单", size=12, font=HEAD_FONT)
    for line in sheet.ledger_summary:
        para(line)
    if sheet.ledgers:
        table(
            ("清单", "条目", "状态", "时限", "情况"),
            [tuple(x) for x in sheet.ledgers],
            (24, 80, 22, 24, 20),
        )
    para("五、报送记录", size=12, font=HEAD_FONT)
    table(("报送期", "报送情况"), [tuple(x) for x in sheet.history], (60, 110))

    para(f"{COMMENT_LABEL}：", size=12, font=HEAD_FONT).paragraph_format.space_before = Pt(10)
    for _ in range(3):
        para("_" * 78)
    para("")
    para(
        "督导组成员（签名）：______________________________　组长（签名）：______________", size=11
    )
    para(
        f"{DATE_LABEL}：________年____月____日　　被考评单位负责人（签名）：______________", size=11
    )

    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = footer.add_run(xml_text(f"{sheet.unit_name}　{title_text(sheet)}"))
    run.font.size = Pt(9)
    set_east_asian(run, BODY_FONT)

    buf = io.BytesIO()
    doc.core_properties.title = xml_text(f"{sheet.unit_name} {title_text(sheet)}")
    doc.core_properties.author = xml_text(sheet.issuer)
    doc.save(buf)
    return buf.getvalue()
