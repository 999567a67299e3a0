"""Check a returned inspector sheet (督导考评表): identity, structure, scores, inspectors.

Called from :func:`reporting.intake.validate.check_workbook` for every workbook whose metadata
says ``kind = inspection`` (or that looks like an inspector sheet without metadata). Pure: no
disk, no store; every problem is a :class:`~reporting.findings.Finding`:

* ``metadata-tampered`` — the snapshot is missing, does not match the signed fingerprint, or
  the signature is wrong; ``metadata-missing`` (as an error) — an inspector sheet without its
  metadata (copied into a new file);
* ``unknown-unit`` / ``wrong-period`` / ``plan-changed`` — a sheet for a unit not on the
  roster, for another period than the one being collected, or from an unknown plan version
  (a changed rubric makes an older sheet unusable; unchanged on-site items only warn);
* ``structure-changed`` — a locked cell (item, points, unit facts) differs from the snapshot;
* ``required-missing`` (an on-site item not scored), ``type-error``, ``score-out-of-range``
  (outside 0..分值), ``reason-missing`` (points deducted without a reason),
  ``inspector-missing`` (no inspector names or no date), ``date-out-of-window``, ``too-long``;
  ``empty-return`` when nothing at all was filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reporting.errors import UsageError
from reporting.findings import Finding, Severity, has_errors, make
from reporting.forms.layout import INSTRUCTIONS, META, FormMeta, verify
from reporting.inspection.sheet import (
    COMMENT_LIMIT,
    FORM_KIND_INSPECTION,
    MAIN,
    NAMES_LIMIT,
    REASON_LIMIT,
    SHEETS,
    InspectionSheet,
    locked_cells,
    snapshot_text,
)
from reporting.intake.reader import RawBook
from reporting.intake.validate import Extracted, FormCheck, IntakeContext
from reporting.intake.values import clean_text, fmt_number, is_blank, to_date, to_number
from reporting.periods import Period
from reporting.plan.model import Method, Plan
from reporting.store import InspectionRecord, InspectionScore

MAX_LISTED = 5
# Findings after which the returned cells cannot be trusted: feedback is a fresh sheet.
FRESH = frozenset({"structure-changed", "metadata-tampered", "plan-changed"})


@dataclass(frozen=True)
class InspectionReturn:
    """What intake learned from an inspector sheet: the snapshot it was made from (to rebuild
    its feedback copy) and the scores read, ``None`` when the cells could not be read."""

    sheet: InspectionSheet
    record: InspectionRecord | None


class _Out:
    def __init__(self, prior: tuple[Finding, ...]) -> None:
        self.findings: list[Finding] = list(prior)

    def add(self, code: str, message: str, **where: Any) -> None:
        self.findings.append(make(code, message, **where))

    @property
    def failed(self) -> bool:
        return has_errors(self.findings)


def check_if_inspection(
    book: RawBook, meta: FormMeta | None, ctx: IntakeContext, prior: tuple[Finding, ...]
) -> FormCheck | None:
    """The check of ``book`` if it is an inspector sheet, else ``None`` (a unit form)."""
    if meta is not None and meta.kind == FORM_KIND_INSPECTION:
        return check_inspection(book, meta, ctx, prior)
    if meta is None and MAIN in book.sheets and INSTRUCTIONS not in book.sheets:
        out = _Out(prior)
        out.add(
            "metadata-missing",
            "这是督导考评表，但缺少表单识别信息（可能把内容复制到了新文件），无法确认是哪个单位、"
            "哪一期的考评表。请在下发的原表中填写后交回",
            severity=Severity.ERROR,
        )
        return FormCheck(FORM_KIND_INSPECTION, None, None, None, None, tuple(out.findings))
    return None


def check_inspection(
    book: RawBook, meta: FormMeta, ctx: IntakeContext, prior: tuple[Finding, ...] = ()
) -> FormCheck:
    out = _Out(prior)
    code, period_text, version = meta.unit_code, meta.period, meta.plan_version

    def done(
        inspection: InspectionReturn | None = None, inputs: dict[tuple[str, str], Any] | None = None
    ) -> FormCheck:
        return FormCheck(
            FORM_KIND_INSPECTION,
            code,
            Period.canonical(period_text),
            version,
            "metadata",
            tuple(out.findings),
            Extracted(),
            {},
            inputs or {},
            inspection,
        )

    sheet = _snapshot(book)
    if (
        sheet is None
        or sheet.fingerprint != meta.fingerprint
        or (sheet.unit_code, sheet.period, sheet.plan_version) != (code, period_text, version)
    ):
        out.add(
            "metadata-tampered",
            "督导考评表的识别信息不完整或与表格内容不对应（可能被改动过）。"
            "请在下发的原表中填写后交回",
            sheet=META,
        )
        return done()
    if ctx.key is not None and not verify(ctx.key, meta):
        out.add(
            "metadata-tampered",
            "督导考评表识别信息的签名不符，识别信息被改动过。请在下发的原表中填写后交回",
            sheet=META,
        )
        return done()
    plan = ctx.plans.get(version)
    if plan is None:
        out.add(
            "plan-changed",
            "考评表所依据的方案版本在本工作区没有记录（可能是其他工作区生成的），无法核对。"
            "请使用本工作区生成的督导考评表",
            sheet=META,
        )
        return done()
    if ctx.current.unit(code) is None:
        out.add(
            "unknown-unit",
            f"考评表的单位编码“{code}”不在本次活动的单位名单中。请核对是否用错了考评表",
        )
        return done()
    try:
        period = Period.parse(period_text)
    except UsageError:
        out.add("wrong-period", f"考评表的考评期“{period_text}”无法识别，请使用下发的考评表")
        return done()
    if ctx.period is not None and period != ctx.period:
        out.add(
            "wrong-period",
            f"这是 {period.label} 的督导考评表，本次收集的是 {ctx.period.label}。"
            f"请交回 {ctx.period.label} 的考评表，或按 {period.label} 收集",
        )
        return done()
    if period not in plan.periods():
        out.add("wrong-period", f"考评期 {period} 不在活动期内")
        return done()

    _check_structure(book, sheet, out)
    if not out.failed and plan.version != ctx.current.version:
        _check_plan(sheet, ctx.current, out)
    if out.failed:
        return done(InspectionReturn(sheet, None))
    record = _read_inputs(book, sheet, out)
    inputs = _inputs(book, sheet) if out.findings else {}
    return done(InspectionReturn(sheet, record), inputs)


def _snapshot(book: RawBook) -> InspectionSheet | None:
    meta_sheet = book.sheets.get(META)
    if meta_sheet is None:
        return None
    text = snapshot_text(meta_sheet.rows)
    if text is None:
        return None
    try:
        return InspectionSheet.from_json(text)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _check_structure(book: RawBook, sheet: InspectionSheet, out: _Out) -> None:
    missing = [name for name in SHEETS if name not in book.sheets]
    for name in missing:
        present = "、".join(n for n in book.sheets if n != META) or "无"
        out.add(
            "structure-changed",
            f"缺少工作表“{name}”（现有：{present}）。工作表不能删除或改名，请在下发的原表中填写",
            sheet=name,
        )
    if missing:
        return
    diffs: dict[str, list[tuple[str, str]]] = {}
    for cell in locked_cells(sheet):
        actual = book.sheets[cell.sheet].cell(cell.ref)
        if isinstance(cell.value, str):
            same = clean_text(actual) == cell.value.strip()
            expected = cell.value
        else:
            number = to_number(actual)
            same = number is not None and abs(number - cell.value) < 1e-6
            expected = fmt_number(cell.value)
        if not same:
            shown = clean_text(actual) or "（空）"
            diffs.setdefault(cell.sheet, []).append(
                (
                    cell.ref,
                    f"{cell.ref} 应为“{_short(expected) or '（空）'}”，现为“{_short(shown)}”",
                )
            )
    for name, items in diffs.items():
        listed = "；".join(text for _, text in items[:MAX_LISTED])
        more = f" 等 {len(items)} 处" if len(items) > MAX_LISTED else ""
        out.add(
            "structure-changed",
            f"表格结构或锁定内容被改动：{listed}{more}。请在下发的原表中重新填写",
            sheet=name,
            cell=items[0][0],
        )


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_plan(sheet: InspectionSheet, current: Plan, out: _Out) -> None:
    now = [(i.code, i.points) for i in current.rubric if i.method is Method.ONSITE]
    then = [(r.code, r.points) for r in sheet.onsite]
    if now == then:
        out.add(
            "plan-changed",
            "考评表是按调整前的方案生成的，现场评分项目没有变化，已照常接收",
            severity=Severity.WARNING,
        )
    else:
        out.add(
            "plan-changed",
            "考评表生成后考评细则的现场评分项目已调整，本表不能再使用。"
            "请使用新生成的督导考评表重新评分",
        )


def _read_inputs(book: RawBook, sheet: InspectionSheet, out: _Out) -> InspectionRecord:
    main = book.sheets[MAIN]
    refs = set(sheet.input_refs())
    skip: set[str] = set()
    for name, ref in book.formula_cells_without_value:
        if name == MAIN and ref in refs:
            skip.add(ref)
            out.add(
                "formula-uncalculated",
                "单元格里是公式但没有计算结果，请直接填写数值",
                sheet=MAIN,
                cell=ref,
            )
    for name, ref, err in book.error_cells:
        if name == MAIN and ref in refs:
            skip.add(ref)
            out.add("type-error", f"单元格显示错误值 {err}，请直接填写数值", sheet=MAIN, cell=ref)

    def raw(ref: str) -> Any:
        return None if ref in skip else main.cell(ref)

    touched = bool(skip)
    scores: list[InspectionScore] = []
    for row in sheet.onsite:
        sref, rref = sheet.score_ref(row.code), sheet.reason_ref(row.code)
        where = {"sheet": MAIN, "label": f"{row.code} {row.item}"}
        value, reason_raw = raw(sref), raw(rref)
        reason = clean_text(reason_raw) or None
        points = None
        full = fmt_number(row.points)
        if is_blank(value):
            if sref not in skip:
                out.add(
                    "required-missing",
                    f"“{row.item}”还没有评分，请填写 0–{full} 分",
                    cell=sref,
                    **where,
                )
        else:
            touched = True
            number = to_number(value)
            if number is None:
                out.add(
                    "type-error",
                    f"“{row.item}”的得分应填数字，现为“{clean_text(value)}”",
                    cell=sref,
                    **where,
                )
            elif not 0 <= number <= row.points:
                out.add(
                    "score-out-of-range",
                    f"“{row.item}”得分 {fmt_number(number)} 超出范围，本项满分 {full} 分，"
                    f"应填 0–{full}",
                    cell=sref,
                    **where,
                )
            else:
                points = number
        if reason:
            touched = True
            if len(reason) > REASON_LIMIT:
                out.add(
                    "too-long",
                    f"扣分理由有 {len(reason)} 字，超过 {REASON_LIMIT} 字，请精简",
                    cell=rref,
                    **where,
                )
        if points is not None and points < row.points - 1e-9 and not reason:
            out.add(
                "reason-missing",
                f"“{row.item}”扣了 {fmt_number(round(row.points - points, 2))} 分，"
                "须在此写明扣分理由（发现的具体问题）",
                cell=rref,
                **where,
            )
        scores.append(InspectionScore(row.code, points, row.points, reason))

    names = clean_text(raw(sheet.names_ref)) or None
    if names is None:
        out.add("inspector-missing", "请填写督导组成员姓名", sheet=MAIN, cell=sheet.names_ref)
    else:
        touched = True
        if len(names) > NAMES_LIMIT:
            out.add(
                "too-long",
                f"督导组成员有 {len(names)} 字，超过 {NAMES_LIMIT} 字",
                sheet=MAIN,
                cell=sheet.names_ref,
            )
    day = None
    raw_day = raw(sheet.date_ref)
    if is_blank(raw_day):
        if sheet.date_ref not in skip:
            out.add("inspector-missing", "请填写督导日期", sheet=MAIN, cell=sheet.date_ref)
    else:
        touched = True
        day = to_date(raw_day)
        lo, hi = sheet.date_window
        if day is None:
            out.add(
                "type-error",
                f"督导日期“{clean_text(raw_day)}”不是日期，请写成 {lo:%Y-%m-%d} 这样的日期",
                sheet=MAIN,
                cell=sheet.date_ref,
            )
        elif not lo <= day <= hi:
            out.add(
                "date-out-of-window",
                f"督导日期 {day} 不在 {lo} 至 {hi} 之间",
                sheet=MAIN,
                cell=sheet.date_ref,
            )
            day = None
    comment = clean_text(raw(sheet.comment_ref)) or None
    if comment:
        touched = True
        if len(comment) > COMMENT_LIMIT:
            out.add(
                "too-long",
                f"总体评价有 {len(comment)} 字，超过 {COMMENT_LIMIT} 字，请精简",
                sheet=MAIN,
                cell=sheet.comment_ref,
            )
    if not touched:
        out.findings = [
            f for f in out.findings if f.code not in ("required-missing", "inspector-missing")
        ]
        out.add(
            "empty-return", "督导考评表没有填写任何评分。请填写现场评分、督导组成员和日期后交回"
        )
    return InspectionRecord(names, day, comment, tuple(scores))


def _inputs(book: RawBook, sheet: InspectionSheet) -> dict[tuple[str, str], Any]:
    main = book.sheets[MAIN]
    found: dict[tuple[str, str], Any] = {}
    for ref in sheet.input_refs():
        value = main.cell(ref)
        if not is_blank(value):
            found[(MAIN, ref)] = value
    return found
