"""Render the Excel inspector sheet (督导考评表) from its :class:`InspectionSheet` snapshot.

Built like the unit forms: XlsxWriter in memory with string conversions off (no text becomes a
formula, link or number), every sheet protected, the metadata sheet very hidden and signed.
On-site score cells accept 0..分值 only, a deduction without a reason turns red (conditional
format), and a 填写检查 line counts what is still missing. With :class:`Annotations` the same
sheet becomes the feedback copy of a returned sheet: values written back, problems marked.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from reporting.forms.layout import META, FormMeta, a1
from reporting.forms.writer import Annotations
from reporting.inspection.sheet import (
    COMMENT_LIMIT,
    FACT_WIDTHS,
    FACTS,
    ITEM_WIDTHS,
    MAIN,
    NAMES_LIMIT,
    REASON_LIMIT,
    InspectionSheet,
    locked_cells,
    meta_rows,
)
from reporting.text import cut as _cut
from reporting.text import header_footer_text
from reporting.xlsx import SAFE_OPTIONS, prompt_options
from reporting.xlsxfast import Templates, xlsxwriter_render

# One place decides that no string becomes a formula, link or number: reporting.xlsx.
_OPTIONS = SAFE_OPTIONS
FONT = "宋体"
ISSUES_SHEET = "问题清单"


class _Formats:
    def __init__(self, wb: Any) -> None:
        base = {"font_name": FONT, "font_size": 11, "valign": "vcenter"}
        grey = {**base, "bg_color": "#F2F2F2", "border": 1, "text_wrap": True}
        add = wb.add_format
        self.styles = {
            "title": add({**base, "bold": True, "font_size": 16, "align": "center"}),
            "subtitle": add({**base, "align": "center", "font_color": "#595959"}),
            "section": add({**base, "bold": True, "font_size": 12}),
            "header": add(
                {
                    **base,
                    "bold": True,
                    "bg_color": "#DDEBF7",
                    "border": 1,
                    "text_wrap": True,
                    "align": "center",
                }
            ),
            "label": add({**grey, "bold": True}),
            "locked": add(grey),
            "center": add({**grey, "align": "center"}),
            "number": add({**grey, "align": "center", "num_format": "0.##"}),
        }
        self.total = add({**grey, "bold": True, "align": "center", "num_format": "0.##"})
        self.input_num = add({**base, "border": 1, "locked": False, "align": "center"})
        self.input_text = add({**base, "border": 1, "locked": False, "text_wrap": True})
        self.input_date = add(
            {**base, "border": 1, "locked": False, "num_format": "yyyy-mm-dd", "align": "left"}
        )
        self.check = add({**base, "border": 1, "bold": True, "align": "center"})
        self.missing = add({"bg_color": "#FFF2CC"})
        self.invalid = add({"bg_color": "#F8CBAD", "font_color": "#9C0006"})
        mark = {**base, "border": 2, "locked": False, "text_wrap": True}
        self.error = add({**mark, "border_color": "#C00000", "bg_color": "#F8CBAD"})
        self.warn = add({**mark, "border_color": "#BF8F00", "bg_color": "#FFF2CC"})
        self.error_date = add(
            {**mark, "border_color": "#C00000", "bg_color": "#F8CBAD", "num_format": "yyyy-mm-dd"}
        )
        self.warn_date = add(
            {**mark, "border_color": "#BF8F00", "bg_color": "#FFF2CC", "num_format": "yyyy-mm-dd"}
        )
        self.text = add({**base, "text_wrap": True, "valign": "top"})
        self.plain = add({**grey, "bg_color": "#FFFFFF"})


def _footer_name(name: str) -> str:
    """A unit name for a page footer: short, and ``&`` doubled (it starts a footer code)."""
    return header_footer_text(_cut(name, 30))


def _build(
    wb: Any,
    sheet: InspectionSheet,
    meta: FormMeta,
    password: str,
    annotations: Annotations | None,
) -> None:
    """Make the sheet on ``wb``: an XlsxWriter workbook, or :mod:`reporting.xlsxfast`'s recorder
    (the same calls either way)."""
    wb.set_properties(
        {
            "title": f"{sheet.unit_name} {sheet.period_label}督导考评表",
            "subject": sheet.unit_name,
            "author": sheet.issuer,
            "company": sheet.issuer,
            "comments": "由专项活动报送工具生成，请勿修改表格结构",
        }
    )
    fmt = _Formats(wb)
    issues = wb.add_worksheet(ISSUES_SHEET) if annotations else None
    main = wb.add_worksheet(MAIN)
    facts = wb.add_worksheet(FACTS)
    meta_ws = wb.add_worksheet(META)
    sheets = {MAIN: main, FACTS: facts}

    for cell in locked_cells(sheet):
        ws = sheets[cell.sheet]
        r, c = cell.row - 1, cell.col - 1
        style = fmt.styles[cell.style]
        if cell.span > 1:
            ws.merge_range(r, c, r, c + cell.span - 1, "", style)
        if isinstance(cell.value, str):
            ws.write_string(r, c, cell.value, style)
        else:
            ws.write_number(r, c, cell.value, style)
    _main_inputs(main, sheet, fmt)
    _layout_main(main, sheet)
    _layout_facts(facts, sheet)
    for i, (key, value) in enumerate(meta_rows(meta, sheet), start=1):
        meta_ws.write_string(i, 0, key)
        meta_ws.write_string(i, 1, value)
    meta_ws.write_string(0, 0, "本表供系统识别表单使用，请勿修改。")
    if annotations is not None and issues is not None:
        _annotate(main, sheet, annotations, fmt)
        _write_issues(issues, sheet, annotations, fmt)
    for ws in (main, facts, meta_ws):
        ws.protect(password, {"format_columns": True, "format_rows": True})
    (issues or main).activate()
    meta_ws.very_hidden()


_TEMPLATES: list[Templates] = []


def _templates() -> Templates:
    if not _TEMPLATES:
        _TEMPLATES.append(Templates(_OPTIONS))
    return _TEMPLATES[0]


def render_inspection(
    sheet: InspectionSheet,
    meta: FormMeta,
    password: str = "",
    annotations: Annotations | None = None,
) -> bytes:
    """The inspector sheet as .xlsx bytes; with ``annotations`` its feedback copy.

    A sheet to hand out is made from a template of its layout (:mod:`reporting.xlsxfast`:
    the same file, ~5 times faster); a feedback copy, made one at a time, by XlsxWriter."""
    if annotations is not None:
        return render_inspection_xlsxwriter(sheet, meta, password, annotations)
    return _templates().render(lambda wb: _build(wb, sheet, meta, password, None))


def render_inspection_xlsxwriter(
    sheet: InspectionSheet,
    meta: FormMeta,
    password: str = "",
    annotations: Annotations | None = None,
) -> bytes:
    """The same workbook made by XlsxWriter alone (the reference the templates are checked
    against)."""
    return xlsxwriter_render(lambda wb: _build(wb, sheet, meta, password, annotations), _OPTIONS)


def _main_inputs(ws: Any, s: InspectionSheet, fmt: _Formats) -> None:
    for r in s.onsite:
        row = s.item_row(r.code) - 1
        score, reason = s.score_ref(r.code), s.reason_ref(r.code)
        points = a1(row + 1, 4)
        ws.write_blank(row, 5, None, fmt.input_num)
        ws.write_blank(row, 6, None, fmt.input_text)
        ws.data_validation(
            row,
            5,
            row,
            5,
            {
                "validate": "decimal",
                "criteria": "between",
                "minimum": 0,
                "maximum": r.points,
                **prompt_options(
                    f"{r.item}（满分 {r.points:g} 分）",
                    f"请填写 0–{r.points:g} 之间的得分，可带小数。扣分时须在右侧填写扣分理由。",
                ),
            },
        )
        ws.data_validation(
            row,
            6,
            row,
            6,
            {
                "validate": "length",
                "criteria": "<=",
                "value": REASON_LIMIT,
                **prompt_options(
                    "扣分理由",
                    f"得分低于满分时必须写明扣分理由（发现的具体问题），不超过 {REASON_LIMIT} 字；"
                    "满分可不填或写评分依据。",
                ),
            },
        )
        ws.conditional_format(score, {"type": "blanks", "format": fmt.missing})
        ws.conditional_format(
            score,
            {
                "type": "formula",
                "criteria": f'=OR(AND({score}<>"",NOT(ISNUMBER({score}))),'
                f"AND(ISNUMBER({score}),OR({score}<0,{score}>{points})))",
                "format": fmt.invalid,
            },
        )
        ws.conditional_format(
            reason,
            {
                "type": "formula",
                "criteria": f"=AND(ISNUMBER({score}),{score}<{points},LEN(TRIM({reason}))=0)",
                "format": fmt.invalid,
            },
        )
    lo, hi = s.date_window
    for row, f in (
        (s.names_row, fmt.input_text),
        (s.date_row, fmt.input_date),
        (s.comment_row, fmt.input_text),
    ):
        ws.merge_range(row - 1, 2, row - 1, 6, "", f)
    ws.data_validation(
        s.names_row - 1,
        2,
        s.names_row - 1,
        2,
        {
            "validate": "length",
            "criteria": "between",
            "minimum": 1,
            "maximum": NAMES_LIMIT,
            **prompt_options("督导组成员（必填）", "填写督导组成员姓名，多人用“、”分隔。"),
        },
    )
    ws.data_validation(
        s.date_row - 1,
        2,
        s.date_row - 1,
        2,
        {
            "validate": "date",
            "criteria": "between",
            "minimum": datetime.combine(lo, datetime.min.time()),
            "maximum": datetime.combine(hi, datetime.min.time()),
            **prompt_options(
                "督导日期（必填）",
                f"请填写 {lo:%Y-%m-%d} 至 {hi:%Y-%m-%d} 之间的日期，格式如 {lo:%Y-%m-%d}。",
            ),
        },
    )
    ws.data_validation(
        s.comment_row - 1,
        2,
        s.comment_row - 1,
        2,
        {
            "validate": "length",
            "criteria": "<=",
            "value": COMMENT_LIMIT,
            **prompt_options(
                "总体评价", f"督导组对本单位的总体评价，可不填，不超过 {COMMENT_LIMIT} 字。"
            ),
        },
    )
    for ref in (s.names_ref, s.date_ref):
        ws.conditional_format(ref, {"type": "blanks", "format": fmt.missing})
    # Totals and the live check: formulas over the sheet's own cells only.
    first, last = a1(s.item_row(s.rows[0].code), 6), a1(s.total_row - 1, 6)
    ws.write_formula(s.total_row - 1, 5, f"=SUM({first}:{last})", fmt.total, s.auto_total)
    terms = []
    for r in s.onsite:
        score, reason = s.score_ref(r.code), s.reason_ref(r.code)
        points = a1(s.item_row(r.code), 4)
        terms.append(f'IF({score}="",1,0)')
        terms.append(f"IF(AND(ISNUMBER({score}),{score}<{points},LEN(TRIM({reason}))=0),1,0)")
    terms += [f'IF({s.names_ref}="",1,0)', f'IF({s.date_ref}="",1,0)']
    total = "(" + "+".join(terms) + ")"
    initial = len(s.onsite) + 2
    row = s.check_row - 1
    ws.merge_range(row, 2, row, 6, "", fmt.check)
    ws.write_formula(
        row,
        2,
        f'=IF({total}=0,"填写完整，可以交回","还有 "&{total}&" 处需要填写，见黄色、红色单元格")',
        fmt.check,
        f"还有 {initial} 处需要填写，见黄色、红色单元格",
    )
    ws.conditional_format(
        row,
        2,
        row,
        2,
        {"type": "text", "criteria": "begins with", "value": "还有", "format": fmt.invalid},
    )


def _layout_main(ws: Any, s: InspectionSheet) -> None:
    for c, width in enumerate(ITEM_WIDTHS):
        ws.set_column(c, c, width)
    ws.set_row(0, 30)
    for r in s.rows:
        ws.set_row(s.item_row(r.code) - 1, 48)
    ws.set_row(s.comment_row - 1, 60)
    ws.set_row(s.names_row - 2, 24)
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.set_footer(f"&C{_footer_name(s.unit_name)} 督导考评表　第 &P 页，共 &N 页")
    ws.hide_gridlines(2)


def _layout_facts(ws: Any, s: InspectionSheet) -> None:
    for c, width in enumerate(FACT_WIDTHS):
        ws.set_column(c, c, width)
    ws.set_row(0, 28)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.set_footer(f"&C{_footer_name(s.unit_name)} 报送情况　第 &P 页，共 &N 页")


def _write_value(ws: Any, ref: str, value: Any, text_fmt: Any, date_fmt: Any) -> None:
    from xlsxwriter.utility import xl_cell_to_rowcol

    r, c = xl_cell_to_rowcol(ref)
    if value is None or value == "":
        ws.write_blank(r, c, None, text_fmt)
    elif isinstance(value, bool):
        ws.write_string(r, c, "是" if value else "否", text_fmt)
    elif isinstance(value, datetime | date):
        day = value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())
        ws.write_datetime(r, c, day, date_fmt)
    elif isinstance(value, int | float):
        ws.write_number(r, c, value, text_fmt)
    else:
        ws.write_string(r, c, str(value), text_fmt)


def _annotate(ws: Any, s: InspectionSheet, notes: Annotations, fmt: _Formats) -> None:
    from xlsxwriter.utility import xl_cell_to_rowcol

    plain = {s.names_ref: fmt.input_text, s.date_ref: fmt.input_date, s.comment_ref: fmt.input_text}
    for r in s.onsite:
        plain[s.score_ref(r.code)] = fmt.input_num
        plain[s.reason_ref(r.code)] = fmt.input_text
    for (sheet, ref), value in notes.values.items():
        if sheet == MAIN and ref in plain and (sheet, ref) not in notes.marks:
            _write_value(ws, ref, value, plain[ref], fmt.input_date)
    for (sheet, ref), (severity, message) in notes.marks.items():
        if sheet != MAIN or ref not in plain:
            continue
        error = severity == "error"
        _write_value(
            ws,
            ref,
            notes.values.get((sheet, ref)),
            fmt.error if error else fmt.warn,
            fmt.error_date if error else fmt.warn_date,
        )
        r, c = xl_cell_to_rowcol(ref)
        ws.write_comment(
            r, c, _cut(message, 1000), {"x_scale": 2.2, "y_scale": 1.6, "author": "审核"}
        )


def _write_issues(ws: Any, s: InspectionSheet, notes: Annotations, fmt: _Formats) -> None:
    headers = ("序号", "级别", "工作表", "单元格", "项目", "问题及修改方法")
    widths = (6, 8, 12, 9, 22, 70)
    last = len(headers) - 1
    ws.merge_range(
        0, 0, 0, last, f"{s.unit_name}　{s.period_label}督导考评表　审核意见", fmt.styles["title"]
    )
    ws.set_row(0, 30)
    r = 1
    for line in notes.summary:
        ws.merge_range(r, 0, r, last, line, fmt.text)
        ws.set_row(r, 22)
        r += 1
    r += 1
    for c, (head, width) in enumerate(zip(headers, widths, strict=True)):
        ws.write_string(r, c, head, fmt.styles["header"])
        ws.set_column(c, c, width)
    for n, line in enumerate(notes.issues, start=1):
        r += 1
        ws.write_number(r, 0, n, fmt.styles["center"])
        for c, text in enumerate(line, start=1):
            ws.write_string(r, c, text, fmt.plain)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.protect("", {"format_columns": True, "format_rows": True})
