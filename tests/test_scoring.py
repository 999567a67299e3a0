"""Scoring: each rubric rule kind, on-site items, totals, grades and competition ranking.

Pure tests: the plan comes from the example's rows and each month's facts are built by hand
with the same functions ``load_month`` uses, so no store or disk is involved.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from reporting.collate.facts import Month, UnitMonth, activity_statuses, ledger_items
from reporting.periods import Period
from reporting.plan.load import parse_plan
from reporting.plan.model import Plan, RubricItem
from reporting.scoring.items import (
    OnSite,
    activity_completion,
    counted_periods,
    indicator_target,
    ledger_completion,
    onsite_item,
    score_item,
    timeliness,
)
from reporting.scoring.rank import competition_ranks, rank_units
from reporting.store import ActivityRow, LedgerRow
from tests.conftest import PlanSheets

MAY = Period(2014, 5)
SEPT = Period(2014, 9)


def load(sheets: PlanSheets) -> Plan:
    result = parse_plan(sheets)
    assert result.valid, [f.message for f in result.findings]
    return result.plan


@pytest.fixture
def plan(sheets: PlanSheets) -> Plan:
    return load(sheets)


def done(code: str, count: int = 1, day: date = date(2014, 4, 20)) -> ActivityRow:
    return ActivityRow(code, "已完成", count, day, 30, "会议", "会议记录", None)


def unit_month(
    plan: Plan,
    code: str,
    period: Period = MAY,
    *,
    state: str = "on-time",
    values: dict[str, Any] | None = None,
    activities: list[ActivityRow] | None = None,
    ledger: list[dict[str, Any]] | None = None,
) -> UnitMonth:
    unit = plan.unit(code)
    assert unit is not None
    rows = [(str(period), LedgerRow("整改台账", n, data)) for n, data in enumerate(ledger or [])]
    return UnitMonth(
        unit=unit,
        state=state,
        submission=None,
        first_received=None,
        days_late=0,
        values=values or {},
        activities=activity_statuses(plan, unit, period, activities or []),
        ledger_items=ledger_items(plan, period, rows),
    )


def month_of(
    plan: Plan,
    units: list[UnitMonth],
    period: Period = MAY,
    history: dict[str, dict[str, str]] | None = None,
) -> Month:
    if history is None:
        history = {str(period): {u.unit.code: u.state for u in units}}
    return Month(plan, period, plan.deadline(period), tuple(units), history)


def item(plan: Plan, code: str) -> RubricItem:
    return next(i for i in plan.rubric if i.code == code)


# --------------------------------------------------------------------------- 动作完成率


def test_activity_completion_counts_due_applicable_activities(plan: Plan):
    k01 = item(plan, "K01")  # 40 points
    # September: A01–A06 and A08 are due; A05 applies to city bureaus and hospitals only,
    # A08 to city bureaus only, A07 (due 10-31) is not due yet.
    acts = [done(c) for c in ("A01", "A02", "A03", "A04", "A05")]
    city = activity_completion(k01, unit_month(plan, "SX01", SEPT, activities=acts), SEPT)
    assert city.points == round(40 * 5 / 7, 2)  # points are kept to 2 decimals
    assert city.why.startswith("5/7 项到期动作已完成，未完成：")
    assert "开辟一批学习园地" in city.why and "进行一次督促检查" in city.why

    direct = activity_completion(k01, unit_month(plan, "ZS01", SEPT, activities=acts), SEPT)
    # 委直属单位: A05 and A08 do not apply; the A05 it did anyway is not counted
    assert direct.points == pytest.approx(40 * 4 / 5)
    assert direct.why == "4/5 项到期动作已完成，未完成：开辟一批学习园地"


def test_activity_completion_honours_min_count_and_weights(sheets: PlanSheets):
    sheets.set("规定动作", 2, "分值", 3)  # A01 weighs 3
    plan = load(sheets)
    nov = Period(2014, 11)
    acts = [done(c) for c in ("A01", "A02", "A03", "A04", "A06")]
    acts.append(done("A07", count=1))  # A07 needs 2 times: not done
    got = activity_completion(
        item(plan, "K01"), unit_month(plan, "ZS01", nov, activities=acts), nov
    )
    # due for 委直属单位 in November: A01(3) A02 A03 A04 A06 A07 → 8 weight, 7 done
    assert got.points == pytest.approx(40 * 7 / 8)
    assert "5/6 项到期动作已完成（按分值加权 87.5%）" in got.why
    assert "开展“学先进、见行动、争优秀”活动（1/2 次）" in got.why


def test_nothing_due_yet_scores_full_points_and_says_so(sheets: PlanSheets):
    sheets.set("考评细则", 2, "规则", "动作完成率(A07、A08)")
    plan = load(sheets)
    k01 = item(plan, "K01")
    early = unit_month(plan, "SX01", activities=[done("A07", count=2)])
    got = activity_completion(k01, early, MAY)
    assert got.points == 40
    assert got.why == "截至2014年5月暂无到期动作，得满分；另有 1 项未到期已完成"
    # A08 does not apply to 委直属单位: it is left out, A07 is not due yet
    direct = activity_completion(k01, unit_month(plan, "ZS01"), MAY)
    assert direct.points == 40 and "A08 不适用于委直属单位，不计" in direct.why


def test_no_listed_activity_applies_scores_full_points(sheets: PlanSheets):
    sheets.set("考评细则", 2, "规则", "动作完成率(A08)")  # city bureaus only
    plan = load(sheets)
    got = activity_completion(item(plan, "K01"), unit_month(plan, "YL01", SEPT), SEPT)
    assert got.points == 40 and "没有适用于本单位类别（省级医疗卫生单位）的规定动作" in got.why


# --------------------------------------------------------------------------- 按时报送率


def test_timeliness_over_periods_whose_deadline_passed(plan: Plan):
    k02 = item(plan, "K02")  # 10 points
    july = Period(2014, 7)
    history = {
        "2014-04": {"SX01": "missing", "SX02": "missing"},  # nobody reported: not run
        "2014-05": {"SX01": "on-time", "SX02": "late"},
        "2014-06": {"SX01": "late", "SX02": "on-time"},
        "2014-07": {"SX01": "missing", "SX02": "on-time"},
    }
    um = unit_month(plan, "SX01", july, state="missing")
    month = month_of(plan, [um, unit_month(plan, "SX02", july)], july, history)
    # Judged on 2014-07-20: July's deadline (08-05) has not passed, so July is not counted.
    assert counted_periods(month, date(2014, 7, 20)) == (["2014-05", "2014-06"], ["2014-04"])
    got = timeliness(k02, um, month, date(2014, 7, 20))
    assert got.points == 5
    assert got.why == "1/2 期按时报送，2014年6月逾期报送（2014年4月未组织报送，不计）"
    # After July's deadline the missing July return counts too.
    later = timeliness(k02, um, month, date(2014, 8, 6))
    assert later.points == pytest.approx(10 / 3, abs=0.01)
    assert "2014年7月未报送" in later.why
    # Default: as of the scored period's own deadline.
    assert timeliness(k02, um, month, None).points == later.points


def test_timeliness_with_nothing_due_scores_full_points(plan: Plan):
    um = unit_month(plan, "SX01", state="on-time")
    month = month_of(plan, [um])
    got = timeliness(item(plan, "K02"), um, month, date(2014, 5, 31))
    assert got.points == 10 and got.why == "暂无已到截止日的报送期，得满分"


# --------------------------------------------------------------------------- 台账完成率


def rectification(problem: str, status: str, deadline: date) -> dict[str, Any]:
    return {
        "问题描述": problem,
        "整改措施": "落实",
        "整改时限": deadline,
        "责任领导": "甲",
        "责任人": "乙",
        "整改状态": status,
        "完成日期": None,
    }


def test_ledger_completion_share_of_items_done(plan: Plan):
    k03 = item(plan, "K03")  # 15 points
    um = unit_month(
        plan,
        "SX01",
        ledger=[
            rectification("学习不深入", "已完成", date(2014, 5, 20)),
            rectification("宣传偏少", "整改中", date(2014, 5, 10)),  # overdue
            rectification("覆盖面不足", "未启动", date(2014, 9, 30)),
        ],
    )
    got = ledger_completion(k03, um, plan)
    assert got.points == 5
    assert got.why == "整改台账 1/3 项已完成，未完成：宣传偏少、覆盖面不足（其中逾期 1 项）"


def test_ledger_without_items_scores_full_points(plan: Plan):
    got = ledger_completion(item(plan, "K03"), unit_month(plan, "SX01"), plan)
    assert got.points == 15 and got.why == "整改台账暂无条目，得满分"


# --------------------------------------------------------------------------- 指标达标


def test_indicator_target_per_capita_proportional(plan: Plan):
    k04 = item(plan, "K04")  # [B02] / 职工人数 >= 1, 10 points; SX01 has 126 staff
    half = indicator_target(k04, unit_month(plan, "SX01", values={"B02": 63.0}), plan)
    assert half.points == 5
    assert half.why == (
        "“撰写心得体会篇数” / 职工人数 = 0.5（撰写心得体会篇数 63，职工人数 126），"
        "目标 ≥ 1，未达标，按完成 50% 得分"
    )
    full = indicator_target(k04, unit_month(plan, "SX01", values={"B02": 130.0}), plan)
    assert full.points == 10 and full.why.endswith("已达标")


def test_indicator_missing_scores_zero_with_the_reason(plan: Plan):
    k04 = item(plan, "K04")
    blank = indicator_target(k04, unit_month(plan, "SX01", values={"B01": 10.0}), plan)
    assert blank.points == 0 and blank.why.startswith("“撰写心得体会篇数”未填写")
    silent = indicator_target(k04, unit_month(plan, "SX01", state="missing"), plan)
    assert silent.points == 0 and silent.why.startswith("本期未报送，没有已采用的数据")


def test_indicator_other_comparisons_score_zero_when_missed(sheets: PlanSheets):
    sheets.set("考评细则", 5, "规则", "指标达标([B05] <= [B01])")
    plan = load(sheets)
    k04 = item(plan, "K04")
    missed = indicator_target(
        k04, unit_month(plan, "SX01", values={"B01": 10.0, "B05": 20.0}), plan
    )
    assert missed.points == 0 and missed.why.endswith("未达标，得 0 分")
    met = indicator_target(k04, unit_month(plan, "SX01", values={"B01": 10.0, "B05": 5.0}), plan)
    assert met.points == 10


def test_headcount_zero_is_refused_at_plan_load(sheets: PlanSheets):
    sheets.set("单位", 2, "职工人数", 0)  # per-capita rules divide by it
    result = parse_plan(sheets)
    assert not result.valid
    assert any(f.code == "bad-headcount" for f in result.findings)


# --------------------------------------------------------------------------- on-site items


def sheet_for(code: str, **scores: tuple[float, str | None]) -> OnSite:
    return OnSite(code, "陈明、王芳", date(2014, 6, 18), scores)


def test_onsite_without_a_sheet_is_pending_never_zero(plan: Plan):
    k05 = item(plan, "K05")
    assert onsite_item(k05, None).points is None
    assert onsite_item(k05, None).why.startswith("待评")
    deducted = onsite_item(k05, sheet_for("SX01", K05=(8.0, "学习记录不全")))
    assert deducted.points == 8
    assert deducted.why == "督导组（陈明、王芳，2014-06-18）扣 2 分：学习记录不全"
    um = unit_month(plan, "SX01")
    assert score_item(k05, um, month_of(plan, [um]), None).pending


# --------------------------------------------------------------------------- ranking


def test_competition_ranks():
    assert competition_ranks({"a": 90, "b": 80, "c": 80, "d": 70}) == {
        "a": 1,
        "b": 2,
        "c": 2,
        "d": 4,
    }


def full_onsite(code: str, k05: float = 10) -> OnSite:
    return sheet_for(code, K05=(k05, None if k05 == 10 else "扣分"), K06=(10, None), K07=(5, None))


def test_ranking_ties_categories_regions_and_pending(plan: Plan):
    # Every unit: activities 0/3 (0), on time (10), no ledger items (15); K04 and K05 vary.
    units = [
        unit_month(plan, "SX01", values={"B02": 126.0}),  # K04 10
        unit_month(plan, "SX02", values={"B02": 118.0}),  # K04 10
        unit_month(plan, "YL08", values={"B02": 93.0}),  # K04 5 (186 staff)
        unit_month(plan, "ZS01", values={"B02": 148.0}),  # K04 10
        unit_month(plan, "SX03", values={"B02": 104.0}),  # K04 10, no inspector sheet
    ]
    onsite = {
        "SX01": full_onsite("SX01", 10),  # 10+15+10+25 = 60
        "SX02": full_onsite("SX02", 5),  # 55
        "YL08": full_onsite("YL08", 10),  # 55: ties SX02 with fewer automatic points
        "ZS01": full_onsite("ZS01", 2),  # 52
    }
    ranking = rank_units(month_of(plan, units), onsite)
    order = [(s.unit.code, s.total, s.rank) for s in ranking.units]
    assert order == [
        ("SX01", 60, 1),
        ("SX02", 55, 2),  # same total as YL08, more automatic points: shown first
        ("YL08", 55, 2),
        ("ZS01", 52, 4),
        ("SX03", 35, None),  # pending: listed last, not ranked
    ]
    by = {s.unit.code: s for s in ranking.units}
    assert by["SX02"].auto_total > by["YL08"].auto_total
    assert (by["SX01"].rank_in_category, by["SX02"].rank_in_category) == (1, 2)
    assert by["YL08"].rank_in_category == 1 and by["ZS01"].rank_in_category == 1
    # regions: SX01 and ZS01 are in 杭州市; SX02 宁波市; YL08 湖州市
    assert (by["SX01"].rank_in_region, by["ZS01"].rank_in_region) == (1, 2)
    assert by["YL08"].rank_in_region == 1
    assert by["SX01"].grade == "合格" and by["ZS01"].grade == "不合格"
    assert by["SX03"].grade is None
    pending = by["SX03"]
    assert pending.pending and [i.code for i in pending.pending_items] == ["K05", "K06", "K07"]
    assert ranking.pending == (pending,)

    data = ranking.as_json()
    assert data["period"] == "2014-05"
    first = data["units"][0]
    assert set(first) == {
        "code",
        "name",
        "category",
        "region",
        "score",
        "grade",
        "rank",
        "rank_in_category",
        "rank_in_region",
        "pending",
        "items",
    }
    assert first["pending"] is False and data["units"][-1]["pending"] is True
    assert data["units"][-1]["rank"] is None
    assert set(first["items"][0]) == {"code", "points", "max", "why"}
    assert [i["code"] for i in first["items"]] == [f"K0{n}" for n in range(1, 8)]


def test_grades_follow_the_plan_bands(plan: Plan):
    um = unit_month(
        plan,
        "SX01",
        values={"B02": 200.0},
        activities=[done(c) for c in ("A01", "A02", "A06")],
    )
    ranking = rank_units(month_of(plan, [um]), {"SX01": full_onsite("SX01", 10)})
    (only,) = ranking.units
    assert only.total == 100 and only.grade == "优秀" and only.rank == 1
