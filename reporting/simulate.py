"""Fill forms the way units do — for the demo, the benchmarks and the tests.

Units type into the form in Excel or WPS; here openpyxl plays that part: it opens the generated
form, writes values into the input cells and saves. A file saved by openpyxl is a realistic
return (it keeps the metadata sheet, validations and protection).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reporting.forms.layout import (
    ACTIVITIES,
    ACTIVITY_COLUMNS,
    FORM_OPTIONS,
    INDICATOR_COLUMNS,
    INDICATORS,
    STATUS_DONE,
    col_of,
)
from reporting.periods import Period
from reporting.plan.model import LedgerRole, Plan, Unit, ValueType


@dataclass
class Filling:
    """What a unit types: activity code → field → value; indicator code → value (or note);
    ledger name → rows (column name → value)."""

    activities: dict[str, dict[str, Any]] = field(default_factory=dict)
    indicators: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    ledgers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _cell_value(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time())
    return value


def fill_form(source: Path | bytes, filling: Filling) -> bytes:
    """The form at ``source`` with ``filling`` typed in, as .xlsx bytes."""
    import openpyxl

    data = source.read_bytes() if isinstance(source, Path) else source
    wb = openpyxl.load_workbook(io.BytesIO(data))
    acts = wb[ACTIVITIES]
    rows = {acts.cell(r, 1).value: r for r in range(3, acts.max_row + 1)}
    inputs = [c.key for c in ACTIVITY_COLUMNS if not c.locked]
    status_col = col_of(ACTIVITY_COLUMNS, "status")
    for code, fields in filling.activities.items():
        r = rows[code]
        if acts.cell(r, status_col).value == STATUS_DONE and fields.get("status") != STATUS_DONE:
            continue  # pre-filled as done last month: a unit leaves it as it is
        for key in inputs:  # the unit fills the whole row anew
            acts.cell(r, col_of(ACTIVITY_COLUMNS, key)).value = _cell_value(fields.get(key))
    inds = wb[INDICATORS]
    rows = {inds.cell(r, 1).value: r for r in range(3, inds.max_row + 1)}
    value_col = col_of(INDICATOR_COLUMNS, "value")
    note_col = col_of(INDICATOR_COLUMNS, "note")
    for code, value in filling.indicators.items():
        inds.cell(rows[code], value_col).value = _cell_value(value)
    for code, note in filling.notes.items():
        inds.cell(rows[code], note_col).value = note
    for name, items in filling.ledgers.items():
        ws = wb[name]
        headers = {str(ws.cell(2, c).value).rstrip("*"): c for c in range(1, ws.max_column + 1)}
        r = 3
        while any(ws.cell(r, c).value not in (None, "") for c in headers.values()):
            r += 1  # append after pre-filled rows
        for item in items:
            for column, value in item.items():
                ws.cell(r, headers[column]).value = _cell_value(value)
            r += 1
    buf = io.BytesIO()
    wb.save(buf)
    wb.close()
    return buf.getvalue()


GOOD_PRACTICE = [
    "组织职工到上柏住院部实地参观学习，结合岗位开展“学先进、见行动”大讨论",
    "开设“最美天使”学习专栏，每周推送一篇先进事迹和职工心得",
    "把学习活动与“三好一满意”结合，推出便民服务举措12项",
    "组织青年医务人员宣讲团深入社区、乡镇卫生院巡回宣讲",
    "开展“我身边的好医生”评选，以身边典型带动全院学习",
]
PROBLEMS = [
    "学习形式单一，部分科室参与不够",
    "宣传报道数量偏少",
    "心得体会质量参差不齐",
    "整改措施落实不到位",
    "基层单位学习覆盖面不足",
]


def typical_filling(plan: Plan, unit: Unit, period: Period, rng: random.Random) -> Filling:
    """A plausible, correct return: activities due by the period's end mostly done, figures in
    proportion to headcount, a few rectification items and the odd nomination."""
    filling = Filling()
    end = min(period.last_day, plan.deadline(period))
    start = min(p.start for p in plan.phases)
    for activity in plan.activities_for(unit):
        if activity.deadline <= period.last_day or rng.random() < 0.3:
            if rng.random() < 0.9:
                day = date.fromordinal(
                    rng.randint(
                        start.toordinal(), max(start, min(end, activity.deadline)).toordinal()
                    )
                )
                filling.activities[activity.code] = {
                    "status": STATUS_DONE,
                    "count": activity.min_count + rng.randint(0, 2),
                    "done_date": day,
                    "participants": rng.randint(unit.headcount // 3, unit.headcount),
                    "form": rng.choice(FORM_OPTIONS),
                    "evidence": activity.evidence,
                }
            else:
                filling.activities[activity.code] = {"status": "进行中"}
        else:
            filling.activities[activity.code] = {"status": "未开展"}
    for ind in plan.indicators:
        if not ind.required and rng.random() < 0.3:
            continue
        if ind.type is ValueType.YESNO:
            value: Any = rng.choice(["是", "是", "否"])
        elif ind.type is ValueType.DATE:
            value = date.fromordinal(
                rng.randint(period.first_day.toordinal(), period.last_day.toordinal())
            )
        elif ind.type is ValueType.TEXT:
            value = rng.choice(GOOD_PRACTICE)
        else:
            value = _number_for(ind, unit, rng)
        filling.indicators[ind.code] = value
    _respect_rules(plan, unit, filling)
    for ledger in plan.ledgers:
        status = ledger.column(LedgerRole.STATUS)
        n = rng.randint(0, 3) if status else (1 if rng.random() < 0.3 else 0)
        rows = []
        for i in range(n):
            row: dict[str, Any] = {}
            for column in ledger.columns:
                if column.type is ValueType.CHOICE:
                    row[column.name] = rng.choice(column.options)
                elif column.type is ValueType.DATE:
                    if column.role is LedgerRole.DONE_DATE:
                        continue
                    row[column.name] = date(
                        plan.settings.year, rng.randint(period.month, 12), rng.randint(1, 28)
                    )
                elif column.type in (ValueType.INTEGER, ValueType.DECIMAL):
                    row[column.name] = rng.randint(1, 10)
                elif column.required:
                    pool = PROBLEMS if i < len(PROBLEMS) else GOOD_PRACTICE
                    text = (
                        rng.choice(pool)
                        if "问题" in column.name or "事迹" in column.name
                        else f"{column.name}{i + 1}"
                    )
                    row[column.name] = text[: column.max_length or 500]
            if status and row.get(status.name) == status.done_value:
                done = ledger.column(LedgerRole.DONE_DATE)
                if done:
                    row[done.name] = min(period.last_day, date(plan.settings.year, 12, 31))
            rows.append(row)
        if rows:
            filling.ledgers[ledger.name] = rows
    return filling


def _number_for(ind: Any, unit: Unit, rng: random.Random) -> float | int:
    if ind.measure == "%" or (
        ind.maximum is not None and ind.maximum <= 100 and ind.type is ValueType.DECIMAL
    ):
        low = ind.minimum if ind.minimum is not None else 0
        high = ind.maximum if ind.maximum is not None else 100
        return round(rng.uniform(max(low, high * 0.85), high), 1)
    high = ind.maximum if ind.maximum is not None else unit.headcount
    value = rng.randint(0, max(1, int(min(high, unit.headcount))))
    return value if ind.type is ValueType.INTEGER else float(value)


def _respect_rules(plan: Plan, unit: Unit, filling: Filling) -> None:
    """Nudge numbers until the plan's cross-field rules hold (as a careful unit would)."""
    from reporting.rules import check, evaluate

    attrs = unit.attributes()
    for _ in range(3):
        numbers = {
            k: float(v)
            for k, v in filling.indicators.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        for ind in plan.indicators:
            value = numbers.get(ind.code)
            if value is None:
                continue
            for rule in ind.rules:
                if check(rule, numbers, attrs, value) is False and rule.op in ("<=", "<"):
                    bound = evaluate(rule.right, numbers, attrs, value)
                    if bound is not None:
                        fixed = max(0, int(bound) - (1 if rule.op == "<" else 0))
                        filling.indicators[ind.code] = fixed
                        numbers[ind.code] = float(fixed)
