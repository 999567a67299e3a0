"""Totals, grades and rankings of a month.

* **Total**: the sum of the unit's item points (each rounded to 2 decimals); grade from the
  plan's 等级划分 (:meth:`~reporting.plan.model.Settings.grade`).
* **Competition ranking** (1, 2, 2, 4): a unit's rank is 1 + the number of units with a
  strictly higher total — overall, within its category and within its region. Equal totals
  always share a rank.
* **Display order** of units with equal totals (it never changes a rank): automatic-item
  points, higher first (what the data shows outweighs what was scored on site), then the order
  of the plan's unit roster.
* **Pending units** (待评: an on-site item without an accepted inspector sheet) are not ranked
  and get no grade — their total is incomplete, and ranking it against complete totals would
  be unfair either way. They are listed after the ranked units, by the points known so far,
  flagged ``pending`` with the items still to score.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from typing import Any

from reporting.collate.facts import Month
from reporting.periods import Period
from reporting.plan.model import Plan, Unit
from reporting.scoring.items import ItemScore, OnSite, score_unit_items

PENDING_LABEL = "待评"


@dataclass(frozen=True)
class UnitScore:
    unit: Unit
    state: str  # the unit's reporting state this period (see reporting.collate.facts)
    items: tuple[ItemScore, ...]
    grade: str | None = None  # None while pending
    rank: int | None = None
    rank_in_category: int | None = None
    rank_in_region: int | None = None
    onsite: OnSite | None = None

    # The sums are asked for a dozen times a unit by the ranking, the workbook and the
    # notice (10,000 units); the fields never change, so each is counted once.
    @cached_property
    def total(self) -> float:
        """Points known so far (all points unless pending)."""
        return round(sum(i.points for i in self.items if i.points is not None), 2)

    @cached_property
    def auto_total(self) -> float:
        return round(sum(i.points for i in self.items if i.auto and i.points is not None), 2)

    @cached_property
    def known_max(self) -> float:
        return round(sum(i.max for i in self.items if i.points is not None), 2)

    @cached_property
    def pending(self) -> bool:
        return any(i.pending for i in self.items)

    @cached_property
    def pending_items(self) -> tuple[ItemScore, ...]:
        return tuple(i for i in self.items if i.pending)

    def item(self, code: str) -> ItemScore | None:
        return next((i for i in self.items if i.code == code), None)

    def as_json(self) -> dict[str, Any]:
        u = self.unit
        return {
            "code": u.code,
            "name": u.name,
            "category": u.category,
            "region": u.region,
            "score": self.total,
            "grade": self.grade,
            "rank": self.rank,
            "rank_in_category": self.rank_in_category,
            "rank_in_region": self.rank_in_region,
            "pending": self.pending,
            "items": [i.as_json() for i in self.items],
        }


@dataclass(frozen=True)
class Ranking:
    plan: Plan
    period: Period
    units: tuple[UnitScore, ...]  # display order: ranked units, then pending ones

    @property
    def ranked(self) -> tuple[UnitScore, ...]:
        return tuple(u for u in self.units if not u.pending)

    @property
    def pending(self) -> tuple[UnitScore, ...]:
        return tuple(u for u in self.units if u.pending)

    def unit(self, code: str) -> UnitScore | None:
        return self._by_code.get(code)

    @cached_property
    def _by_code(self) -> dict[str, UnitScore]:
        return {u.unit.code: u for u in self.units}

    def groups(self, key: Callable[[Unit], str]) -> list[tuple[str, tuple[UnitScore, ...]]]:
        """Units grouped by ``key`` (category or region) in roster order, display order inside."""
        names = list(dict.fromkeys(key(u) for u in self.plan.units))
        return [(n, tuple(u for u in self.units if key(u.unit) == n)) for n in names]

    def as_json(self) -> dict[str, Any]:
        return {"period": str(self.period), "units": [u.as_json() for u in self.units]}


def competition_ranks(totals: Mapping[str, float]) -> dict[str, int]:
    """Rank = 1 + the number of strictly higher totals (1, 2, 2, 4); n log n for a province."""
    first: dict[float, int] = {}
    for i, value in enumerate(sorted(totals.values(), reverse=True)):
        first.setdefault(value, i + 1)
    return {k: first[v] for k, v in totals.items()}


def rank_units(month: Month, onsite: Mapping[str, OnSite], as_of: date | None = None) -> Ranking:
    """Score every unit of ``month`` and rank those with every item scored."""
    plan = month.plan
    order = {u.code: i for i, u in enumerate(plan.units)}
    scores = [
        UnitScore(
            um.unit,
            um.state,
            score_unit_items(month, um, onsite.get(um.unit.code), as_of),
            onsite=onsite.get(um.unit.code),
        )
        for um in month.units
    ]
    ranked = [s for s in scores if not s.pending]
    overall = competition_ranks({s.unit.code: s.total for s in ranked})
    by_category = _ranks_within(ranked, lambda u: u.category)
    by_region = _ranks_within(ranked, lambda u: u.region)
    done = [
        replace(
            s,
            grade=plan.settings.grade(s.total),
            rank=overall[s.unit.code],
            rank_in_category=by_category[s.unit.code],
            rank_in_region=by_region[s.unit.code],
        )
        for s in ranked
    ]

    def display(s: UnitScore) -> tuple[float, float, int]:
        return (-s.total, -s.auto_total, order.get(s.unit.code, len(order)))

    pending = [s for s in scores if s.pending]
    return Ranking(
        plan, month.period, tuple(sorted(done, key=display) + sorted(pending, key=display))
    )


def _ranks_within(scores: list[UnitScore], key: Callable[[Unit], str]) -> dict[str, int]:
    out: dict[str, int] = {}
    groups: dict[str, dict[str, float]] = {}
    for s in scores:
        groups.setdefault(key(s.unit), {})[s.unit.code] = s.total
    for totals in groups.values():
        out.update(competition_ranks(totals))
    return out
