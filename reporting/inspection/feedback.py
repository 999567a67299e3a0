"""The 退回修改 copy of a returned inspector sheet: the same sheet with the inspectors' entries
written back, each problem cell marked and commented, and a 问题清单 sheet in front. It carries
valid metadata, so the inspectors correct it and hand it straight back."""

from __future__ import annotations

from datetime import datetime

from reporting.forms.writer import Annotations
from reporting.inspection.sheet import MAIN, make_meta
from reporting.inspection.validate import FRESH, InspectionReturn
from reporting.inspection.writer import render_inspection
from reporting.intake.feedback import Feedback, chat_text, issue_rows
from reporting.intake.validate import FormCheck
from reporting.periods import Period
from reporting.plan.model import Plan
from reporting.text import safe_name


def inspection_feedback_filename(unit_code: str, unit_name: str, period: str, ok: bool) -> str:
    suffix = "审核提示" if ok else "退回修改"
    return f"{safe_name(unit_code)}_{safe_name(unit_name)}_督导考评表_{period}_{suffix}.xlsx"


def build_inspection_feedback(
    check: FormCheck,
    plan: Plan,
    key: bytes,
    source: str,
    received_at: datetime,
    now: datetime | None = None,
) -> Feedback | None:
    """Feedback for a returned inspector sheet with findings; ``None`` when nothing needs saying
    or the sheet's own snapshot could not be trusted (then there is nothing to rebuild)."""
    ret = check.inspection
    if not check.findings or not isinstance(ret, InspectionReturn):
        return None
    sheet = ret.sheet
    accepted = check.accepted
    fresh = any(f.code in FRESH and f.is_error for f in check.findings)
    errors = sum(1 for f in check.findings if f.is_error)
    warnings = len(check.findings) - errors
    verdict = (
        "已接收，以下提示请注意核实"
        if accepted
        else f"退回修改：有 {errors} 处错误须修改后重新交回"
    )
    summary = [
        f"收到文件：{source}　收到时间：{received_at:%Y-%m-%d %H:%M}",
        f"审核结果：{verdict}（错误 {errors} 处，提示 {warnings} 处）",
        (
            "后面的“督导考评表”是按交回内容重新生成的，问题单元格已标红并加了批注，"
            "修改后保存、直接交回即可。"
            if not fresh
            else "原表结构已改动或不能再使用，后面附上重新生成的空白考评表，请重新填写后交回。"
        ),
    ]
    marks: dict[tuple[str, str], tuple[str, str]] = {}
    if not fresh:
        for f in check.findings:
            if f.sheet == MAIN and f.cell:
                prev = marks.get((f.sheet, f.cell))
                if prev is None or (prev[0] != "error" and f.is_error):
                    marks[(f.sheet, f.cell)] = (str(f.severity), f.message)
                elif prev[0] == str(f.severity):
                    marks[(f.sheet, f.cell)] = (prev[0], prev[1] + "；" + f.message)
    notes = Annotations(
        values={} if fresh else dict(check.inputs),
        marks=marks,
        issues=issue_rows(check.findings, (MAIN,)),
        summary=summary,
    )
    meta = make_meta(
        sheet, plan.plan_id, key, (now or datetime.now()).isoformat(timespec="seconds")
    )
    data = render_inspection(sheet, meta, plan.settings.password or "", notes)
    period = Period.parse(sheet.period)  # signed with the form key, but a name is made of it
    name = inspection_feedback_filename(sheet.unit_code, sheet.unit_name, str(period), accepted)
    chat = chat_text(f"{sheet.unit_name}督导组", period, source, check.findings, accepted, name)
    return Feedback(name, data, chat)
