"""What the clerk asks of a month, computed from :class:`~reporting.collate.facts.Month`.

Pure functions returning plain rows; :mod:`reporting.collate.workbook` lays them out.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from reporting.collate.facts import Month, UnitMonth
from reporting.plan.model import Aggregation, Indicator, LedgerRole, Plan
from reporting.rules import Attr, BinOp, Num, Ref

OUTLIER_FACTOR = 3.0  # a value over 3x its region's median, or a 3x month-on-month jump


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class GroupCount:
    """Reporting figures of a region, a category or everyone."""

    name: str
    units: int
    on_time: int
    late: int
    rejected: int
    missing: int

    @property
    def reported(self) -> int:
        return self.on_time + self.late

    @property
    def reporting_rate(self) -> float | None:
        return rate(self.reported, self.units)

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.on_time, self.units)


def count_states(name: str, units: Iterable[UnitMonth]) -> GroupCount:
    units = list(units)
    n = {
        s: sum(1 for u in units if u.state == s) for s in ("on-time", "late", "rejected", "missing")
    }
    return GroupCount(name, len(units), n["on-time"], n["late"], n["rejected"], n["missing"])


def groups(month: Month, key: Callable[[UnitMonth], str]) -> dict[str, list[UnitMonth]]:
    out: dict[str, list[UnitMonth]] = {}
    for u in month.units:
        out.setdefault(key(u), []).append(u)
    return out


def by_region(month: Month) -> list[GroupCount]:
    return [count_states(k, v) for k, v in groups(month, lambda u: u.unit.region).items()]


def by_category(month: Month) -> list[GroupCount]:
    return [count_states(k, v) for k, v in groups(month, lambda u: u.unit.category).items()]


def overall(month: Month) -> GroupCount:
    return count_states("合计", month.units)


# --------------------------------------------------------------------------- activities


@dataclass(frozen=True)
class UnitActivities:
    unit: UnitMonth
    due: int
    done_due: int
    done: int
    overdue: tuple[str, ...]  # names of overdue activities

    @property
    def rate(self) -> float | None:
        """Completion over the activities due by the period's end."""
        return rate(self.done_due, self.due)


def unit_activities(u: UnitMonth) -> UnitActivities:
    due = [a for a in u.activities if a.due]
    return UnitActivities(
        u,
        len(due),
        sum(1 for a in due if a.done),
        sum(1 for a in u.activities if a.done),
        tuple(a.activity.name for a in u.activities if a.overdue),
    )


@dataclass(frozen=True)
class ActivityCoverage:
    code: str
    name: str
    deadline: str
    applicable: int
    done: int
    overdue: int

    @property
    def rate(self) -> float | None:
        return rate(self.done, self.applicable)


def activity_coverage(month: Month) -> list[ActivityCoverage]:
    out = []
    for a in month.plan.activities:
        statuses = [s for u in month.units if (s := u.activity(a.code)) is not None]
        out.append(
            ActivityCoverage(
                a.code,
                a.name,
                a.deadline.isoformat(),
                len(statuses),
                sum(s.done for s in statuses),
                sum(s.overdue for s in statuses),
            )
        )
    return out


def activity_rate_by(
    month: Month, key: Callable[[UnitMonth], str]
) -> list[tuple[str, float | None]]:
    out = []
    for name, units in groups(month, key).items():
        stats = [unit_activities(u) for u in units]
        out.append((name, rate(sum(s.done_due for s in stats), sum(s.due for s in stats))))
    return out


# --------------------------------------------------------------------------- indicators


def number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def aggregate(ind: Indicator, values: list[Any]) -> float | None:
    """The indicator's own aggregation over the units that reported it."""
    present = [v for v in values if v is not None and v != ""]
    if ind.aggregation is Aggregation.COUNT:
        if ind.type.value == "是否":
            return float(sum(1 for v in present if v is True))
        return float(len(present))
    nums = [n for v in present if (n := number(v)) is not None]
    if not nums:
        return None
    if ind.aggregation is Aggregation.SUM:
        return sum(nums)
    if ind.aggregation is Aggregation.MEAN:
        return sum(nums) / len(nums)
    if ind.aggregation is Aggregation.MAX:
        return max(nums)
    return min(nums)


def aggregation_label(ind: Indicator) -> str:
    if ind.aggregation is Aggregation.COUNT and ind.type.value == "是否":
        return "“是”的单位数"
    return {
        Aggregation.SUM: "合计",
        Aggregation.MEAN: "平均",
        Aggregation.MAX: "最大",
        Aggregation.MIN: "最小",
        Aggregation.COUNT: "填报单位数",
    }[ind.aggregation]


def indicator_groups(
    month: Month, key: Callable[[UnitMonth], str]
) -> list[tuple[str, int, list[float | None]]]:
    """(group, reporting units, aggregate per indicator) for regions or categories."""
    out = []
    for name, units in groups(month, key).items():
        reported = [u for u in units if u.reported]
        out.append(
            (
                name,
                len(reported),
                [
                    aggregate(ind, [u.values.get(ind.code) for u in reported])
                    for ind in month.plan.indicators
                ],
            )
        )
    return out


@dataclass(frozen=True)
class PerCapita:
    """An indicator per staff member, and the rubric's target for it when there is one."""

    indicator: Indicator
    target: float | None


def per_capita_indicators(plan: Plan) -> list[PerCapita]:
    """Summed numeric indicators, with targets taken from rubric rules like
    ``指标达标([B02] / 职工人数 >= 1)``."""
    targets: dict[str, float] = {}
    for item in plan.rubric:
        target = item.rule.target if item.rule else None
        if target is None or target.op not in (">=", ">"):
            continue
        left = target.left
        if (
            isinstance(left, BinOp)
            and left.op == "/"
            and isinstance(left.left, Ref)
            and isinstance(left.right, Attr)
        ) and isinstance(target.right, Num):
            targets[left.left.code] = target.right.value
    return [
        PerCapita(ind, targets.get(ind.code))
        for ind in plan.indicators
        if ind.numeric and ind.aggregation is Aggregation.SUM
    ]


@dataclass(frozen=True)
class Outlier:
    unit: UnitMonth
    indicator: Indicator
    value: float
    reason: str


def outliers(month: Month) -> list[Outlier]:
    """Values over 3x their region's median, and 3x jumps from last month.

    Summed indicators (counts of people, essays, events) are compared per staff member, so a
    5,000-strong hospital is not an outlier beside a 60-person bureau of the same city.
    Computed once a month (the summary workbook and the command's report both ask).
    """
    found = month.memo.get("outliers")
    if found is None:
        found = month.memo["outliers"] = _outliers(month)
    return list(found)


def _outliers(month: Month) -> list[Outlier]:
    out: list[Outlier] = []
    for ind in month.plan.indicators:
        if not ind.numeric:
            continue
        per_head = ind.aggregation is Aggregation.SUM

        def scaled(u: UnitMonth, value: float, per_head: bool = per_head) -> float:
            return value / u.unit.headcount if per_head else value

        for units in groups(month, lambda u: u.unit.region).values():
            vals = [
                scaled(u, n)
                for u in units
                if u.reported and (n := number(u.values.get(ind.code))) is not None
            ]
            median = statistics.median(vals) if len(vals) >= 3 else None
            for u in units:
                v = number(u.values.get(ind.code))
                if v is None:
                    continue
                x = scaled(u, v)
                if median and median > 0 and x > OUTLIER_FACTOR * median:
                    what = "人均值" if per_head else "数值"
                    out.append(Outlier(u, ind, v, f"{what}为本地区中位数的 {x / median:.1f} 倍"))
                prev = number(u.previous_values.get(ind.code))
                if prev and prev > 0 and v > OUTLIER_FACTOR * prev:
                    out.append(Outlier(u, ind, v, f"比上月 {prev:g} 增长到 {v / prev:.1f} 倍"))
    return out


# --------------------------------------------------------------------------- ledgers


@dataclass(frozen=True)
class UnitLedger:
    unit: UnitMonth
    ledger: str
    total: int
    done: int
    overdue: int

    @property
    def open(self) -> int:
        return self.total - self.done

    @property
    def rate(self) -> float | None:
        return rate(self.done, self.total)


def ledgers_with_status(plan: Plan) -> list[str]:
    return [lg.name for lg in plan.ledgers if lg.column(LedgerRole.STATUS)]


def unit_ledgers(month: Month) -> list[UnitLedger]:
    out = []
    for name in ledgers_with_status(month.plan):
        for u in month.units:
            items = [i for i in u.ledger_items if i.ledger == name]
            out.append(
                UnitLedger(
                    u, name, len(items), sum(i.done for i in items), sum(i.overdue for i in items)
                )
            )
    return out


def nominations(month: Month) -> list[tuple[UnitMonth, str, dict[str, Any]]]:
    """Items of ledgers without a status column (e.g. 典型推荐), unit by unit."""
    names = {lg.name for lg in month.plan.ledgers if not lg.column(LedgerRole.STATUS)}
    return [(u, i.ledger, i.data) for u in month.units for i in u.ledger_items if i.ledger in names]
