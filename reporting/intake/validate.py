"""Identify a returned workbook and check it cell by cell against its form layout.

Pure functions over a :class:`~reporting.intake.reader.RawBook`: no disk, no store. Every
problem becomes a :class:`~reporting.findings.Finding` with the sheet, the A1 cell, a row label
and a Chinese message saying what is wrong and how to fix it; nothing is raised for bad input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from reporting.errors import UsageError
from reporting.findings import Finding, Severity, has_errors, make
from reporting.forms.layout import (
    ACTIVITIES,
    ACTIVITY_COLUMNS,
    FORM_KIND_UNIT,
    FORM_OPTIONS,
    INDICATORS,
    INFO_LABELS,
    INSTRUCTIONS,
    META,
    NOTE_LIMIT,
    STATUS_DONE,
    STATUS_OPTIONS,
    TEXT_LIMIT,
    TOOL_NAME,
    FormLayout,
    FormMeta,
    LedgerSlot,
    a1,
    build_layout,
    col_letter,
    col_of,
    describe_rule,
    verify,
)
from reporting.intake.reader import RawBook, RawSheet
from reporting.intake.values import clean_text, fmt_number, is_blank, to_date, to_number
from reporting.periods import Period
from reporting.plan.model import Indicator, LedgerColumn, Plan, Unit, ValueType
from reporting.rules import check
from reporting.store import ActivityRow, LedgerRow, ValueRow

MAX_LISTED = 5  # differences listed in one structure-changed message


@dataclass(frozen=True)
class IntakeContext:
    """What intake knows while checking files: the current plan, every plan version seen in the
    store (forms made from older versions), the signing key and the period being collected."""

    current: Plan
    plans: Mapping[str, Plan]
    key: bytes | None = None
    period: Period | None = None

    def plan_for(self, plan_version: str | None, *, by_instructions: bool = False) -> Plan | None:
        """The plan a unit form is checked against: the current one for a form identified by
        its instructions sheet (its identification is missing), else the version it was made
        from, None when this workspace never saw that version. ``collect`` asks the same
        question before checking a rejected return again (``_Run._recheck``)."""
        return self.current if by_instructions else self.plans.get(plan_version or "")


@dataclass(frozen=True)
class Extracted:
    values: tuple[ValueRow, ...] = ()
    activities: tuple[ActivityRow, ...] = ()
    ledger_rows: tuple[LedgerRow, ...] = ()

    @property
    def empty(self) -> bool:
        filled = any(v.value is not None for v in self.values)
        return not (filled or self.activities or self.ledger_rows)


@dataclass(frozen=True)
class FormCheck:
    """The outcome for one workbook: who it is from, for when, and what is wrong with it."""

    kind: str
    unit_code: str | None
    period: str | None
    plan_version: str | None
    identified_by: str | None  # "metadata", "instructions" or None
    findings: tuple[Finding, ...]
    extracted: Extracted = field(default_factory=Extracted)
    ledger_rows_meta: dict[str, int] = field(default_factory=dict)
    # The unit's own input cells, kept only when there is something to feed back.
    inputs: dict[tuple[str, str], Any] = field(default_factory=dict)
    # Inspector sheets only: a reporting.inspection.validate.InspectionReturn.
    inspection: Any = None

    @property
    def accepted(self) -> bool:
        return self.unit_code is not None and not has_errors(self.findings)


class _Collector:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(
        self,
        code: str,
        message: str,
        *,
        sheet: str | None = None,
        cell: str | None = None,
        label: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        self.findings.append(
            make(code, message, sheet=sheet, cell=cell, label=label, severity=severity)
        )


# --------------------------------------------------------------------------- identification


def read_meta(book: RawBook) -> tuple[FormMeta | None, str | None]:
    """(metadata, problem): ``(None, None)`` when there is no metadata sheet at all."""
    sheet = book.sheets.get(META)
    if sheet is None:
        return None, None
    rows: dict[str, str] = {}
    for line in sheet.rows[1:]:
        if line and not is_blank(line[0]):
            rows[clean_text(line[0])] = clean_text(line[1] if len(line) > 1 else None)
    try:
        return FormMeta.from_rows(rows), None
    except (KeyError, ValueError, TypeError):
        return None, "识别信息不完整或格式被改动"


def read_instructions(book: RawBook) -> dict[str, str]:
    """Label → value pairs from the instructions sheet (fallback identification)."""
    sheet = book.sheets.get(INSTRUCTIONS) or next(iter(book.sheets.values()), None)
    found: dict[str, str] = {}
    if sheet is None:
        return found
    for line in sheet.rows[:60]:
        for c, value in enumerate(line[:-1]):
            label = clean_text(value)
            if label in INFO_LABELS and label not in found:
                found[label] = clean_text(line[c + 1])
    return found


def check_workbook(book: RawBook, ctx: IntakeContext) -> FormCheck:
    """Identify ``book`` and validate it; never raises for bad content."""
    out = _Collector()
    if book.format == "xlsm":
        out.add("macro-present", "文件含有宏（.xlsm），宏不会被运行。今后请直接保存为 .xlsx 格式")
    meta, meta_problem = read_meta(book)
    identified_by = "metadata"
    if meta_problem:
        out.add(
            "metadata-tampered",
            f"表单的识别信息（隐藏工作表）{meta_problem}。请使用下发的原始表单重新填报",
            sheet=META,
        )
        return _failed(out, None, None, None, None)
    if meta is not None and meta.tool != TOOL_NAME:
        out.add("not-a-form", "这不是本工具生成的报送表单，请使用下发的表单填报")
        return _failed(out, None, None, None, None)
    # Inspector sheets (督导考评表) have their own layout and findings.
    from reporting.inspection.validate import check_if_inspection

    inspected = check_if_inspection(book, meta, ctx, tuple(out.findings))
    if inspected is not None:
        return inspected
    if meta is None:
        info = read_instructions(book)
        code = info.get("单位编码", "")
        if not code:
            out.add(
                "not-a-form",
                "文件中找不到报送表单的识别信息，也没有“单位编码”。"
                "请使用下发给本单位的表单填写后发回",
            )
            return _failed(out, None, None, None, None)
        out.add(
            "metadata-missing",
            "文件缺少表单识别信息（可能是把内容复制到了新文件，或用旧版软件另存），"
            f"已按填报说明中的单位编码“{code}”识别。今后请直接在下发的表单中填写",
            sheet=INSTRUCTIONS,
        )
        identified_by = "instructions"
        plan = ctx.current  # see IntakeContext.plan_for
        plan_version = plan.version
        period_text = info.get("报送期", "")
        kind = FORM_KIND_UNIT
        ledger_rows: dict[str, int] = {}
    else:
        code, period_text, kind = meta.unit_code, meta.period, meta.kind
        plan_version = meta.plan_version
        ledger_rows = dict(meta.ledger_rows)
        if kind != FORM_KIND_UNIT:
            out.add("not-a-form", f"表单类型“{kind}”不是单位报送表")
            return _failed(out, code, period_text, plan_version, identified_by, kind)
        known = ctx.plan_for(plan_version)
        if known is None:
            out.add(
                "plan-changed",
                "表单所依据的方案版本在本工作区没有记录（可能是其他工作区生成的，"
                "或识别信息被改动），无法核对。请使用本期下发的表单重新填报",
                sheet=META,
            )
            return _failed(out, code, period_text, plan_version, identified_by)
        plan = known

    unit = plan.unit(code)
    if unit is None or ctx.current.unit(code) is None:
        out.add(
            "unknown-unit",
            f"单位编码“{code}”不在本次活动的单位名单中。请核对是否用了其他单位的表单",
        )
        return _failed(out, code, period_text, plan_version, identified_by)
    try:
        period = Period.parse(period_text)
    except UsageError:
        out.add("wrong-period", f"表单的报送期“{period_text}”无法识别，请使用本期下发的表单")
        return _failed(out, code, period_text, plan_version, identified_by)
    if ctx.period is not None and period != ctx.period:
        out.add(
            "wrong-period",
            f"这是 {period.label} 的表单，本次收集的是 {ctx.period.label}。"
            f"请使用 {ctx.period.label} 的表单填报",
        )
        return _failed(out, code, str(period), plan_version, identified_by)
    if period not in plan.periods():
        out.add("wrong-period", f"报送期 {period} 不在活动期内")
        return _failed(out, code, str(period), plan_version, identified_by)

    if identified_by == "instructions":
        ledger_rows = _ledger_rows_present(book, plan)
    layout = build_layout(plan, unit, period, ledger_rows)
    if meta is not None:
        if meta.fingerprint != layout.fingerprint():
            out.add(
                "metadata-tampered",
                "表单识别信息与表格内容不对应（识别信息可能被改动过）。"
                "请使用下发的原始表单重新填报",
                sheet=META,
            )
        elif ctx.key is not None and not verify(ctx.key, meta):
            out.add(
                "metadata-tampered",
                "表单识别信息的签名不符，识别信息被改动过。请使用下发的原始表单重新填报",
                sheet=META,
            )
    _check_structure(book, layout, out)
    if has_errors(out.findings):
        return _failed(out, code, str(period), plan_version, identified_by, ledger_rows=ledger_rows)
    if plan.version != ctx.current.version:
        _check_plan_compatible(layout, ctx.current, unit, period, out)

    extracted = _check_cells(book, layout, out)
    if extracted.empty:
        out.findings = [f for f in out.findings if f.code != "required-missing"]
        out.add("empty-return", "表单没有填写任何内容。请填写规定动作完成情况和月报数据后再发送")
    inputs = input_values(book, layout) if out.findings else {}
    return FormCheck(
        kind,
        code,
        str(period),
        plan_version,
        identified_by,
        tuple(out.findings),
        extracted,
        {s.sheet: s.n_rows for s in layout.ledgers},
        inputs,
    )


def input_values(book: RawBook, layout: FormLayout) -> dict[tuple[str, str], Any]:
    """Every non-empty input cell of the layout, as received (for the feedback copy)."""
    from reporting.forms.layout import INDICATOR_COLUMNS

    found: dict[tuple[str, str], Any] = {}

    def take(sheet: str, ref: str) -> None:
        value = book.sheets[sheet].cell(ref)
        if not is_blank(value):
            found[(sheet, ref)] = value

    inputs = [i for i, c in enumerate(ACTIVITY_COLUMNS, start=1) if not c.locked]
    for slot in layout.activities:
        for c in inputs:
            take(ACTIVITIES, a1(slot.row, c))
    note = col_of(INDICATOR_COLUMNS, "note")
    for slot in layout.indicators:
        take(INDICATORS, slot.cell)
        take(INDICATORS, a1(slot.row, note))
    for ledger in layout.ledgers:
        sheet = book.sheets[ledger.sheet]
        for r in range(ledger.first_row, min(ledger.last_row, sheet.n_rows) + 1):
            for i in range(len(ledger.ledger.columns)):
                take(ledger.sheet, a1(r, ledger.column(i)))
    return found


def _failed(
    out: _Collector,
    code: str | None,
    period: str | None,
    version: str | None,
    identified_by: str | None,
    kind: str = FORM_KIND_UNIT,
    ledger_rows: dict[str, int] | None = None,
) -> FormCheck:
    return FormCheck(
        kind if code else "unknown",
        code,
        Period.canonical(period),  # as the file claims it only if it is a period at all
        version,
        identified_by,
        tuple(out.findings),
        Extracted(),
        ledger_rows or {},
    )


def _ledger_rows_present(book: RawBook, plan: Plan) -> dict[str, int]:
    """Without metadata, read each ledger sheet to its last used row."""
    rows: dict[str, int] = {}
    for ledger in plan.ledgers:
        sheet = book.sheets.get(ledger.name)
        if sheet is not None:
            rows[ledger.name] = max(0, sheet.n_rows - 2)
    return rows


def _check_structure(book: RawBook, layout: FormLayout, out: _Collector) -> None:
    for name in layout.sheet_names:
        if name not in book.sheets:
            present = "、".join(n for n in book.sheets if n != META) or "无"
            out.add(
                "structure-changed",
                f"缺少工作表“{name}”（现有：{present}）。工作表不能删除或改名，"
                "请使用下发的原始表单重新填报",
                sheet=name,
            )
    if has_errors(out.findings):
        return
    diffs: dict[str, list[str]] = {}
    sheets = book.sheets
    for sheet, ref, row, col, expected in layout.locked_places():
        raw = sheets[sheet].value(row, col)
        actual = raw.strip() if type(raw) is str else clean_text(raw)  # (clean_text, inlined)
        if actual != expected:
            diffs.setdefault(sheet, []).append(
                f"{ref} 应为“{expected or '（空）'}”，现为“{actual or '（空）'}”"
            )
    for sheet, items in diffs.items():
        listed = "；".join(items[:MAX_LISTED]) + (
            f" 等 {len(items)} 处" if len(items) > MAX_LISTED else ""
        )
        first_ref = items[0].split(" ", 1)[0]
        out.add(
            "structure-changed",
            f"表格结构被改动（插入、删除或移动了行列，或改了灰色单元格）：{listed}。"
            "请在下发的原始表单中重新填写",
            sheet=sheet,
            cell=first_ref,
        )


def _data_cells(layout: FormLayout) -> dict[tuple[str, str], str]:
    return {k: v for k, v in layout.locked_cells().items() if k[0] != INSTRUCTIONS}


def _check_plan_compatible(
    layout: FormLayout, current: Plan, unit: Unit, period: Period, out: _Collector
) -> None:
    now_unit = current.unit(unit.code)
    assert now_unit is not None
    fresh = build_layout(current, now_unit, period, {s.sheet: s.n_rows for s in layout.ledgers})
    if _data_cells(fresh) == _data_cells(layout) and fresh.sheet_names == layout.sheet_names:
        out.add(
            "plan-changed",
            "表单是按调整前的方案生成的，内容结构没有变化，已按原表单核对接收。"
            "下期请使用新下发的表单",
            severity=Severity.WARNING,
        )
    else:
        out.add(
            "plan-changed",
            "表单生成后方案已调整（规定动作、指标或清单有变化），本表单不能再使用。"
            "请使用新下发的表单重新填报",
        )


# --------------------------------------------------------------------------- cells


def _check_cells(book: RawBook, layout: FormLayout, out: _Collector) -> Extracted:
    uncalculated = {(s, c) for s, c in book.formula_cells_without_value}
    errors = {(s, c): e for s, c, e in book.error_cells}
    for sheet, ref in sorted(uncalculated):
        if sheet in layout.sheet_names and sheet != INSTRUCTIONS:
            out.add(
                "formula-uncalculated",
                "单元格里是公式但没有计算结果（文件可能由程序生成后未在 Excel 中打开）。"
                "请改为直接填写数值，或用 Excel/WPS 打开后保存再发送",
                sheet=sheet,
                cell=ref,
            )
    for (sheet, ref), err in sorted(errors.items()):
        if sheet in layout.sheet_names and sheet != INSTRUCTIONS:
            out.add(
                "type-error", f"单元格显示错误值 {err}，请改为正确的数值", sheet=sheet, cell=ref
            )
    skip = set(uncalculated) | set(errors)
    activities = _check_activities(book.sheets[ACTIVITIES], layout, out, skip)
    values = _check_indicators(book.sheets[INDICATORS], layout, out, skip)
    ledger_rows: list[LedgerRow] = []
    for slot in layout.ledgers:
        ledger_rows += _check_ledger(book.sheets[slot.sheet], slot, layout, out, skip)
    return Extracted(tuple(values), tuple(activities), tuple(ledger_rows))


def _int_value(
    raw: Any,
    out: _Collector,
    sheet: str,
    ref: str,
    label: str,
    what: str,
    low: int = 0,
    high: int | None = None,
) -> int | None:
    number = to_number(raw)
    if number is None or not number.is_integer():
        out.add(
            "type-error",
            f"{what}应填整数，现为“{clean_text(raw)}”",
            sheet=sheet,
            cell=ref,
            label=label,
        )
        return None
    if number < low or (high is not None and number > high):
        limit = f"{low}–{high}" if high is not None else f"不小于 {low}"
        out.add(
            "out-of-range",
            f"{what} {fmt_number(number)} 超出范围（{limit}）",
            sheet=sheet,
            cell=ref,
            label=label,
        )
        return None
    return int(number)


_ACTIVITY_INPUTS = {
    key: (col_of(ACTIVITY_COLUMNS, key), col_letter(col_of(ACTIVITY_COLUMNS, key)))
    for key in ("status", "count", "done_date", "participants", "form", "evidence", "note")
}


def _check_activities(
    sheet: RawSheet, layout: FormLayout, out: _Collector, skip: set[tuple[str, str]]
) -> list[ActivityRow]:
    lo, hi = layout.date_window
    rows: list[ActivityRow] = []
    for slot in layout.activities:
        a, r = slot.activity, slot.row
        label = f"{a.code} {a.name}"
        cells = {k: f"{letter}{r}" for k, (_, letter) in _ACTIVITY_INPUTS.items()}
        raw = {
            k: (None if (ACTIVITIES, cells[k]) in skip else sheet.value(r, c))
            for k, (c, _) in _ACTIVITY_INPUTS.items()
        }
        w = {"sheet": ACTIVITIES, "label": label}
        status = clean_text(raw["status"]) or None
        if status is None:
            out.add(
                "required-missing",
                "请在“完成情况”中选择：已完成、进行中或未开展",
                cell=cells["status"],
                **w,
            )
        elif status not in STATUS_OPTIONS:
            out.add(
                "not-in-list",
                f"完成情况“{status}”不是下拉选项，请选择已完成、进行中或未开展",
                cell=cells["status"],
                **w,
            )
            status = None
        count = None
        if not is_blank(raw["count"]):
            count = _int_value(
                raw["count"], out, ACTIVITIES, cells["count"], label, "完成次数", 0, 999
            )
        done_date = None
        if not is_blank(raw["done_date"]):
            done_date = to_date(raw["done_date"])
            if done_date is None:
                out.add(
                    "type-error",
                    f"完成日期“{clean_text(raw['done_date'])}”不是日期，"
                    "请写成 2014-05-10 这样的日期",
                    cell=cells["done_date"],
                    **w,
                )
            elif not lo <= done_date <= hi:
                out.add(
                    "date-out-of-window",
                    f"完成日期 {done_date} 不在 {lo} 至 {hi} 之间",
                    cell=cells["done_date"],
                    **w,
                )
                done_date = None
        participants = None
        if not is_blank(raw["participants"]):
            participants = _int_value(
                raw["participants"], out, ACTIVITIES, cells["participants"], label, "参加人数", 0
            )
            if participants is not None and participants > layout.unit.headcount:
                out.add(
                    "rule-violation",
                    f"参加人数 {participants} 超过本单位职工人数 {layout.unit.headcount}",
                    cell=cells["participants"],
                    **w,
                )
                participants = None
        form = clean_text(raw["form"]) or None
        if form and form not in FORM_OPTIONS:
            out.add(
                "not-in-list",
                f"开展形式“{form}”不是下拉选项，已照录；请从下拉列表中选择",
                cell=cells["form"],
                severity=Severity.WARNING,
                **w,
            )
        texts = {}
        for key, what in (("evidence", "佐证材料说明"), ("note", "备注")):
            text = clean_text(raw[key]) or None
            if text and len(text) > NOTE_LIMIT:
                out.add(
                    "too-long",
                    f"{what}有 {len(text)} 字，超过 {NOTE_LIMIT} 字，请精简",
                    cell=cells[key],
                    **w,
                )
            texts[key] = text
        if status == STATUS_DONE:
            if done_date is None and is_blank(raw["done_date"]):
                out.add(
                    "activity-inconsistent",
                    "已完成的动作须填写完成日期",
                    cell=cells["done_date"],
                    **w,
                )
            if count is None and is_blank(raw["count"]):
                out.add(
                    "activity-inconsistent", "已完成的动作须填写完成次数", cell=cells["count"], **w
                )
            elif count is not None and count < a.min_count:
                out.add(
                    "activity-inconsistent",
                    f"完成次数 {count} 少于要求的最少 {a.min_count} 次；次数不够请选“进行中”",
                    cell=cells["count"],
                    **w,
                )
        elif status is not None and not is_blank(raw["done_date"]):
            out.add(
                "activity-inconsistent",
                f"填了完成日期，但完成情况是“{status}”。已完成请改选“已完成”，未完成请删去日期",
                cell=cells["done_date"],
                severity=Severity.WARNING,
                **w,
            )
        if any(not is_blank(v) for v in raw.values()):
            rows.append(
                ActivityRow(
                    a.code,
                    status,
                    count,
                    done_date,
                    participants,
                    form,
                    texts["evidence"],
                    texts["note"],
                )
            )
    return rows


def _check_indicators(
    sheet: RawSheet, layout: FormLayout, out: _Collector, skip: set[tuple[str, str]]
) -> list[ValueRow]:
    values: list[ValueRow] = []
    numbers: dict[str, float | None] = {}
    good_cells: dict[str, tuple[Indicator, str]] = {}
    for slot in layout.indicators:
        ind, ref = slot.indicator, slot.cell
        raw = None if (INDICATORS, ref) in skip else sheet.cell(ref)
        label = f"{ind.code} {ind.name}"
        value = _indicator_value(ind, raw, layout, out, ref, label)
        if is_blank(raw):
            if ind.required:
                out.add(
                    "required-missing",
                    f"“{ind.name}”是必填项，请填写",
                    sheet=INDICATORS,
                    cell=ref,
                    label=label,
                )
            values.append(ValueRow(ind.code, None))
            continue
        values.append(ValueRow(ind.code, value))
        if ind.numeric and isinstance(value, float):
            numbers[ind.code] = value
            good_cells[ind.code] = (ind, ref)
    attrs = layout.unit.attributes()
    for code, (ind, ref) in good_cells.items():
        for rule in ind.rules:
            if check(rule, numbers, attrs, numbers[code]) is False:
                out.add(
                    "rule-violation",
                    f"“{ind.name}”为 {fmt_number(numbers[code])}，"
                    f"应{describe_rule(layout, rule.text)}。请核对",
                    sheet=INDICATORS,
                    cell=ref,
                    label=f"{ind.code} {ind.name}",
                )
    return values


def _indicator_value(
    ind: Indicator, raw: Any, layout: FormLayout, out: _Collector, ref: str, label: str
) -> Any:
    if is_blank(raw):
        return None
    w = {"sheet": INDICATORS, "cell": ref, "label": label}
    shown = clean_text(raw)
    if ind.type is ValueType.TEXT:
        limit = int(ind.maximum or TEXT_LIMIT)
        if len(shown) > limit:
            out.add("too-long", f"“{ind.name}”有 {len(shown)} 字，超过 {limit} 字，请精简", **w)
        return shown
    if ind.type is ValueType.YESNO:
        if shown not in ("是", "否"):
            out.add("not-in-list", f"“{ind.name}”应选“是”或“否”，现为“{shown}”", **w)
            return None
        return shown == "是"
    if ind.type is ValueType.DATE:
        day = to_date(raw)
        lo, hi = layout.year_window
        if day is None:
            out.add("type-error", f"“{ind.name}”应填日期，现为“{shown}”", **w)
        elif not lo <= day <= hi:
            out.add("date-out-of-window", f"“{ind.name}” {day} 不在 {lo.year} 年内", **w)
            return None
        return day
    number = to_number(raw)
    if number is None:
        out.add("type-error", f"“{ind.name}”应填数字，现为“{shown}”（不要带单位或文字）", **w)
        return None
    if ind.type is ValueType.INTEGER and not number.is_integer():
        out.add("type-error", f"“{ind.name}”应填整数，现为 {fmt_number(number)}", **w)
        return None
    if (ind.minimum is not None and number < ind.minimum) or (
        ind.maximum is not None and number > ind.maximum
    ):
        lo_t = "" if ind.minimum is None else fmt_number(ind.minimum)
        hi_t = "" if ind.maximum is None else fmt_number(ind.maximum)
        out.add("out-of-range", f"“{ind.name}”为 {fmt_number(number)}，超出范围 {lo_t}–{hi_t}", **w)
        return None
    return number


def _ledger_value(
    column: LedgerColumn,
    raw: Any,
    layout: FormLayout,
    out: _Collector,
    sheet: str,
    ref: str,
    label: str,
) -> Any:
    w = {"sheet": sheet, "cell": ref, "label": label}
    shown = clean_text(raw)
    if column.type is ValueType.CHOICE:
        if shown not in column.options:
            out.add(
                "not-in-list",
                f"“{column.name}”应从下拉列表选择（{'、'.join(column.options)}），现为“{shown}”",
                **w,
            )
            return None
        return shown
    if column.type is ValueType.DATE:
        day = to_date(raw)
        lo, hi = layout.year_window
        if day is None:
            out.add("type-error", f"“{column.name}”应填日期，现为“{shown}”", **w)
            return None
        if not lo <= day <= hi:
            out.add("date-out-of-window", f"“{column.name}” {day} 不在 {lo.year} 年内", **w)
            return None
        return day
    if column.type in (ValueType.INTEGER, ValueType.DECIMAL):
        number = to_number(raw)
        if number is None or (column.type is ValueType.INTEGER and not number.is_integer()):
            kind = "整数" if column.type is ValueType.INTEGER else "数字"
            out.add("type-error", f"“{column.name}”应填{kind}，现为“{shown}”", **w)
            return None
        return number
    limit = column.max_length or TEXT_LIMIT
    if len(shown) > limit:
        out.add("too-long", f"“{column.name}”有 {len(shown)} 字，超过 {limit} 字，请精简", **w)
    return shown


def _check_ledger(
    sheet: RawSheet,
    slot: LedgerSlot,
    layout: FormLayout,
    out: _Collector,
    skip: set[tuple[str, str]],
) -> list[LedgerRow]:
    columns = slot.ledger.columns
    rows: list[LedgerRow] = []
    seen: dict[tuple[str, ...], int] = {}
    cols = [slot.column(i) for i in range(len(columns))]
    skip_here = {ref for s, ref in skip if s == slot.sheet}
    for r in range(slot.first_row, min(slot.last_row, sheet.n_rows) + 1):
        line = sheet.rows[r - 1]
        raw = [line[c - 1] if c <= len(line) else None for c in cols]
        if skip_here:
            raw = [None if a1(r, c) in skip_here else v for c, v in zip(cols, raw, strict=True)]
        if all(is_blank(v) for v in raw):
            continue
        label = f"{slot.sheet} 第{r}行"
        data: dict[str, object] = {}
        for i, column in enumerate(columns):
            ref = a1(r, slot.column(i))
            if is_blank(raw[i]):
                if column.required:
                    out.add(
                        "required-missing",
                        f"“{column.name}”是必填项，这一行已填了内容，请补全",
                        sheet=slot.sheet,
                        cell=ref,
                        label=label,
                    )
                data[column.name] = None
                continue
            data[column.name] = _ledger_value(column, raw[i], layout, out, slot.sheet, ref, label)
        key = tuple(clean_text(v) for v in raw)
        if key in seen:
            out.add(
                "duplicate-row",
                f"与第{seen[key]}行完全相同，重复的条目请删除",
                sheet=slot.sheet,
                cell=a1(r, 1),
                label=label,
            )
        else:
            seen[key] = r
        rows.append(LedgerRow(slot.sheet, r - slot.first_row + 1, data))
    _check_outside(sheet, slot, out)
    return rows


def _check_outside(sheet: RawSheet, slot: LedgerSlot, out: _Collector) -> None:
    """Content typed below the ledger rows or right of its columns is not read: say so."""
    ncols = len(slot.ledger.columns)
    for r in range(slot.first_row, sheet.n_rows + 1):
        line = sheet.rows[r - 1]
        beyond = [
            c
            for c, v in enumerate(line, start=1)
            if not is_blank(v) and (c > ncols or r > slot.last_row)
        ]
        if beyond:
            out.add(
                "structure-changed",
                f"{a1(r, beyond[0])} 等处在填报区域之外，内容不会被读取。请把内容填到表格范围内",
                sheet=slot.sheet,
                cell=a1(r, beyond[0]),
                severity=Severity.WARNING,
            )
            return


__all__ = ["Extracted", "FormCheck", "IntakeContext", "check_workbook", "date"]
