"""Feedback to units: the 退回修改 workbook and a short text to paste into a chat message.

The workbook is the unit's own form regenerated from the same plan version, with the values it
sent written back, every problem cell highlighted and commented, and a 问题清单 sheet in front.
It carries valid metadata, so the unit corrects it and sends it straight back.

Copies are rendered by XlsxWriter until a process has made a few of one form shape; from then on
they come from a :class:`~reporting.forms.feedback_template.FeedbackTemplate` of that shape
(about a fifth of the time), once the template's first copy has been compared with a direct
render. The copies' metadata then carry the template's creation time as ``generated_at``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from reporting.findings import Finding
from reporting.forms.feedback_template import FeedbackTemplate
from reporting.forms.layout import FormLayout, build_layout, make_meta
from reporting.forms.template import Shape, TemplateUnsupported, same_form, shape_of
from reporting.forms.writer import EMPTY_PREFILL, Annotations, render_form
from reporting.intake.validate import FormCheck
from reporting.periods import Period
from reporting.plan.model import Plan
from reporting.text import safe_name

LEVEL = {"error": "错误", "warning": "提示"}
MAX_CHAT_ITEMS = 5
# Findings after which the received layout cannot be trusted: send a fresh form instead.
_FRESH = {"structure-changed", "metadata-tampered", "plan-changed"}


@dataclass(frozen=True)
class Feedback:
    filename: str
    data: bytes
    chat: str


def feedback_filename(unit_code: str, unit_name: str, accepted: bool) -> str:
    suffix = "审核提示" if accepted else "退回修改"
    return f"{safe_name(unit_code)}_{safe_name(unit_name)}_{suffix}.xlsx"


def issue_rows(
    findings: tuple[Finding, ...], sheet_order: tuple[str, ...] = ()
) -> list[tuple[str, str, str, str, str]]:
    """问题清单 rows: errors first, then by sheet in form order, then by cell."""

    def order(sheet: str | None) -> int:
        return sheet_order.index(sheet) if sheet in sheet_order else -1

    ordered = sorted(findings, key=lambda f: (not f.is_error, order(f.sheet), _cell_key(f.cell)))
    return [
        (LEVEL[str(f.severity)], f.sheet or "", f.cell or "", f.label or "", f.message)
        for f in ordered
    ]


def _cell_key(cell: str | None) -> tuple[int, str]:
    if not cell:
        return (0, "")
    digits = "".join(ch for ch in cell if ch.isdigit())
    letters = "".join(ch for ch in cell if ch.isalpha())
    return (int(digits or 0), letters.rjust(3))


def build_feedback(
    check: FormCheck,
    plan: Plan,
    form_plan: Plan | None,
    key: bytes,
    source: str,
    received_at: datetime,
    accepted: bool,
    now: datetime | None = None,
) -> Feedback | None:
    """Feedback for one identified return (``None`` when nothing needs saying).

    ``form_plan`` is the plan version the form was made from (``None`` if unknown); a fresh
    form from the current ``plan`` is sent when the returned layout cannot be reused.
    """
    if not check.findings or check.unit_code is None or check.period is None:
        return None
    unit = plan.unit(check.unit_code)
    if unit is None:
        return None
    period = Period.parse(check.period)
    fresh = any(f.code in _FRESH and f.is_error for f in check.findings) or form_plan is None
    use_plan = plan if fresh else form_plan
    assert use_plan is not None
    use_unit = use_plan.unit(unit.code) or unit
    layout = build_layout(use_plan, use_unit, period, None if fresh else check.ledger_rows_meta)
    stamp = (now or datetime.now()).isoformat(timespec="seconds")
    errors = sum(1 for f in check.findings if f.is_error)
    warnings = len(check.findings) - errors
    verdict = (
        "已接收，以下提示请在下期注意或核实"
        if accepted
        else f"退回修改：有 {errors} 处错误须修改后重新报送"
    )
    summary = [
        f"收到文件：{source}　收到时间：{received_at:%Y-%m-%d %H:%M}",
        f"审核结果：{verdict}（错误 {errors} 处，提示 {warnings} 处）",
        (
            "本文件后面的各工作表是按你单位报送内容生成的表单，问题单元格已标红并加了批注，"
            "修改后保存、直接发回即可。"
            if not fresh
            else "原文件结构已改动或无法使用，后面附上新的空白表单，请重新填写后发回。"
        ),
    ]
    marks = {}
    if not fresh:
        for f in check.findings:
            if f.sheet and f.cell:
                key_ = (f.sheet, f.cell)
                prev = marks.get(key_)
                if prev is None or (prev[0] != "error" and f.is_error):
                    marks[key_] = (str(f.severity), f.message)
                elif prev[0] == str(f.severity):
                    marks[key_] = (prev[0], prev[1] + "；" + f.message)
    notes = Annotations(
        values={} if fresh else dict(check.inputs),
        marks=marks,
        issues=issue_rows(check.findings),
        summary=summary,
    )
    data = _render(use_plan, layout, key, stamp, notes)
    name = feedback_filename(unit.code, unit.name, accepted)
    return Feedback(
        name, data, chat_text(unit.name, period, source, check.findings, accepted, name)
    )


# A template costs about four direct renders (two to make it, one to check it): it is made at a
# shape's third copy in a process. Kept for the most recent shapes only.
TEMPLATE_AFTER = 3
_MAX_SHAPES = 32


@dataclass
class _ShapeState:
    plan: Plan  # keeps the plan alive, so its id in the key means this plan
    copies: int = 0
    template: FeedbackTemplate | None = None
    direct_only: bool = False


_SHAPES: OrderedDict[tuple[int, str, Shape, bytes], _ShapeState] = OrderedDict()


def _render(plan: Plan, layout: FormLayout, key: bytes, stamp: str, notes: Annotations) -> bytes:
    """The feedback copy: from the shape's template where there is one, else XlsxWriter."""
    shape = shape_of(layout, EMPTY_PREFILL)
    slot = (id(plan), str(layout.period), shape, key)
    state = _SHAPES.get(slot)
    if state is None:
        state = _SHAPES[slot] = _ShapeState(plan)
        while len(_SHAPES) > _MAX_SHAPES:
            _SHAPES.popitem(last=False)
    _SHAPES.move_to_end(slot)
    state.copies += 1
    if state.template is not None:
        fast = state.template.render_feedback(layout.unit, notes)
        if fast is not None:
            return fast
    direct = render_form(layout, make_meta(layout, key, stamp), annotations=notes)
    if state.template is None and not state.direct_only and state.copies >= TEMPLATE_AFTER:
        try:
            template = FeedbackTemplate.build_feedback(plan, layout.period, shape, key, stamp)
        except TemplateUnsupported:
            state.direct_only = True
        else:
            fast = template.render_feedback(layout.unit, notes)
            if fast is not None and _same(fast, direct):
                state.template = template
            else:  # not the bytes XlsxWriter writes: this shape's copies stay direct
                state.direct_only = True
    return direct


def _same(fast: bytes, direct: bytes) -> bool:
    try:
        return same_form(fast, direct)
    except Exception:  # not even a zip: a template bug, and this shape stays direct
        return False


def chat_text(
    unit_name: str,
    period: Period,
    source: str,
    findings: tuple[Finding, ...],
    accepted: bool,
    attachment: str,
) -> str:
    """A few lines to paste into a group chat or SMS."""
    errors = [f for f in findings if f.is_error]
    shown = errors if errors else list(findings)
    head = "【退回修改】" if not accepted else "【审核提示】"
    lines = [
        f"{head}{unit_name}：你单位{period.label}报送的《{source}》"
        + (f"有 {len(errors)} 处需修改：" if not accepted else "已接收，请注意：")
    ]
    for n, f in enumerate(shown[:MAX_CHAT_ITEMS], start=1):
        where = " ".join(p for p in (f.sheet, f.cell) if p)
        lines.append(f"{n}. {where + '，' if where else ''}{f.message}")
    if len(shown) > MAX_CHAT_ITEMS:
        lines.append(f"……共 {len(shown)} 处，详见附件。")
    if not accepted:
        lines.append(f"请按附件《{attachment}》逐项修改后重新报送。")
    return "\n".join(lines)


def unidentified_text(source: str, findings: tuple[Finding, ...]) -> str:
    reasons = "；".join(f.message for f in findings if f.is_error) or "无法识别"
    return f"【无法识别】文件《{source}》：{reasons}"
