"""One rubric item of one unit → points and a Chinese sentence saying why.

Pure functions over a unit's :class:`~reporting.collate.facts.UnitMonth` (and the
:class:`~reporting.collate.facts.Month` for timeliness). The rules, as docs/plan.md states them:

* ``动作完成率`` — points × (分值 of the due activities done ÷ 分值 of the due activities). Only
  activities that apply to the unit's category count; an activity is done once reported 已完成
  with at least 最少次数, due when its deadline is on or before the period's last day. **Nothing
  due yet** (or none of the listed activities applies to the unit): full points, and the
  sentence says so — a unit cannot fall behind on what is not yet required.
* ``按时报送率`` — points × (periods reported on time ÷ periods counted). A period is counted when
  its deadline is on or before ``as_of`` (default: the scored period's own deadline) and the
  bureau collected returns for it (at least one unit sent something); a month no unit reported
  in was not run through the tool and is left out, with a note. Nothing counted: full points.
* ``台账完成率(清单)`` — points × (items whose status is the plan's 完成值 ÷ items). No items:
  full points, said so.
* ``指标达标(比较)`` — reached: full points. Not reached: for ``>=``/``>`` targets, points ×
  actual ÷ target (0 when the actual is negative); for other comparisons 0. An indicator the
  unit has not reported (or no accepted return this period) scores 0, said so.
* On-site items come from the unit's accepted inspector sheet; without one the item is
  **pending** (``points is None``), never a silent 0.

Points are rounded to 2 decimals; totals add the rounded points, so every sheet adds up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from reporting.collate.facts import STATE_LABELS, Month, UnitMonth
from reporting.periods import Period
from reporting.plan.model import Method, Plan, RubricItem
from reporting.rules import compare, evaluate

MAX_LISTED = 3  # names listed in a sentence before "等 N 项"
OP_WORDS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "!=": "≠"}


@dataclass(frozen=True)
class OnSite:
    """A unit's accepted inspector sheet: who inspected, when, each on-site item's score."""

    unit_code: str
    inspectors: str
    inspected_on: date | None
    scores: Mapping[str, tuple[float | None, str | None]] = field(default_factory=dict)
    comment: str | None = None
    source: str = ""  # the returned file's name, for the breakdown


@dataclass(frozen=True)
class ItemScore:
    """The points of one rubric item for one unit; ``points is None`` means pending (待评)."""

    item: RubricItem
    points: float | None
    why: str

    @property
    def code(self) -> str:
        return self.item.code

    @property
    def name(self) -> str:
        """The rubric item's name (项目), e.g. 规定动作."""
        return self.item.item

    @property
    def max(self) -> float:
        return self.item.points

    @property
    def auto(self) -> bool:
        return self.item.method is Method.AUTO

    @property
    def pending(self) -> bool:
        return self.points is None

    @property
    def rule(self) -> str:
        return self.item.rule_text if self.auto else "现场评分"

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "points": self.points, "max": self.max, "why": self.why}


def num(value: float) -> str:
    """A number for a sentence: at most 2 decimals, no trailing zeros."""
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def pct(ratio: float) -> str:
    return f"{num(ratio * 100)}%"


def _points(item: RubricItem, ratio: float) -> float:
    return round(item.points * min(1.0, max(0.0, ratio)), 2)


def _listed(names: list[str]) -> str:
    shown = "、".join(names[:MAX_LISTED])
    return shown + (f" 等 {len(names)} 项" if len(names) > MAX_LISTED else "")


# --------------------------------------------------------------------------- automatic items


def activity_completion(item: RubricItem, um: UnitMonth, period: Period) -> ItemScore:
    rule = item.rule
    assert rule is not None
    statuses = list(um.activities)  # those that apply to the unit's category
    note = ""
    if rule.activities:
        applicable = {s.activity.code for s in statuses}
        left_out = [c for c in rule.activities if c not in applicable]
        statuses = [s for s in statuses if s.activity.code in rule.activities]
        if left_out:
            note = f"（{'、'.join(left_out)} 不适用于{um.unit.category}，不计）"
    if not statuses:
        return ItemScore(
            item, item.points, f"没有适用于本单位类别（{um.unit.category}）的规定动作，得满分"
        )
    due = [s for s in statuses if s.due]
    ahead = sum(1 for s in statuses if s.done and not s.due)
    ahead_note = f"；另有 {ahead} 项未到期已完成" if ahead else ""
    if not due:
        return ItemScore(
            item, item.points, f"截至{period.label}暂无到期动作，得满分{ahead_note}{note}"
        )
    done = [s for s in due if s.done]
    weight = sum(s.activity.points for s in due)
    ratio = sum(s.activity.points for s in done) / weight if weight > 0 else len(done) / len(due)
    why = f"{len(done)}/{len(due)} 项到期动作已完成"
    if len({s.activity.points for s in due}) > 1:
        why += f"（按分值加权 {pct(ratio)}）"
    missing = [
        s.activity.name
        + (f"（{s.count}/{s.activity.min_count} 次）" if 0 < s.count < s.activity.min_count else "")
        for s in due
        if not s.done
    ]
    if missing:
        why += "，未完成：" + _listed(missing)
    return ItemScore(item, _points(item, ratio), why + ahead_note + note)


def counted_periods(month: Month, as_of: date | None = None) -> tuple[list[str], list[str]]:
    """(periods counted for timeliness, periods left out because nobody reported), oldest first.

    Periods up to the scored one whose deadline is on or before ``as_of`` (default: the scored
    period's deadline)."""
    limit = as_of or month.deadline
    key = ("counted_periods", limit)
    if key in month.memo:  # the same for every unit: compute once per month
        return month.memo[key]
    plan = month.plan
    counted: list[str] = []
    skipped: list[str] = []
    for text in sorted(month.history):
        period = Period.parse(text)
        if period > month.period or plan.deadline(period) > limit:
            continue
        states = month.history[text]
        if any(state != "missing" for state in states.values()):
            counted.append(text)
        else:
            skipped.append(text)
    month.memo[key] = (counted, skipped)
    return counted, skipped


def timeliness(item: RubricItem, um: UnitMonth, month: Month, as_of: date | None) -> ItemScore:
    counted, skipped = counted_periods(month, as_of)
    note = ""
    if skipped:
        labels = "、".join(Period.parse(p).label for p in skipped)
        note = f"（{labels}未组织报送，不计）"
    if not counted:
        return ItemScore(item, item.points, f"暂无已到截止日的报送期，得满分{note}")
    states = {p: month.history[p].get(um.unit.code, "missing") for p in counted}
    on_time = [p for p, s in states.items() if s == "on-time"]
    why = f"{len(on_time)}/{len(counted)} 期按时报送"
    others = [
        f"{Period.parse(p).label}{STATE_LABELS[s]}" for p, s in states.items() if p not in on_time
    ]
    if others:
        why += "，" + "、".join(others)
    return ItemScore(item, _points(item, len(on_time) / len(counted)), why + note)


def ledger_completion(item: RubricItem, um: UnitMonth, plan: Plan) -> ItemScore:
    rule = item.rule
    assert rule is not None and rule.ledger is not None
    name = rule.ledger
    items = [i for i in um.ledger_items if i.ledger == name]
    if not items:
        return ItemScore(item, item.points, f"{name}暂无条目，得满分")
    ledger = plan.ledger(name)
    first = ledger.columns[0].name if ledger and ledger.columns else None
    done = [i for i in items if i.done]
    why = f"{name} {len(done)}/{len(items)} 项已完成"
    open_items = [i for i in items if not i.done]
    if open_items:
        names = [
            str(i.data.get(first) or "（未写明）") if first else "（未写明）" for i in open_items
        ]
        why += "，未完成：" + _listed(names)
        overdue = sum(1 for i in open_items if i.overdue)
        if overdue:
            why += f"（其中逾期 {overdue} 项）"
    return ItemScore(item, _points(item, len(done) / len(items)), why)


_CMP = re.compile(r"<=|>=|!=|==|<|>|=")


def _describe(text: str, plan: Plan) -> str:
    """``[B02] / 职工人数`` → ``“撰写心得体会篇数” / 职工人数``."""

    def name(m: re.Match[str]) -> str:
        ind = plan.indicator(m.group(1))
        return f"“{ind.name}”" if ind else m.group(0)

    return re.sub(r"\[([^\]]+)\]", name, text).strip()


def indicator_target(item: RubricItem, um: UnitMonth, plan: Plan) -> ItemScore:
    rule = item.rule
    assert rule is not None and rule.target is not None
    target = rule.target
    numbers = {
        code: float(value)
        for code, value in um.values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    attrs = um.unit.attributes()
    key = ("indicator_target.left", target.text)
    left_text = plan.memo.get(key)
    if left_text is None:  # the same for every unit
        left_text = plan.memo[key] = _describe(_CMP.split(target.text, maxsplit=1)[0], plan)
    refs = sorted(target.references())
    missing = [code for code in refs if code not in numbers]
    if missing:
        if not um.reported:
            reason = f"本期{STATE_LABELS.get(um.state, um.state)}，没有已采用的数据"
        else:
            names = "、".join(f"“{ind.name}”" if (ind := plan.indicator(c)) else c for c in missing)
            reason = f"{names}未填写"
        return ItemScore(item, 0.0, f"{reason}，无法计算 {left_text}，得 0 分")
    left = evaluate(target.left, numbers, attrs)
    right = evaluate(target.right, numbers, attrs)
    inputs = "，".join(
        f"{ind.name if (ind := plan.indicator(c)) else c} {num(numbers[c])}" for c in refs
    )
    for attr in sorted(target.attributes()):
        value = attrs.get(attr)
        inputs += f"，{attr} {num(value) if value is not None else '未知'}"
    if left is None or right is None:
        return ItemScore(item, 0.0, f"{left_text} 无法计算（{inputs}，除数为 0），得 0 分")
    head = f"{left_text} = {num(left)}（{inputs}），目标 {OP_WORDS[target.op]} {num(right)}"
    if compare(target.op, left, right):
        return ItemScore(item, item.points, head + "，已达标")
    if target.op in (">=", ">") and right > 0:
        ratio = max(0.0, left / right)
        return ItemScore(item, _points(item, ratio), head + f"，未达标，按完成 {pct(ratio)} 得分")
    return ItemScore(item, 0.0, head + "，未达标，得 0 分")


# --------------------------------------------------------------------------- on-site items


def onsite_item(item: RubricItem, sheet: OnSite | None) -> ItemScore:
    if sheet is None:
        return ItemScore(item, None, "待评：尚未收到督导组的考评表")
    points, reason = sheet.scores.get(item.code, (None, None))
    if points is None:
        return ItemScore(item, None, "待评：督导考评表中没有本项评分")
    points = round(min(item.points, max(0.0, points)), 2)
    when = f"，{sheet.inspected_on:%Y-%m-%d}" if sheet.inspected_on else ""
    who = f"督导组（{sheet.inspectors}{when}）"
    if points >= item.points:
        return ItemScore(item, points, f"{who}评为满分" + (f"：{reason}" if reason else ""))
    return ItemScore(
        item, points, f"{who}扣 {num(item.points - points)} 分：{reason or '未写明理由'}"
    )


# --------------------------------------------------------------------------- dispatch


def auto_item(item: RubricItem, um: UnitMonth, month: Month, as_of: date | None) -> ItemScore:
    rule = item.rule
    if rule is None:  # an automatic item whose rule did not parse never reaches a valid plan
        return ItemScore(item, 0.0, "规则无法计算，得 0 分")
    if rule.kind == "activity_completion":
        return activity_completion(item, um, month.period)
    if rule.kind == "timeliness":
        return timeliness(item, um, month, as_of)
    if rule.kind == "ledger_completion":
        return ledger_completion(item, um, month.plan)
    return indicator_target(item, um, month.plan)


def score_item(
    item: RubricItem,
    um: UnitMonth,
    month: Month,
    onsite: OnSite | None,
    as_of: date | None = None,
) -> ItemScore:
    if item.method is Method.AUTO:
        return auto_item(item, um, month, as_of)
    return onsite_item(item, onsite)


def score_unit_items(
    month: Month, um: UnitMonth, onsite: OnSite | None, as_of: date | None = None
) -> tuple[ItemScore, ...]:
    """Every rubric item of ``um``'s unit, in the plan's order."""
    return tuple(score_item(item, um, month, onsite, as_of) for item in month.plan.rubric)
