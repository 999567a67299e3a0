"""The facts of a month, read once from the store into plain data.

Everything after this module (status, collation, scoring, reports) is a pure function of a
:class:`Month`, so it can be tested without a disk. Rules, in one place:

* **State of a unit for a period** — ``on-time``: it has an accepted return and the *first*
  accepted return of the period (a later revision keeps the unit on time) arrived by the
  deadline; ``late``: the same, after the deadline; ``rejected``: only rejected returns;
  ``missing``: nothing at all. Superseded and rejected returns never count as data.
* **Activities are cumulative**: an activity is *done* once any current accepted return of a
  period up to this one reports it 已完成 with at least 最少次数; the earliest such date counts.
  It is *overdue* when its deadline is on or before the period's last day and it is not done,
  *not yet due* when the deadline is later.
* **Ledgers are running lists**: a unit's items are the union of its current accepted returns up
  to this period, an item being identified by its first column (e.g. 问题描述); the latest
  return's version of an item wins. An item is *done* when its status column holds the plan's
  完成值, *overdue* when its deadline is on or before the period's last day and it is not done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, cached_property
from typing import Any

from reporting.findings import Finding
from reporting.periods import Period
from reporting.plan.model import Activity, Ledger, LedgerRole, Plan, Unit
from reporting.store import ActivityRow, LedgerRow, Store, SubmissionInfo

STATES = ("on-time", "late", "rejected", "missing")
STATE_LABELS = {
    "on-time": "按时报送",
    "late": "逾期报送",
    "rejected": "退回待改",
    "missing": "未报送",
}


@dataclass(frozen=True)
class ActivityStatus:
    activity: Activity
    done: bool
    count: int  # largest count reported
    done_date: date | None
    participants: int | None
    form: str | None
    evidence: str | None
    overdue: bool
    due: bool  # deadline on or before the period's end

    @property
    def label(self) -> str:
        if self.done:
            return "已完成"
        return "逾期未完成" if self.overdue else "未到期"


@dataclass(frozen=True)
class LedgerItem:
    ledger: str
    data: dict[str, Any]
    done: bool
    overdue: bool
    deadline: date | None
    period: str  # period of the return it was last reported in


@dataclass(frozen=True)
class UnitMonth:
    unit: Unit
    state: str
    submission: SubmissionInfo | None  # the current accepted return (or latest rejected one)
    first_received: datetime | None  # first accepted return of the period
    days_late: int
    values: dict[str, Any]
    activities: tuple[ActivityStatus, ...]
    ledger_items: tuple[LedgerItem, ...]
    problems: tuple[Finding, ...] = ()  # of the latest rejected return, when rejected
    previous_values: dict[str, Any] = field(default_factory=dict)  # last period's, if any

    @property
    def reported(self) -> bool:
        return self.state in ("on-time", "late")

    def activity(self, code: str) -> ActivityStatus | None:
        return next((a for a in self.activities if a.activity.code == code), None)


@dataclass(frozen=True)
class TrendPoint:
    """Key rates of one period, as they stood at that period's end."""

    period: str
    units: int
    reported: int
    on_time: int
    activities_due: int
    activities_done: int
    ledger_items: int
    ledger_done: int

    @property
    def reporting_rate(self) -> float | None:
        return _rate(self.reported, self.units)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.on_time, self.units)

    @property
    def activity_rate(self) -> float | None:
        return _rate(self.activities_done, self.activities_due)

    @property
    def ledger_rate(self) -> float | None:
        return _rate(self.ledger_done, self.ledger_items)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Month:
    plan: Plan
    period: Period
    deadline: date
    units: tuple[UnitMonth, ...]
    history: dict[str, dict[str, str]] = field(default_factory=dict)  # period → unit → state
    trend: tuple[TrendPoint, ...] = ()
    # answers computed once per month for all units (e.g. which periods count for timeliness)
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def unit(self, code: str) -> UnitMonth | None:
        return self._by_code.get(code)

    @cached_property
    def _by_code(self) -> dict[str, UnitMonth]:
        return {u.unit.code: u for u in self.units}


# --------------------------------------------------------------------------- loading


def load_month(store: Store, plan: Plan, period: Period) -> Month:
    """Read the store once and build the month's facts (every period up to ``period``)."""
    here = str(period)
    parsed: dict[str, Period] = {}  # a handful of distinct periods among 10,000s of returns

    def up_to_now(text: str) -> bool:
        found = parsed.get(text)
        if found is None:
            found = parsed[text] = Period.parse(text)
        return found <= period

    subs = [
        s
        for s in store.submissions(kind="unit")
        if s.unit_code and s.period and up_to_now(s.period)
    ]
    periods = [p for p in plan.periods() if p <= period] or [period]
    by_unit_period: dict[tuple[str, str], list[SubmissionInfo]] = {}
    for s in subs:
        by_unit_period.setdefault((s.unit_code, s.period), []).append(s)  # type: ignore[arg-type]

    current: dict[tuple[str, str], SubmissionInfo] = {}
    for key, items in by_unit_period.items():
        accepted = [s for s in items if s.state == "accepted"]
        if accepted:
            current[key] = max(accepted, key=lambda s: (s.received_at, s.id))
    cumulative_ids = [s.id for s in current.values()]
    activities = store.activities_for(cumulative_ids)
    ledgers = store.ledger_rows_for(cumulative_ids)
    this_ids = [s.id for (u, p), s in current.items() if p == here]
    previous = str(period.previous())
    prev_ids = {u: s.id for (u, p), s in current.items() if p == previous}
    values = store.values_for(this_ids + list(prev_ids.values()))
    rejected_latest: dict[str, SubmissionInfo] = {}
    for (unit, p), items in by_unit_period.items():
        if p == here and (unit, p) not in current:
            rejected_latest[unit] = max(items, key=lambda s: (s.received_at, s.id))
    problems = store.findings_for_many([s.id for s in rejected_latest.values()])

    states = {
        u.code: _state(plan, period, by_unit_period.get((u.code, here), [])) for u in plan.units
    }
    history: dict[str, dict[str, str]] = {}
    for p in periods:
        key = str(p)
        history[key] = (
            {code: st[0] for code, st in states.items()}
            if p == period
            else {
                u.code: _state(plan, p, by_unit_period.get((u.code, key), []))[0]
                for u in plan.units
            }
        )

    current_by_unit: dict[str, list[SubmissionInfo]] = {}
    for (code, _), s in sorted(
        current.items(), key=lambda kv: (kv[1].period or "", kv[1].received_at)
    ):
        current_by_unit.setdefault(code, []).append(s)
    units = []
    for unit in plan.units:
        state, first, days_late = states[unit.code]
        own = current_by_unit.get(unit.code, [])
        sub = current.get((unit.code, here)) or rejected_latest.get(unit.code)
        units.append(
            UnitMonth(
                unit=unit,
                state=state,
                submission=sub,
                first_received=first,
                days_late=days_late,
                values=values.get(sub.id, {})
                if sub is not None and sub.state == "accepted"
                else {},
                activities=activity_statuses(
                    plan, unit, period, [a for s in own for a in activities.get(s.id, [])]
                ),
                ledger_items=ledger_items(
                    plan, period, [(s.period or "", r) for s in own for r in ledgers.get(s.id, [])]
                ),
                problems=tuple(problems.get(sub.id, ())) if state == "rejected" and sub else (),
                previous_values=values.get(prev_ids[unit.code], {})
                if unit.code in prev_ids
                else {},
            )
        )
    # the month's own point from the statuses just built; earlier ones as they stood then
    trend = tuple(
        _point(plan, p, history[str(p)], ((u.activities, u.ledger_items) for u in units))
        if p == period
        else _trend_point(plan, p, history[str(p)], current, activities, ledgers)
        for p in periods
    )
    return Month(plan, period, plan.deadline(period), tuple(units), history, trend)


def _trend_point(
    plan: Plan,
    period: Period,
    states: dict[str, str],
    current: dict[tuple[str, str], SubmissionInfo],
    activities: dict[int, list[ActivityRow]],
    ledgers: dict[int, list[LedgerRow]],
) -> TrendPoint:
    """The key rates as they stood at the end of ``period`` (returns of later periods unseen).

    Counts what :func:`activity_statuses` and :func:`ledger_items` would give every unit
    without building them: a month late in a campaign has a point for every earlier period,
    and at 10,000 units each would otherwise build 80,000 statuses."""
    end = period.last_day
    own = sorted(
        (s for (_, p), s in current.items() if Period.parse(p) <= period),
        key=lambda s: (s.period or "", s.received_at),
    )
    by_code = {a.code: a for a in plan.activities}
    done_pairs = set()
    for s in own:
        for r in activities.get(s.id, ()):
            activity = by_code.get(r.activity_code)
            if activity and r.status == "已完成" and (r.count or 0) >= activity.min_count:
                done_pairs.add((s.unit_code, r.activity_code))
    due = done = 0
    for unit in plan.units:
        for activity in plan.activities_for(unit):
            if activity.deadline <= end:
                due += 1
                done += (unit.code, activity.code) in done_pairs
    latest: dict[tuple[str | None, str, str], bool] = {}
    for s in own:
        for row in ledgers.get(s.id, ()):
            ledger = plan.ledger(row.ledger)
            if ledger is None or ledger.column(LedgerRole.STATUS) is None:
                continue
            key = (s.unit_code, ledger.name, _identity(ledger, row.data))
            latest[key] = _done_and_deadline(ledger, row.data)[0]
    return TrendPoint(
        str(period),
        len(plan.units),
        *_reported(states),
        due,
        done,
        len(latest),
        sum(latest.values()),
    )


def _reported(states: dict[str, str]) -> tuple[int, int]:
    """(units that reported, units on time) of one period."""
    reported = sum(1 for st in states.values() if st in ("on-time", "late"))
    return reported, sum(1 for st in states.values() if st == "on-time")


def _point(
    plan: Plan,
    period: Period,
    states: dict[str, str],
    facts: Iterable[tuple[Iterable[ActivityStatus], Iterable[LedgerItem]]],
) -> TrendPoint:
    """Count one period's rates from every unit's (activity statuses, ledger items)."""
    due = done = items = items_done = 0
    with_status = {lg.name for lg in plan.ledgers if lg.column(LedgerRole.STATUS)}
    for statuses, ledger in facts:
        for a in statuses:
            if a.due:
                due += 1
                done += a.done
        for item in ledger:
            if item.ledger in with_status:
                items += 1
                items_done += item.done
    return TrendPoint(
        str(period), len(plan.units), *_reported(states), due, done, items, items_done
    )


def _state(
    plan: Plan, period: Period, items: list[SubmissionInfo]
) -> tuple[str, datetime | None, int]:
    counted = [s for s in items if s.state in ("accepted", "superseded")]
    if counted:
        first = min(counted, key=lambda s: (s.received_at, s.id))
        days = max(0, (first.received_at.date() - plan.deadline(period)).days)
        return ("late" if days > 0 else "on-time"), first.received_at, days
    if items:
        return "rejected", None, 0
    return "missing", None, 0


# --------------------------------------------------------------------------- pure rules


def activity_statuses(
    plan: Plan, unit: Unit, period: Period, records: list[ActivityRow]
) -> tuple[ActivityStatus, ...]:
    """Cumulative status of each activity that applies to ``unit`` at the end of ``period``."""
    out = []
    end = period.last_day
    by_code: dict[str, list[ActivityRow]] = {}
    for r in records:
        by_code.setdefault(r.activity_code, []).append(r)
    for activity in plan.activities_for(unit):
        due = activity.deadline <= end
        mine = by_code.get(activity.code)
        if not mine:
            out.append(_nothing_reported(activity, due))
            continue
        if len(mine) == 1:  # the usual case: one return reports it
            best = mine[0]
            ok = best.status == "已完成" and (best.count or 0) >= activity.min_count
            first_done = best if ok else None
        else:
            done_rows = [
                r for r in mine if r.status == "已完成" and (r.count or 0) >= activity.min_count
            ]
            best = max(mine, key=lambda r: r.count or 0)
            first_done = min(done_rows, key=lambda r: r.done_date or date.max, default=None)
        done = first_done is not None
        shown = first_done or best
        out.append(
            ActivityStatus(
                activity=activity,
                done=done,
                count=best.count or 0,
                done_date=first_done.done_date if first_done else None,
                participants=shown.participants,
                form=shown.form,
                evidence=shown.evidence,
                overdue=due and not done,
                due=due,
            )
        )
    return tuple(out)


@cache
def _nothing_reported(activity: Activity, due: bool) -> ActivityStatus:
    """The status of an activity no return mentions (shared: the dataclass is frozen)."""
    return ActivityStatus(activity, False, 0, None, None, None, None, due, due)


def ledger_items(
    plan: Plan, period: Period, rows: list[tuple[str, LedgerRow]]
) -> tuple[LedgerItem, ...]:
    """Union of a unit's ledger rows over its returns (ordered oldest first); latest wins."""
    end = period.last_day
    items: dict[tuple[str, str], LedgerItem] = {}
    for p, row in rows:
        ledger = plan.ledger(row.ledger)
        if ledger is None:
            continue
        key = (ledger.name, _identity(ledger, row.data))
        done, deadline = _done_and_deadline(ledger, row.data)
        items[key] = LedgerItem(
            ledger.name,
            dict(row.data),
            done,
            deadline is not None and deadline <= end and not done,
            deadline,
            p,
        )
    return tuple(items.values())


def _identity(ledger: Ledger, data: dict[str, Any]) -> str:
    if ledger.column(LedgerRole.STATUS) is None:  # e.g. nominations: the whole row
        return "|".join(str(data.get(c.name) or "") for c in ledger.columns)
    return str(data.get(ledger.columns[0].name) or "")


def _done_and_deadline(ledger: Ledger, data: dict[str, Any]) -> tuple[bool, date | None]:
    status = ledger.column(LedgerRole.STATUS)
    done = status is not None and data.get(status.name) == status.done_value
    deadline_col = ledger.column(LedgerRole.DEADLINE)
    deadline = data.get(deadline_col.name) if deadline_col else None
    return done, deadline if isinstance(deadline, date) else None
