"""The Word inspector sheet: the same content as the Excel sheet, to print and sign on site.

A4 portrait, tables with borders, 宋体/黑体 set for East Asian text on the styles and on every
run (python-docx's ``font.name`` alone sets only the Latin fonts), signature lines at the end.

The document is written as XML text, not through python-docx: opening python-docx's template,
building the tree and saving took ~38 ms a sheet, this takes ~1 ms. python-docx still makes,
once per process, the skeleton every sheet shares (styles, settings, section with page size,
margins and footer, document properties); the skeleton's parts are compressed once and copied
into every file. The body is the XML python-docx wrote for the same calls, byte for byte
(``tests/inspection_docx_reference.py`` keeps the python-docx renderer it is compared with).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reporting.inspection.sheet import (
    COMMENT_LABEL,
    DATE_LABEL,
    INFO_LABELS,
    InspectionSheet,
    title_text,
)
from reporting.text import xml_text
from reporting.zippack import FAST, Part, deflate, pack

BODY_FONT = "宋体"
HEAD_FONT = "黑体"


def set_east_asian(target: Any, name: str) -> None:
    """Set Latin and East Asian font of a run or a style to ``name``."""
    from docx.oxml.ns import qn

    target.font.name = name
    rpr = target.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), name)


# --------------------------------------------------------------------------- XML text

_ESCAPES = re.compile("[&<>\r]")
_ESCAPED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def _esc(text: str) -> str:
    """Element text as lxml writes it (``text`` is already free of characters XML forbids)."""
    if _ESCAPES.search(text) is None:
        return text
    return _ESCAPES.sub(lambda m: _ESCAPED[m.group()], text)


def _t(text: str) -> str:
    """A ``w:t`` as python-docx adds it: whitespace kept only where it would be lost."""
    space = ' xml:space="preserve"' if len(text.strip()) < len(text) else ""
    return f"<w:t{space}>{_esc(text)}</w:t>"


_RUN_BREAKS = re.compile("([\t\r\n])")
_BREAK_XML = {"\t": "<w:tab/>", "\r": "<w:br/>", "\n": "<w:br/>"}


def _run_content(text: str) -> str:
    """The children of a run that python-docx's ``add_run(text)`` makes: a tab becomes
    ``w:tab``, a line break or carriage return ``w:br``, the rest ``w:t``."""
    if _RUN_BREAKS.search(text) is None:
        return _t(text) if text else ""
    out = []
    for piece in _RUN_BREAKS.split(text):
        if piece in _BREAK_XML:
            out.append(_BREAK_XML[piece])
        elif piece:
            out.append(_t(piece))
    return "".join(out)


def _rpr(font: str, size: float, bold: bool | None) -> str:
    """``bold``: True ``w:b``, False an explicit ``w:b w:val="0"``, None nothing."""
    weight = {True: "<w:b/>", False: '<w:b w:val="0"/>', None: ""}[bold]
    return (
        f'<w:rPr><w:rFonts w:ascii="{font}" w:hAnsi="{font}" w:eastAsia="{font}"/>'
        f'{weight}<w:sz w:val="{round(size * 2)}"/></w:rPr>'
    )


def _twips(mm: float) -> int:
    return round(int(mm * 36000) / 635)  # python-docx: Mm(mm).twips


def _pt_twips(pt: float) -> int:
    return round(int(pt * 12700) / 635)  # python-docx: Pt(pt).twips


_TABLE_PR = (
    '<w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:type="auto" w:w="0"/>'
    '<w:jc w:val="center"/><w:tblLayout w:type="fixed"/>'
    '<w:tblLook w:firstColumn="1" w:firstRow="1" w:lastColumn="0" w:lastRow="0" '
    'w:noHBand="0" w:noVBand="1" w:val="04A0"/></w:tblPr>'
)


class _Body:
    """``w:body`` content, in the XML python-docx produced for the same paragraphs/tables."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def para(
        self,
        text: str,
        *,
        size: float = 10.5,
        bold: bool = False,
        font: str = BODY_FONT,
        center: bool = False,
        space_after: float = 4,
        space_before: float | None = None,
    ) -> None:
        before = "" if space_before is None else f' w:before="{_pt_twips(space_before)}"'
        jc = '<w:jc w:val="center"/>' if center else ""
        self.parts.append(
            f'<w:p><w:pPr><w:spacing w:after="{_pt_twips(space_after)}"{before}/>{jc}</w:pPr>'
            f"<w:r>{_rpr(font, size, bold)}{_run_content(xml_text(text))}</w:r></w:p>"
        )

    def table(
        self,
        headers: tuple[str, ...] | None,
        rows: list[tuple[str, ...]],
        widths: tuple[float, ...],
    ) -> None:
        twips = [_twips(w) for w in widths]
        grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in twips)
        cells = [f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{w}"/></w:tcPr>' for w in twips]
        head_run = "<w:p><w:r>" + _rpr(HEAD_FONT, 9, True) + '<w:t xml:space="preserve">'
        body_run = "<w:p><w:r>" + _rpr(BODY_FONT, 9, None) + '<w:t xml:space="preserve">'
        end = "</w:t></w:r></w:p></w:tc>"
        out = [f"<w:tbl>{_TABLE_PR}<w:tblGrid>{grid}</w:tblGrid>"]
        lines = ([headers] if headers else []) + rows
        for n, line in enumerate(lines):
            run = head_run if headers is not None and n == 0 else body_run
            out.append("<w:tr>")
            for cell, text in zip(cells, line, strict=True):
                if text:
                    out.append(f"{cell}{run}{_esc(xml_text(text))}{end}")
                else:
                    out.append(f"{cell}<w:p/></w:tc>")
            out.append("</w:tr>")
        out.append("</w:tbl>")
        self.parts.append("".join(out))


def _body(sheet: InspectionSheet) -> str:
    body = _Body()
    para, table = body.para, body.table
    para(sheet.plan_name, size=12, center=True)
    para(title_text(sheet), size=18, font=HEAD_FONT, center=True, space_after=10)
    info = list(zip(INFO_LABELS, sheet.info_values(), strict=True))
    pairs = [info[i : i + 2] for i in range(0, len(info), 2)]
    table(
        None,
        [tuple(x for pair in chunk for x in pair) + ("", "") * (2 - len(chunk)) for chunk in pairs],
        (28, 57, 28, 57),
    )

    para("一、考评评分", size=12, font=HEAD_FONT, space_after=4, space_before=10)
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

    para(f"{COMMENT_LABEL}：", size=12, font=HEAD_FONT, space_before=10)
    for _ in range(3):
        para("_" * 78)
    para("")
    para(
        "督导组成员（签名）：______________________________　组长（签名）：______________", size=11
    )
    para(
        f"{DATE_LABEL}：________年____月____日　　被考评单位负责人（签名）：______________", size=11
    )
    return "".join(body.parts)


# --------------------------------------------------------------------------- skeleton

# Stand-ins python-docx writes into the skeleton where each sheet has its own text.
_FOOTER_MARK = "\ue000"
_TITLE_MARK = "\ue001"
_AUTHOR_MARK = "\ue002"


@dataclass(frozen=True)
class _Skeleton:
    """The parts of every sheet, in package order: constant ones compressed once, per-sheet
    ones as the text around the sheet's own content."""

    parts: tuple[Part | str, ...]  # a compressed part, or the name of a per-sheet part
    document: tuple[str, str, str]  # name, up to and with <w:body>, from <w:sectPr> on
    footer: tuple[str, str, str]  # name, around the footer run's content
    core: tuple[str, str, str, str]  # name, around the title and the author elements


def _skeleton_docx() -> bytes:
    """An empty inspector sheet made by python-docx: page, styles, footer, properties."""
    import io

    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(20)
    section.top_margin = section.bottom_margin = Mm(20)
    for style_name in ("Normal", "Table Grid"):
        style = doc.styles[style_name]
        set_east_asian(style, BODY_FONT)
        style.font.size = Pt(10.5)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = footer.add_run(_FOOTER_MARK)
    run.font.size = Pt(9)
    set_east_asian(run, BODY_FONT)
    doc.core_properties.title = _TITLE_MARK
    doc.core_properties.author = _AUTHOR_MARK
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _around(text: str, mark: str, name: str) -> tuple[str, str]:
    head, sep, tail = text.partition(mark)
    if not sep or mark in tail:
        raise ValueError(f"docx skeleton: {name} has no single {mark!r}")
    return head, tail


def _build_skeleton() -> _Skeleton:
    import io
    import zipfile

    parts: list[Part | str] = []
    document = footer = core = None
    with zipfile.ZipFile(io.BytesIO(_skeleton_docx())) as z:
        for name in z.namelist():
            data = z.read(name)
            text = data.decode() if name.endswith((".xml", ".rels")) else ""
            if name == "word/document.xml":
                head, rest = _around(text, "<w:body>", name)
                empty, sect, tail = rest.partition("<w:sectPr")
                if empty or not sect:
                    raise ValueError("docx skeleton: the body is not empty")
                document = (name, head + "<w:body>", sect + tail)
            elif _FOOTER_MARK in text:
                footer = (name, *_around(text, f"<w:t>{_FOOTER_MARK}</w:t>", name))
            elif _TITLE_MARK in text:
                head, rest = _around(text, f"<dc:title>{_TITLE_MARK}</dc:title>", name)
                middle, tail = _around(rest, f"<dc:creator>{_AUTHOR_MARK}</dc:creator>", name)
                core = (name, head, middle, tail)
            else:
                parts.append(deflate(name, data))
                continue
            parts.append(name)
    if document is None or footer is None or core is None:
        raise ValueError("docx skeleton: document, footer or properties not found")
    return _Skeleton(tuple(parts), document, footer, core)


_SKELETON: list[_Skeleton] = []


def skeleton() -> _Skeleton:
    """The parts every sheet shares, made once per process."""
    if not _SKELETON:
        _SKELETON.append(_build_skeleton())
    return _SKELETON[0]


def warm_up() -> None:
    """Make the skeleton now (before worker processes fork, so that they share it)."""
    skeleton()


# --------------------------------------------------------------------------- rendering


def render_inspection_docx(sheet: InspectionSheet) -> bytes:
    sk = skeleton()
    name, head, tail = sk.document
    own = {name: head + _body(sheet) + tail}
    name, head, tail = sk.footer
    own[name] = head + _run_content(xml_text(f"{sheet.unit_name}　{title_text(sheet)}")) + tail
    name, head, middle, tail = sk.core
    title = _esc(xml_text(f"{sheet.unit_name} {title_text(sheet)}"))
    author = _esc(xml_text(sheet.issuer))
    own[name] = f"{head}<dc:title>{title}</dc:title>{middle}<dc:creator>{author}</dc:creator>{tail}"
    return pack(p if isinstance(p, Part) else deflate(p, own[p].encode(), FAST) for p in sk.parts)
