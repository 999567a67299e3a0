"""Render one unit form (an .xlsx) from its :class:`~reporting.forms.layout.FormLayout`.

XlsxWriter in memory: ~7 ms a form. Unit-provided text (pre-fill from earlier returns) is only
ever written with ``write_string``; the workbook is opened with string conversions off, so no
text becomes a formula, a link or a number. Formulas come from :mod:`reporting.forms.checks`.
"""

from __future__ import annotations

import io
import math
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from reporting.forms import checks
from reporting.forms.layout import (
    ACTIVITIES,
    ACTIVITY_COLUMNS,
    FORM_OPTIONS,
    HEADER_ROW,
    INDICATOR_COLUMNS,
    INDICATORS,
    INFO_FIRST_ROW,
    INFO_LABELS,
    INSTRUCTIONS,
    META,
    NOTE_LIMIT,
    STATUS_OPTIONS,
    TEXT_LIMIT,
    FormLayout,
    FormMeta,
    LedgerSlot,
    activity_locked_values,
    col_of,
    indicator_hint,
    ledger_header,
)
from reporting.plan.model import Indicator, LedgerColumn, ValueType
from reporting.text import cut, header_footer_text, xml_text
from reporting.xlsx import SAFE_OPTIONS, plain_worksheet_class, prompt_options


@dataclass(frozen=True)
class Prefill:
    """What a unit already reported and the bureau accepted, carried into the next form.

    ``activities``: activity code → field → value, with fields ``status``, ``count``,
    ``done_date``, ``participants``, ``form``, ``evidence``, ``note``.
    ``ledger_rows``: ledger name → rows (column name → value) still open.
    """

    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    source: str = ""


EMPTY_PREFILL = Prefill()

# One place decides that no string becomes a formula, link or number: reporting.xlsx.
_OPTIONS = SAFE_OPTIONS

FONT = "宋体"
LOCKED_FILL = "#F2F2F2"
HEADER_FILL = "#DDEBF7"
MISSING_FILL = "#FFF2CC"
INVALID_FILL = "#F8CBAD"


# Functions our formulas use: all Excel 2007 ones, none needs the ``_xlfn.`` prefix.
FORMULA_FUNCTIONS = frozenset(
    {
        "AND",
        "COUNTBLANK",
        "COUNTIFS",
        "IF",
        "IFERROR",
        "INT",
        "ISNA",
        "ISNUMBER",
        "LEN",
        "MATCH",
        "NOT",
        "OR",
        "SUM",
        "LEFT",
        "TRIM",  # written by XlsxWriter for a "begins with" conditional format
    }
)


@dataclass
class RenderTrace:
    """What one render did, for :mod:`reporting.forms.template` (which renders a form once per
    shape and substitutes each unit's values): every text cut to a length limit, the shared
    strings in index order, and the style (xf) indexes of the input-cell formats (``None``
    when a format was not used)."""

    cuts: list[tuple[str, int]] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    formats: dict[str, int | None] = field(default_factory=dict)
    sheets: dict[str, Any] = field(default_factory=dict)  # name → XlsxWriter worksheet
    issue_strings: int = 0  # strings written before the 问题清单's own


_TRACE: ContextVar[RenderTrace | None] = ContextVar("form_render_trace", default=None)


def trace_render(
    layout: FormLayout,
    meta: FormMeta,
    prefill: Prefill = EMPTY_PREFILL,
    annotations: Annotations | None = None,
) -> tuple[bytes, RenderTrace]:
    """:func:`render_form` (same bytes), and what it did."""
    trace = RenderTrace()
    token = _TRACE.set(trace)
    try:
        data = render_form(layout, meta, prefill, annotations)
    finally:
        _TRACE.reset(token)
    return data, trace


def _cut(text: str, limit: int) -> str:
    trace = _TRACE.get()
    if trace is not None:
        trace.cuts.append((text, limit))
    return cut(text, limit)


class _Formats:
    def __init__(self, wb: Any) -> None:
        base = {"font_name": FONT, "font_size": 11, "valign": "vcenter"}
        self.title = wb.add_format({**base, "bold": True, "font_size": 16, "align": "center"})
        self.subtitle = wb.add_format(
            {**base, "font_size": 11, "align": "center", "font_color": "#595959"}
        )
        self.header = wb.add_format(
            {
                **base,
                "bold": True,
                "bg_color": HEADER_FILL,
                "border": 1,
                "text_wrap": True,
                "align": "center",
            }
        )
        self.locked = wb.add_format(
            {**base, "bg_color": LOCKED_FILL, "border": 1, "text_wrap": True}
        )
        self.locked_center = wb.add_format(
            {**base, "bg_color": LOCKED_FILL, "border": 1, "align": "center"}
        )
        self.locked_date = wb.add_format(
            {
                **base,
                "bg_color": LOCKED_FILL,
                "border": 1,
                "num_format": "yyyy-mm-dd",
                "align": "center",
            }
        )
        self.input = wb.add_format({**base, "border": 1, "locked": False, "text_wrap": True})
        self.input_num = wb.add_format({**base, "border": 1, "locked": False})
        self.input_date = wb.add_format(
            {**base, "border": 1, "locked": False, "num_format": "yyyy-mm-dd"}
        )
        self.label = wb.add_format({**base, "bold": True, "bg_color": LOCKED_FILL, "border": 1})
        self.text = wb.add_format({**base, "text_wrap": True, "valign": "top"})
        self.bold = wb.add_format({**base, "bold": True})
        self.check = wb.add_format({**base, "border": 1, "align": "center", "bold": True})
        self.missing = wb.add_format({"bg_color": MISSING_FILL})
        self.invalid = wb.add_format({"bg_color": INVALID_FILL, "font_color": "#9C0006"})


# The formats cells and columns use (``missing`` and ``invalid`` are conditional formats' only).
CELL_FORMATS = (
    "title",
    "subtitle",
    "header",
    "locked",
    "locked_center",
    "locked_date",
    "input",
    "input_num",
    "input_date",
    "label",
    "text",
    "bold",
    "check",
)
MARK_FORMATS = ("bad", "bad_date", "warn", "warn_date")
# A problem cell's comment: its message (cut to this many characters) in a wide box.
COMMENT_LIMIT = 1000
COMMENT_OPTIONS = {"x_scale": 2.2, "y_scale": 1.6, "author": "审核"}


def _mark_formats(wb: Any) -> dict[str, Any]:
    """A feedback copy's problem cells: red border and fill for errors, amber for warnings."""
    out = {}
    for name, border, fill in (
        ("bad", "#C00000", INVALID_FILL),
        ("warn", "#BF8F00", MISSING_FILL),
    ):
        base = {
            "font_name": FONT,
            "border": 2,
            "border_color": border,
            "bg_color": fill,
            "locked": False,
        }
        out[name] = wb.add_format({**base, "text_wrap": True, "valign": "vcenter"})
        out[f"{name}_date"] = wb.add_format(
            {**base, "num_format": "yyyy-mm-dd", "valign": "vcenter"}
        )
    return {name: out[name] for name in MARK_FORMATS}


@dataclass(frozen=True)
class Annotations:
    """What turns a form into a feedback copy (退回修改): the unit's own values written back
    into the input cells, problem cells highlighted and commented, and a 问题清单 sheet first.

    ``values``: (sheet, A1) → the value as received. ``marks``: (sheet, A1) → (severity, message).
    ``issues``: the 问题清单 rows (级别, 工作表, 单元格, 项目, 问题说明).
    ``summary``: lines above the list.
    """

    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    marks: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    issues: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


ISSUES_SHEET = "问题清单"


def render_form(
    layout: FormLayout,
    meta: FormMeta,
    prefill: Prefill = EMPTY_PREFILL,
    annotations: Annotations | None = None,
) -> bytes:
    """The form as .xlsx bytes; with ``annotations``, the feedback copy of a returned form."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, _OPTIONS)
    fmt = _Formats(wb)
    marks = _mark_formats(wb) if annotations is not None else {}
    if marks:
        # XlsxWriter numbers styles in the order cells first use them, so where the marks fall
        # would renumber every cell; a fixed numbering lets forms.feedback_template fill any
        # marks into one render per shape.
        for f in (*(getattr(fmt, name) for name in CELL_FORMATS), *marks.values()):
            f._get_xf_index()
    settings = layout.plan.settings
    wb.set_properties(
        {
            "title": f"{settings.name} {layout.period.label}报送表",
            "subject": layout.unit.name,
            "author": settings.issuer,
            "company": settings.issuer,
            "comments": "由专项活动报送工具生成，请勿修改表格结构",
        }
    )
    password = settings.password or ""
    cls = plain_worksheet_class()
    issues_ws = wb.add_worksheet(ISSUES_SHEET, worksheet_class=cls) if annotations else None
    instructions = wb.add_worksheet(INSTRUCTIONS, worksheet_class=cls)
    acts = wb.add_worksheet(ACTIVITIES, worksheet_class=cls)
    inds = wb.add_worksheet(INDICATORS, worksheet_class=cls)
    ledgers = [(slot, wb.add_worksheet(slot.sheet, worksheet_class=cls)) for slot in layout.ledgers]
    meta_ws = wb.add_worksheet(META, worksheet_class=cls)

    _write_activities(acts, layout, fmt, prefill)
    _write_indicators(inds, layout, fmt)
    for slot, ws in ledgers:
        _write_ledger(ws, slot, layout, fmt, prefill.ledger_rows.get(slot.sheet, []))
    _write_instructions(instructions, layout, fmt, prefill)
    _write_meta(meta_ws, meta, fmt)
    sheets = {INSTRUCTIONS: instructions, ACTIVITIES: acts, INDICATORS: inds}
    sheets.update({slot.sheet: w for slot, w in ledgers})
    if annotations is not None and issues_ws is not None:
        _write_annotations(sheets, annotations, fmt, marks)
        trace = _TRACE.get()
        if trace is not None:
            trace.issue_strings = wb.str_table.unique_count
        _write_issues(issues_ws, layout, annotations, fmt)

    for ws in (instructions, acts, inds, *(w for _, w in ledgers), meta_ws):
        ws.protect(password, {"format_columns": True, "format_rows": True})
    (issues_ws or instructions).activate()
    meta_ws.very_hidden()
    wb.close()
    trace = _TRACE.get()
    if trace is not None:
        trace.strings = list(wb.str_table.string_array)
        trace.formats = {name: getattr(fmt, name).xf_index for name in CELL_FORMATS}
        trace.formats.update((name, f.xf_index) for name, f in marks.items())
        trace.sheets = {ws.name: ws for ws in wb.worksheets()}
    return buf.getvalue()


def _print_setup(ws: Any, landscape: bool, title: str) -> None:
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.repeat_rows(0, HEADER_ROW - 1)
    ws.set_footer(f"&C{header_footer_text(_cut(title, 40))}　第 &P 页，共 &N 页")


def _title(ws: Any, layout: FormLayout, text: str, ncols: int, fmt: _Formats) -> None:
    ws.merge_range(
        0, 0, 0, ncols - 1, f"{layout.unit.name}　{layout.period.label}　{text}", fmt.title
    )
    ws.set_row(0, 28)
    ws.set_row(HEADER_ROW - 1, 32)


def _prompt(title: str, message: str) -> dict[str, Any]:
    return prompt_options(title, message, _cut)  # cuts traced for the form template


def _date_rule(lo: date, hi: date, title: str) -> dict[str, Any]:
    return {
        "validate": "date",
        "criteria": "between",
        "minimum": datetime.combine(lo, datetime.min.time()),
        "maximum": datetime.combine(hi, datetime.min.time()),
        **_prompt(title, f"请填写 {lo:%Y-%m-%d} 至 {hi:%Y-%m-%d} 之间的日期，格式如 {lo:%Y-%m-%d}"),
    }


def _write_value(ws: Any, row: int, col: int, value: Any, fmt: Any, date_fmt: Any) -> None:
    """Write a pre-filled value with its type kept; text is always a plain string."""
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_string(row, col, "是" if value else "否", fmt)
    elif isinstance(value, datetime | date):
        day = value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())
        ws.write_datetime(row, col, day, date_fmt)
    elif isinstance(value, int | float) and math.isfinite(value):
        ws.write_number(row, col, value, fmt)
    else:  # text, and what no number cell can hold (a crafted NaN or infinity)
        ws.write_string(row, col, str(value), fmt)


# --------------------------------------------------------------------------- 规定动作


def _write_activities(ws: Any, layout: FormLayout, fmt: _Formats, prefill: Prefill) -> None:
    cols = ACTIVITY_COLUMNS
    _title(ws, layout, "规定动作完成情况", len(cols), fmt)
    for c, col in enumerate(cols):
        ws.write_string(HEADER_ROW - 1, c, col.header, fmt.header)
        ws.set_column(c, c, col.width)
    lo, hi = layout.date_window
    for slot in layout.activities:
        r = slot.row - 1
        a = slot.activity
        locked = activity_locked_values(layout.plan, a)
        ws.write_string(r, 0, locked[0], fmt.locked_center)
        ws.write_string(r, 1, locked[1], fmt.locked)
        ws.write_string(r, 2, locked[2], fmt.locked_center)
        ws.write_datetime(r, 3, datetime.combine(a.deadline, datetime.min.time()), fmt.locked_date)
        ws.write_number(r, 4, a.min_count, fmt.locked_center)
        ws.write_string(r, 5, locked[5], fmt.locked)
        done = prefill.activities.get(a.code, {})
        for key, f in (
            ("status", fmt.input),
            ("count", fmt.input_num),
            ("done_date", fmt.input_date),
            ("participants", fmt.input_num),
            ("form", fmt.input),
            ("evidence", fmt.input),
            ("note", fmt.input),
        ):
            _write_value(ws, r, col_of(cols, key) - 1, done.get(key), f, fmt.input_date)
        ws.set_row(r, 30)
    if layout.activities:
        first, last = layout.activities[0].row - 1, layout.activities[-1].row - 1

        def col(key: str) -> int:
            return col_of(cols, key) - 1

        ws.data_validation(
            first,
            col("status"),
            last,
            col("status"),
            {
                "validate": "list",
                "source": list(STATUS_OPTIONS),
                **_prompt(
                    "完成情况（必填）",
                    "请从下拉列表中选择：已完成、进行中或未开展。"
                    "选“已完成”时须同时填写完成次数和完成日期。",
                ),
            },
        )
        ws.data_validation(
            first,
            col("count"),
            last,
            col("count"),
            {
                "validate": "integer",
                "criteria": "between",
                "minimum": 0,
                "maximum": 999,
                **_prompt("完成次数", "请填写 0–999 的整数；已完成的动作不得少于“最少次数”。"),
            },
        )
        ws.data_validation(
            first, col("done_date"), last, col("done_date"), _date_rule(lo, hi, "完成日期")
        )
        ws.data_validation(
            first,
            col("participants"),
            last,
            col("participants"),
            {
                "validate": "integer",
                "criteria": "between",
                "minimum": 0,
                "maximum": layout.unit.headcount,
                **_prompt(
                    "参加人数", f"请填写 0–{layout.unit.headcount}（本单位职工人数）的整数。"
                ),
            },
        )
        ws.data_validation(
            first,
            col("form"),
            last,
            col("form"),
            {
                "validate": "list",
                "source": list(FORM_OPTIONS),
                **_prompt("开展形式", "请从下拉列表中选择开展形式。"),
            },
        )
        for key, title in (("evidence", "佐证材料说明"), ("note", "备注")):
            ws.data_validation(
                first,
                col(key),
                last,
                col(key),
                {
                    "validate": "length",
                    "criteria": "<=",
                    "value": NOTE_LIMIT,
                    **_prompt(
                        title,
                        f"不超过 {NOTE_LIMIT} 字。佐证材料（会议记录、照片、签到表等）"
                        "请留存备查，此处简要说明。",
                    ),
                },
            )
        for rng, formula, kind in checks.activity_cf(layout):
            ws.conditional_format(
                rng,
                {
                    "type": "formula",
                    "criteria": formula,
                    "format": fmt.missing if kind == "missing" else fmt.invalid,
                },
            )
    ws.freeze_panes(HEADER_ROW, 2)
    _print_setup(ws, True, f"{layout.unit.name} 规定动作")


# --------------------------------------------------------------------------- 月报数据


def _indicator_validation(layout: FormLayout, ind: Indicator) -> dict[str, Any]:
    hint = indicator_hint(layout, ind)
    title = _cut(xml_text(f"{ind.name}{'（必填）' if ind.required else ''}"), 32)
    if ind.type is ValueType.YESNO:
        return {"validate": "list", "source": ["是", "否"], **_prompt(title, hint)}
    if ind.type is ValueType.DATE:
        lo, hi = layout.year_window
        rule = _date_rule(lo, hi, title)
        rule["input_message"] = _cut(xml_text(hint), 255)
        return rule
    if ind.type is ValueType.TEXT:
        return {
            "validate": "length",
            "criteria": "<=",
            "value": int(ind.maximum or TEXT_LIMIT),
            **_prompt(title, hint),
        }
    kind = "integer" if ind.type is ValueType.INTEGER else "decimal"
    lo = ind.minimum if ind.minimum is not None else -1e12
    hi = ind.maximum if ind.maximum is not None else 1e12
    if kind == "integer":
        lo, hi = max(lo, -2147483647), min(hi, 2147483647)
    return {
        "validate": kind,
        "criteria": "between",
        "minimum": lo,
        "maximum": hi,
        **_prompt(title, hint),
    }


def _write_indicators(ws: Any, layout: FormLayout, fmt: _Formats) -> None:
    cols = INDICATOR_COLUMNS
    _title(ws, layout, "月报数据", len(cols), fmt)
    for c, col in enumerate(cols):
        ws.write_string(HEADER_ROW - 1, c, col.header, fmt.header)
        ws.set_column(c, c, col.width)
    value_col = col_of(cols, "value") - 1
    note_col = col_of(cols, "note") - 1
    for slot in layout.indicators:
        r = slot.row - 1
        ind = slot.indicator
        ws.write_string(r, 0, ind.code, fmt.locked_center)
        ws.write_string(r, 1, ind.name, fmt.locked)
        ws.write_string(r, 2, ind.measure, fmt.locked_center)
        ws.write_string(r, 3, "是" if ind.required else "否", fmt.locked_center)
        ws.write_string(r, 4, indicator_hint(layout, ind), fmt.locked)
        value_fmt = (
            fmt.input_date
            if ind.type is ValueType.DATE
            else (fmt.input_num if ind.numeric else fmt.input)
        )
        ws.write_blank(r, value_col, None, value_fmt)
        ws.write_blank(r, note_col, None, fmt.input)
        ws.data_validation(r, value_col, r, value_col, _indicator_validation(layout, ind))
        ws.data_validation(
            r,
            note_col,
            r,
            note_col,
            {
                "validate": "length",
                "criteria": "<=",
                "value": NOTE_LIMIT,
                **_prompt("备注", f"需要说明的情况，不超过 {NOTE_LIMIT} 字。"),
            },
        )
        if ind.required:
            ws.conditional_format(
                r, value_col, r, value_col, {"type": "blanks", "format": fmt.missing}
            )
        ws.conditional_format(
            r,
            value_col,
            r,
            value_col,
            {
                "type": "formula",
                "criteria": "=" + checks.indicator_invalid(layout, slot),
                "format": fmt.invalid,
            },
        )
        ws.set_row(r, 30 if ind.type is not ValueType.TEXT else 60)
    ws.freeze_panes(HEADER_ROW, 2)
    _print_setup(ws, False, f"{layout.unit.name} 月报数据")


# --------------------------------------------------------------------------- ledgers


def _ledger_validation(layout: FormLayout, column: LedgerColumn) -> dict[str, Any]:
    req = "（必填）" if column.required else ""
    title = f"{column.name}{req}"
    if column.type is ValueType.CHOICE:
        return {
            "validate": "list",
            "source": list(column.options),
            **_prompt(title, "请从下拉列表中选择：" + "、".join(column.options)),
        }
    if column.type is ValueType.DATE:
        lo, hi = layout.year_window
        return _date_rule(lo, hi, title)
    if column.type is ValueType.INTEGER:
        return {
            "validate": "integer",
            "criteria": ">=",
            "value": 0,
            **_prompt(title, "请填写整数。"),
        }
    if column.type is ValueType.DECIMAL:
        return {
            "validate": "decimal",
            "criteria": "between",
            "minimum": -1e12,
            "maximum": 1e12,
            **_prompt(title, "请填写数字。"),
        }
    limit = column.max_length or TEXT_LIMIT
    return {
        "validate": "length",
        "criteria": "<=",
        "value": limit,
        **_prompt(title, f"不超过 {limit} 字。"),
    }


def _write_ledger(
    ws: Any, slot: LedgerSlot, layout: FormLayout, fmt: _Formats, rows: list[dict[str, Any]]
) -> None:
    """Ledger sheet. Input columns get an unlocked column format instead of hundreds of blank
    cells (a third of the write time); the print area and validations cover the ledger rows.
    Excel's own row numbers identify a row, so there is no 序号 column to write."""
    columns = slot.ledger.columns
    _title(ws, layout, slot.sheet, len(columns), fmt)
    for i, column in enumerate(columns):
        c = slot.column(i) - 1
        ws.write_string(HEADER_ROW - 1, c, ledger_header(column), fmt.header)
        if column.type is ValueType.TEXT:
            width = min(40, max(12, (column.max_length or 50) // 6))
        else:
            width = 12
        ws.set_column(c, c, width, _input_format(fmt, column.type))
    for n, data in enumerate(rows[: slot.n_rows]):
        r = slot.first_row - 1 + n
        for i, column in enumerate(columns):
            value = data.get(column.name)
            if value is not None and value != "":
                _write_value(
                    ws,
                    r,
                    slot.column(i) - 1,
                    value,
                    _input_format(fmt, column.type),
                    fmt.input_date,
                )
    first, last = slot.first_row - 1, slot.last_row - 1
    for i, column in enumerate(columns):
        c = slot.column(i) - 1
        ws.data_validation(first, c, last, c, _ledger_validation(layout, column))
    for rng, formula, kind in checks.ledger_cf(slot, layout):
        ws.conditional_format(
            rng,
            {
                "type": "formula",
                "criteria": formula,
                "format": fmt.missing if kind == "missing" else fmt.invalid,
            },
        )
    ws.freeze_panes(HEADER_ROW, 0)
    _print_setup(ws, len(columns) > 5, f"{layout.unit.name} {slot.sheet}")
    ws.print_area(0, 0, last, len(columns) - 1)


def _input_format(fmt: _Formats, vtype: ValueType) -> Any:
    if vtype is ValueType.DATE:
        return fmt.input_date
    if vtype in (ValueType.INTEGER, ValueType.DECIMAL):
        return fmt.input_num
    return fmt.input


# --------------------------------------------------------------------------- 填报说明


def _write_instructions(ws: Any, layout: FormLayout, fmt: _Formats, prefill: Prefill) -> None:
    s = layout.plan.settings
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 22)
    ws.set_column(2, 3, 16)
    ws.set_column(4, 9, 4, None, {"hidden": True})
    ws.merge_range(0, 0, 0, 3, s.name, fmt.title)
    ws.set_row(0, 42)
    ws.merge_range(1, 0, 1, 3, f"{layout.period.label}报送表　（{s.issuer}）", fmt.subtitle)
    values = layout.info_values()
    for i, label in enumerate(INFO_LABELS):
        r = INFO_FIRST_ROW - 1 + i
        ws.write_string(r, 0, label, fmt.label)
        ws.write_string(r, 1, values[label], fmt.locked)
        ws.merge_range(r, 2, r, 3, "", fmt.locked)
    ws.write_string(
        INFO_FIRST_ROW - 1 + INFO_LABELS.index("报送截止"),
        2,
        "请在此日期前（含当日）报送",
        fmt.locked,
    )
    r = INFO_FIRST_ROW + len(INFO_LABELS)
    ws.write_string(r, 0, "联系人", fmt.label)
    ws.merge_range(r, 1, r, 3, f"{s.contact}　{s.phone}", fmt.locked)

    ledger_names = "、".join(slot.sheet for slot in layout.ledgers)
    steps = [
        "填写说明",
        "1. 本表由系统按实施方案为本单位生成。只在白色单元格中填写；灰色单元格、工作表名称和行列"
        "不能修改，否则无法导入。",
        f"2. “{ACTIVITIES}”：逐项填写本单位规定动作的完成情况，选“已完成”时填写完成次数和完成日期，"
        "佐证材料留存备查。",
        f"3. “{INDICATORS}”：填写本期（{layout.period.label}）数据，选中单元格可看到填写要求。",
        f"4. “{ledger_names}”：每行一条，没有可不填；"
        "已采用的未完成整改事项已预先列出，请更新进展。",
        "5. 黄色底色表示必填未填，红色底色表示填写有误。下方“自查结果”显示“可以报送”后再发送。",
        "6. 保存为 .xlsx（WPS 请选择“Excel 文件”格式），文件名可以修改，以邮件附件发送给联系人。"
        "需要更正时修改本文件后重新发送，以最后收到的为准。",
    ]
    r += 2
    ws.write_string(r, 0, steps[0], fmt.bold)
    for line in steps[1:]:
        r += 1
        ws.merge_range(r, 0, r, 3, line, fmt.text)
        ws.set_row(r, 36)
    if prefill.source:
        r += 1
        ws.merge_range(r, 0, r, 3, f"预填说明：{prefill.source}", fmt.text)
        ws.set_row(r, 30)

    r += 2
    ws.write_string(r, 0, "自查结果", fmt.bold)
    r += 1
    for c, head in enumerate(("工作表", "必填未填（处）", "填写有误（处）")):
        ws.write_string(r, c, head, fmt.header)
    check_rows: list[tuple[str, str, str | list[str]]] = [
        (
            ACTIVITIES,
            checks.activities_missing_count(layout),
            checks.activities_invalid_count(layout),
        ),
        (
            INDICATORS,
            checks.indicators_missing_count(layout),
            checks.indicators_invalid_terms(layout),
        ),
    ]
    for slot in layout.ledgers:
        check_rows.append(
            (
                slot.sheet,
                checks.ledger_missing_count(slot),
                checks.ledger_invalid_count(slot, layout),
            )
        )
    first_check = r + 1
    helper_col = 4  # hidden columns E.. hold partial sums of long formulas
    helper_row = first_check
    missing_at_start = initial_missing(layout, prefill)
    for sheet, missing, invalid in check_rows:
        r += 1
        ws.write_string(r, 0, sheet, fmt.locked)
        ws.write_formula(r, 1, missing, fmt.check, missing_at_start.get(sheet, 0))
        if isinstance(invalid, list):
            chunks = [invalid[i : i + 15] for i in range(0, len(invalid), 15)] or [["0"]]
            refs = []
            for chunk in chunks:
                ws.write_formula(helper_row - 1, helper_col, "=" + "+".join(chunk), None, 0)
                refs.append(checks.a1(helper_row, helper_col + 1))
                helper_row += 1
            ws.write_formula(r, 2, "=" + "+".join(refs), fmt.check, 0)
        else:
            ws.write_array_formula(r, 2, r, 2, "{" + invalid + "}", fmt.check, 0)
    last_check = r
    r += 2
    total = f"SUM(B{first_check + 1}:C{last_check + 1})"
    ws.write_string(r, 0, "结论", fmt.label)
    total_initial = sum(missing_at_start.values())
    ws.merge_range(r, 1, r, 3, "", fmt.check)
    ws.write_formula(
        r,
        1,
        f'=IF({total}=0,"可以报送","还有 "&{total}&" 处需要处理，见各表黄色、红色单元格")',
        fmt.check,
        conclusion_text(total_initial),
    )
    ws.conditional_format(
        r,
        1,
        r,
        1,
        {"type": "text", "criteria": "begins with", "value": "还有", "format": fmt.invalid},
    )
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.hide_gridlines(2)


def conclusion_text(missing: int) -> str:
    """The self-check conclusion as the formula shows it with ``missing`` cells to handle."""
    return "可以报送" if missing == 0 else f"还有 {missing} 处需要处理，见各表黄色、红色单元格"


def initial_missing(layout: FormLayout, prefill: Prefill) -> dict[str, int]:
    """Cached results for the missing-count formulas, matching the freshly written form."""
    missing_acts = 0
    for slot in layout.activities:
        done = prefill.activities.get(slot.activity.code, {})
        if not done.get("status"):
            missing_acts += 1
        elif done.get("status") == "已完成":
            missing_acts += (done.get("done_date") is None) + (done.get("count") is None)
    return {
        ACTIVITIES: missing_acts,
        INDICATORS: sum(1 for s in layout.indicators if s.indicator.required),
    }


# --------------------------------------------------------------------------- feedback


def _write_annotations(
    sheets: dict[str, Any], notes: Annotations, fmt: _Formats, marks: dict[str, Any]
) -> None:
    """Write the returned values back and mark the problem cells (red: error, yellow: warning)."""
    from xlsxwriter.utility import xl_cell_to_rowcol

    bad, bad_date, warn, warn_date = (marks[name] for name in MARK_FORMATS)
    for (sheet, ref), value in notes.values.items():
        ws = sheets.get(sheet)
        if ws is None or (sheet, ref) in notes.marks:
            continue
        r, c = xl_cell_to_rowcol(ref)
        _write_value(ws, r, c, value, fmt.input, fmt.input_date)
    for (sheet, ref), (severity, message) in notes.marks.items():
        ws = sheets.get(sheet)
        if ws is None:
            continue
        r, c = xl_cell_to_rowcol(ref)
        error = severity == "error"
        _write_value(
            ws,
            r,
            c,
            notes.values.get((sheet, ref)),
            bad if error else warn,
            bad_date if error else warn_date,
        )
        ws.write_comment(r, c, _cut(message, COMMENT_LIMIT), COMMENT_OPTIONS)


def _write_issues(ws: Any, layout: FormLayout, notes: Annotations, fmt: _Formats) -> None:
    headers = ("序号", "级别", "工作表", "单元格", "项目", "问题及修改方法")
    widths = (6, 8, 12, 9, 26, 70)
    ws.merge_range(
        0,
        0,
        0,
        len(headers) - 1,
        f"{layout.unit.name}　{layout.period.label}报送　审核意见",
        fmt.title,
    )
    ws.set_row(0, 30)
    r = 1
    for line in notes.summary:
        ws.merge_range(r, 0, r, len(headers) - 1, line, fmt.text)
        ws.set_row(r, 22)
        r += 1
    r += 1
    for c, (head, width) in enumerate(zip(headers, widths, strict=True)):
        ws.write_string(r, c, head, fmt.header)
        ws.set_column(c, c, width)
    header_row = r
    for n, (level, sheet, cell, label, message) in enumerate(notes.issues, start=1):
        r += 1
        ws.write_number(r, 0, n, fmt.locked_center)
        for c, text in enumerate((level, sheet, cell, label, message), start=1):
            ws.write_string(r, c, text, fmt.locked)
    ws.freeze_panes(header_row + 1, 0)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(header_row, header_row)
    ws.protect("", {"format_columns": True, "format_rows": True})


# --------------------------------------------------------------------------- metadata


def _write_meta(ws: Any, meta: FormMeta, fmt: _Formats) -> None:
    ws.write_string(0, 0, "本表供系统识别表单使用，请勿修改。", fmt.bold)
    for i, (key, value) in enumerate(meta.as_rows(), start=1):
        ws.write_string(i, 0, key)
        ws.write_string(i, 1, value)
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 60)
