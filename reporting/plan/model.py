"""The plan's immutable domain objects, shared by every later stage."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from enum import StrEnum
from functools import cached_property

from reporting.periods import Period, months_between
from reporting.rules import Comparison, RubricRule


class ValueType(StrEnum):
    """Type of an indicator or a ledger column; the value is the Chinese word in the plan."""

    INTEGER = "整数"
    DECIMAL = "小数"
    TEXT = "文本"
    DATE = "日期"
    YESNO = "是否"
    CHOICE = "选项"  # ledgers only: one of the column's 选项


class Aggregation(StrEnum):
    SUM = "求和"
    MEAN = "平均"
    MAX = "最大"
    MIN = "最小"
    COUNT = "计数"


class Method(StrEnum):
    AUTO = "自动"
    ONSITE = "现场"


class LedgerRole(StrEnum):
    """What a ledger column means to collation and scoring."""

    STATUS = "状态"  # the item's state; the option named in 完成值 means "done"
    DEADLINE = "时限"  # the item's deadline; past it and not done means overdue
    DONE_DATE = "完成日期"


@dataclass(frozen=True)
class GradeBand:
    """``优秀>=90``: score ``op`` threshold earns ``name``. Bands are tried in order."""

    name: str
    op: str
    threshold: float

    def matches(self, score: float) -> bool:
        return {
            ">=": score >= self.threshold,
            ">": score > self.threshold,
            "<": score < self.threshold,
            "<=": score <= self.threshold,
        }[self.op]


@dataclass(frozen=True)
class Settings:
    name: str
    issuer: str
    doc_number: str
    year: int
    cycle_months: int
    deadline_day: int
    contact: str
    phone: str
    grade_bands: tuple[GradeBand, ...]
    password: str | None = None  # sheet-protection password for forms; None means no password

    def grade(self, score: float) -> str:
        for band in self.grade_bands:
            if band.matches(score):
                return band.name
        return self.grade_bands[-1].name if self.grade_bands else ""


@dataclass(frozen=True)
class Phase:
    code: str
    name: str
    start: date
    end: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    category: str
    region: str
    headcount: int
    contact: str
    phone: str

    def attributes(self) -> dict[str, float | None]:
        """Values a rule may name (see ``reporting.rules.UNIT_ATTRIBUTES``)."""
        return {"职工人数": float(self.headcount)}


@dataclass(frozen=True)
class Activity:
    """A required activity (规定动作)."""

    code: str
    name: str
    phase: str
    categories: tuple[str, ...]  # empty: every category
    min_count: int
    deadline: date
    evidence: str
    points: float

    def applies_to(self, category: str) -> bool:
        return not self.categories or category in self.categories


@dataclass(frozen=True)
class Indicator:
    """A reported indicator (月报指标)."""

    code: str
    name: str
    measure: str  # 计量单位
    type: ValueType
    minimum: float | None
    maximum: float | None
    required: bool
    aggregation: Aggregation
    rule_text: str
    rules: tuple[Comparison, ...] = field(default=(), compare=False)

    @property
    def numeric(self) -> bool:
        return self.type in (ValueType.INTEGER, ValueType.DECIMAL)


@dataclass(frozen=True)
class LedgerColumn:
    name: str
    type: ValueType
    required: bool
    options: tuple[str, ...]
    max_length: int | None
    role: LedgerRole | None = None
    done_value: str | None = None


@dataclass(frozen=True)
class Ledger:
    """A list sheet units fill row by row (整改台账, 典型推荐)."""

    name: str
    columns: tuple[LedgerColumn, ...]

    def column(self, role: LedgerRole) -> LedgerColumn | None:
        return self._by_role.get(role)

    @cached_property
    def _by_role(self) -> dict[LedgerRole, LedgerColumn]:
        # asked for every ledger row of every unit when a month is collated
        out: dict[LedgerRole, LedgerColumn] = {}
        for c in self.columns:
            if c.role is not None:
                out.setdefault(c.role, c)
        return out


@dataclass(frozen=True)
class RubricItem:
    """An item of the scoring rubric (考评细则)."""

    code: str
    item: str
    content: str
    points: float
    method: Method
    rule_text: str
    rule: RubricRule | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Plan:
    settings: Settings
    phases: tuple[Phase, ...]
    units: tuple[Unit, ...]
    activities: tuple[Activity, ...]
    indicators: tuple[Indicator, ...]
    ledgers: tuple[Ledger, ...]
    rubric: tuple[RubricItem, ...]

    # ---- identity
    @cached_property
    def version(self) -> str:
        """Content hash of the plan: the same plan re-saved by Excel keeps its version."""
        return _digest(self)[:16]

    @property
    def plan_id(self) -> str:
        """Stable id of the campaign across edits of its details."""
        key = f"{self.settings.issuer}|{self.settings.name}|{self.settings.year}"
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    # ---- lookups
    def unit(self, code: str) -> Unit | None:
        return self._units_by_code.get(code)

    def unit_by_name(self, name: str) -> Unit | None:
        return next((u for u in self.units if u.name == name), None)

    @cached_property
    def _units_by_code(self) -> dict[str, Unit]:
        # a provincial roster has 10,000 units; intake looks one up per returned file
        return {u.code: u for u in self.units}

    def phase(self, code: str) -> Phase | None:
        return next((p for p in self.phases if p.code == code), None)

    def indicator(self, code: str) -> Indicator | None:
        return next((i for i in self.indicators if i.code == code), None)

    def ledger(self, name: str) -> Ledger | None:
        return self._ledgers_by_name.get(name)

    @cached_property
    def _ledgers_by_name(self) -> dict[str, Ledger]:
        out: dict[str, Ledger] = {}
        for sheet in self.ledgers:
            out.setdefault(sheet.name, sheet)
        return out

    def deadline(self, period: Period) -> date:
        found = self._deadlines.get(period)
        if found is None:
            found = self._deadlines[period] = period.deadline(self.settings.deadline_day)
        return found

    @cached_property
    def _deadlines(self) -> dict[Period, date]:
        return {}  # filled as asked: collation asks once per unit and period

    def activities_for(self, unit: Unit) -> tuple[Activity, ...]:
        found = self._activities_by_category.get(unit.category)
        if found is None:
            found = tuple(a for a in self.activities if a.applies_to(unit.category))
            self._activities_by_category[unit.category] = found
        return found

    @cached_property
    def _activities_by_category(self) -> dict[str, tuple[Activity, ...]]:
        return {}  # filled as asked: collation asks once per unit and period

    @cached_property
    def memo(self) -> dict[object, object]:
        """Answers derived from the plan alone that other modules ask for once per unit (e.g.
        a rule's wording): computed once, kept here."""
        return {}

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(u.category for u in self.units))

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(u.region for u in self.units))

    # ---- calendar
    def periods(self) -> list[Period]:
        """Every reporting period of the campaign, from the first phase to the last."""
        if not self.phases:
            return []
        start = min(p.start for p in self.phases)
        end = max(p.end for p in self.phases)
        return months_between(start, end)


def _plain(obj: object) -> object:
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


_FLAT = (str, int, float, bool, type(None))
_UNIT_FIELDS = tuple(f.name for f in fields(Unit))


def _unit_record(unit: Unit) -> dict[str, object]:
    """``asdict(unit)`` as :func:`_plain` leaves it, without asdict's deep copy (a provincial
    roster has 10,000 units; every command asks for the plan's version)."""
    record = {name: getattr(unit, name) for name in _UNIT_FIELDS}
    if all(isinstance(value, _FLAT) for value in record.values()):
        return record
    return _plain(asdict(unit))  # type: ignore[return-value]


def _digest(plan: Plan) -> str:
    data = {
        f.name: _plain(asdict(getattr(plan, f.name)))
        if f.name == "settings"
        else [_unit_record(u) for u in plan.units]
        if f.name == "units"
        else [_plain(asdict(x)) for x in getattr(plan, f.name)]
        for f in fields(plan)
    }
    # Parsed rules are derived from rule_text; hash the text only.
    for ind in data["indicators"]:
        ind.pop("rules", None)
    for item in data["rubric"]:
        item.pop("rule", None)
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
