"""Collation on a small month a clerk can check by hand: 3 regions, 7 units, April and May.

Units (region / category / headcount) and what they did in May (deadline 2014-06-05):
  U1 甲市 市县 100   accepted 06-03                     (April: on time, 05-03)
  U2 甲市 医疗 1000  accepted 06-08: 3 days late        (April: on time)
  U3 甲市 直属 50    rejected 06-02, corrected 06-04     (April: on time)
  U4 乙市 市县 80    accepted 06-01, revised 06-03 (the first one is superseded)
  U5 乙市 医疗 500   nothing                            (April: nothing)
  U6 丙市 市县 60    accepted 06-05 (deadline day)      (April: late, 05-07)
  U7 丙市 直属 40    rejected 06-04, never corrected    (April: nothing)
"""

from __future__ import annotations

import copy
import hashlib
import io
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from reporting.collate import summary as S
from reporting.collate.facts import load_month
from reporting.collate.status import reminder_text, status_json
from reporting.collate.workbook import summary_workbook
from reporting.findings import make
from reporting.periods import Period
from reporting.plan.example import example_sheets, write_plan
from reporting.plan.load import parse_plan
from reporting.store import ActivityRow, LedgerRow, Store, SubmissionRecord, ValueRow

CITY, HOSPITAL, DIRECT = "市县卫生计生局", "省级医疗卫生单位", "委直属单位"
UNITS = [
    ["U1", "甲市卫生局", CITY, "甲市", 100, "甲一", "0001"],
    ["U2", "甲市人民医院", HOSPITAL, "甲市", 1000, "甲二", "0002"],
    ["U3", "甲市疾控中心", DIRECT, "甲市", 50, "甲三", "0003"],
    ["U4", "乙市卫生局", CITY, "乙市", 80, "乙一", "0004"],
    ["U5", "乙市人民医院", HOSPITAL, "乙市", 500, "乙二", "0005"],
    ["U6", "丙市卫生局", CITY, "丙市", 60, "丙一", "0006"],
    ["U7", "丙市监督所", DIRECT, "丙市", 40, "丙二", "0007"],
]
APR, MAY = Period(2014, 4), Period(2014, 5)


def done(code: str, day: date, count: int = 1) -> ActivityRow:
    return ActivityRow(code, "已完成", count, day, 30, "会议", "签到表", None)


def item(problem: str, status: str, deadline: date) -> LedgerRow:
    return LedgerRow(
        "整改台账",
        0,
        {
            "问题描述": problem,
            "整改措施": "措施",
            "整改时限": deadline,
            "责任领导": "王",
            "责任人": "李",
            "整改状态": status,
        },
    )


class Month:
    def __init__(self, tmp: Path) -> None:
        sheets = copy.deepcopy(example_sheets())
        sheets["单位"] = [sheets["单位"][0], *UNITS]
        result = parse_plan(sheets)
        assert result.valid, result.findings
        self.plan = result.plan
        self.root = tmp
        write_plan(tmp / "plan.xlsx", sheets)
        (tmp / "inbox").mkdir()
        self.store = Store.open(tmp / "store.sqlite")
        self.n = 0

    def rec(
        self,
        unit: str,
        period: Period,
        when: datetime,
        state: str = "accepted",
        values: dict | None = None,
        activities=(),
        ledger=(),
        findings=(),
    ) -> None:
        self.n += 1
        self.store.record_submission(
            SubmissionRecord(
                sha256=hashlib.sha256(f"{self.n}".encode()).hexdigest(),
                original_name=f"{unit}_{period}_{self.n}.xlsx",
                original_path=None,
                archive_path=None,
                size=1,
                format="xlsx",
                kind="unit",
                unit_code=unit,
                period=str(period),
                plan_version=self.plan.version,
                received_at=when,
                state=state,
                findings=tuple(findings),
                values=tuple(ValueRow(k, v) for k, v in (values or {}).items()),
                activities=tuple(activities),
                ledger_rows=tuple(LedgerRow(r.ledger, i + 1, r.data) for i, r in enumerate(ledger)),
            ),
            "test",
        )


def story(m: Month) -> None:
    """Record the month described in the module docstring."""
    on_time_apr = datetime(2014, 5, 3, 9)
    m.rec(
        "U1",
        APR,
        on_time_apr,
        values={"B03": 2.0},
        activities=[done("A01", date(2014, 4, 20)), done("A02", date(2014, 4, 22))],
        ledger=[item("学习不深入", "整改中", date(2014, 5, 20))],
    )
    m.rec("U2", APR, on_time_apr)
    m.rec("U3", APR, on_time_apr)
    m.rec("U4", APR, on_time_apr, activities=[done("A01", date(2014, 4, 25))])
    m.rec("U6", APR, datetime(2014, 5, 7, 10))

    m.rec(
        "U1",
        MAY,
        datetime(2014, 6, 3, 9),
        values={"B01": 80.0, "B02": 100.0, "B03": 10.0, "B06": 95.0, "B07": True},
        activities=[
            done("A01", date(2014, 4, 20)),
            done("A02", date(2014, 4, 22)),
            done("A06", date(2014, 5, 20)),
        ],
        ledger=[
            item("学习不深入", "已完成", date(2014, 5, 20)),
            item("宣传不够", "整改中", date(2014, 6, 30)),
        ],
    )
    m.rec(
        "U2",
        MAY,
        datetime(2014, 6, 8, 15),
        values={"B01": 900.0, "B02": 500.0, "B03": 50.0, "B06": 90.0, "B07": False},
        activities=[
            done("A01", date(2014, 5, 2)),
            ActivityRow("A02", "进行中", None, None, None, None, None, None),
        ],
        ledger=[item("制度不全", "未启动", date(2014, 5, 15))],
    )
    problem = make("type-error", "“参加学习人数”应填数字", sheet="月报数据", cell="F3")
    m.rec(
        "U3",
        MAY,
        datetime(2014, 6, 2, 9),
        state="rejected",
        findings=[problem],
        values={"B01": 999.0},
    )
    m.rec(
        "U3",
        MAY,
        datetime(2014, 6, 4, 9),
        values={"B01": 40.0, "B02": 40.0, "B03": 200.0, "B06": 98.0},
        activities=[
            done("A01", date(2014, 4, 28)),
            done("A02", date(2014, 4, 29)),
            done("A06", date(2014, 5, 10)),
        ],
        ledger=[
            LedgerRow(
                "典型推荐",
                1,
                {"推荐类型": "先进个人", "名称": "张医生", "主要事迹": "扎根基层二十年"},
            )
        ],
    )
    m.rec(
        "U4",
        MAY,
        datetime(2014, 6, 1, 9),
        values={"B01": 10.0},
        activities=[done("A01", date(2014, 4, 25))],
    )
    m.rec(
        "U4",
        MAY,
        datetime(2014, 6, 3, 11),
        values={"B01": 70.0, "B02": 60.0, "B03": 8.0, "B06": 92.0},
        activities=[done("A01", date(2014, 4, 25)), done("A02", date(2014, 5, 5))],
        ledger=[item("台账不规范", "已完成", date(2014, 5, 30))],
    )
    m.rec(
        "U6",
        MAY,
        datetime(2014, 6, 5, 23),
        values={"B01": 50.0, "B02": 30.0, "B03": 5.0, "B06": 85.0},
        activities=[done("A01", date(2014, 5, 8)), done("A07", date(2014, 5, 9), count=1)],
    )
    m.rec(
        "U7",
        MAY,
        datetime(2014, 6, 4, 9),
        state="rejected",
        findings=[
            make(
                "required-missing",
                "“开展宣传报道次数”是必填项，请填写",
                sheet="月报数据",
                cell="F5",
            )
        ],
        activities=[done("A01", date(2014, 5, 1))],
    )


def loaded(m: Month, period: Period = MAY):
    return load_month(m.store, m.plan, period)


def test_states(month):
    mo = loaded(month)
    states = {u.unit.code: (u.state, u.days_late) for u in mo.units}
    assert states == {
        "U1": ("on-time", 0),
        "U2": ("late", 3),
        "U3": ("on-time", 0),
        "U4": ("on-time", 0),
        "U5": ("missing", 0),
        "U6": ("on-time", 0),
        "U7": ("rejected", 0),
    }
    # the revision, not the superseded first return, is the unit's data
    assert mo.unit("U4").values["B01"] == 70
    # a rejected return never counts, even before it was corrected
    assert mo.unit("U3").values["B01"] == 40
    assert mo.unit("U7").values == {} and mo.unit("U7").problems[0].cell == "F5"


def test_reporting_counts_by_region_and_category(month):
    mo = loaded(month)
    regions = {g.name: (g.units, g.on_time, g.late, g.rejected, g.missing) for g in S.by_region(mo)}
    assert regions == {"甲市": (3, 2, 1, 0, 0), "乙市": (2, 1, 0, 0, 1), "丙市": (2, 1, 0, 1, 0)}
    cats = {g.name: g.reporting_rate for g in S.by_category(mo)}
    assert cats == {CITY: 1.0, HOSPITAL: 0.5, DIRECT: 0.5}
    total = S.overall(mo)
    assert (total.reported, total.reporting_rate, total.on_time_rate) == (5, 5 / 7, 4 / 7)


def test_activities_are_cumulative_and_honour_minimum_count(month):
    mo = loaded(month)
    rates = {u.unit.code: S.unit_activities(u).rate for u in mo.units}
    assert rates == {
        "U1": 1.0,
        "U2": 1 / 3,
        "U3": 1.0,
        "U4": 2 / 3,
        "U5": 0.0,
        "U6": 1 / 3,
        "U7": 0.0,
    }
    u6 = mo.unit("U6")
    assert not u6.activity("A07").done and not u6.activity("A07").due  # 1 of 2, due in Oct
    assert u6.activity("A02").overdue and u6.activity("A02").label == "逾期未完成"
    assert mo.unit("U1").activity("A05").label == "未到期"
    assert mo.unit("U3").activity("A08") is None  # applies to city bureaus only
    assert dict(S.activity_rate_by(mo, lambda u: u.unit.region)) == {
        "甲市": 7 / 9,
        "乙市": 2 / 6,
        "丙市": 1 / 6,
    }
    a01 = next(c for c in S.activity_coverage(mo) if c.code == "A01")
    assert (a01.applicable, a01.done, a01.overdue) == (7, 5, 2)


def test_indicator_aggregates_per_capita_and_outliers(month):
    mo = loaded(month)
    inds = [i.code for i in mo.plan.indicators]
    regions = {
        name: (n, dict(zip(inds, aggs, strict=True)))
        for name, n, aggs in S.indicator_groups(mo, lambda u: u.unit.region)
    }
    assert regions["甲市"][0] == 3
    assert regions["甲市"][1]["B01"] == 1020  # 求和
    assert regions["甲市"][1]["B06"] == pytest.approx((95 + 90 + 98) / 3)  # 平均
    assert regions["甲市"][1]["B07"] == 1  # 是否: units answering 是
    cats = {
        name: dict(zip(inds, aggs, strict=True))
        for name, _, aggs in S.indicator_groups(mo, lambda u: u.unit.category)
    }
    assert cats[CITY]["B01"] == 80 + 70 + 50
    pcs = {p.indicator.code: p.target for p in S.per_capita_indicators(mo.plan)}
    assert pcs["B02"] == 1.0 and pcs["B01"] is None  # from rubric K04: [B02] / 职工人数 >= 1
    flagged = {(o.unit.unit.code, o.indicator.code): o.reason for o in S.outliers(mo)}
    assert ("U3", "B03") in flagged and "中位数" in flagged[("U3", "B03")]
    assert "上月" in flagged[("U1", "B03")]  # 2 -> 10
    assert len(flagged) == 2


def test_ledgers_and_nominations(month):
    mo = loaded(month)
    rows = {(x.unit.unit.code, x.ledger): (x.total, x.done, x.overdue) for x in S.unit_ledgers(mo)}
    assert rows[("U1", "整改台账")] == (2, 1, 0)  # April's item updated to done in May
    assert rows[("U2", "整改台账")] == (1, 0, 1)  # deadline 05-15 passed
    assert rows[("U4", "整改台账")] == (1, 1, 0)
    noms = S.nominations(mo)
    assert [(u.unit.code, d["名称"]) for u, _, d in noms] == [("U3", "张医生")]


def test_trend_over_periods(month):
    mo = loaded(month)
    apr, may = mo.trend
    assert (apr.period, apr.reported, apr.on_time) == ("2014-04", 5, 4)
    assert (apr.activities_due, apr.activities_done) == (14, 3)
    assert (apr.ledger_items, apr.ledger_done) == (1, 0)
    assert (may.reported, may.on_time, may.activities_due, may.activities_done) == (5, 4, 21, 10)
    assert (may.ledger_items, may.ledger_done) == (4, 2)


def test_past_points_are_counted_as_the_unit_statuses_count_them(month):
    """A past period's point is counted straight from the returns (a December month has a
    point for every earlier period); it must equal the point that period's own month builds
    from every unit's activity statuses and ledger items."""
    april, may, june = (loaded(month, Period(2014, m)) for m in (4, 5, 6))
    assert may.trend[0] == april.trend[-1]
    assert june.trend[:2] == (april.trend[-1], may.trend[-1])
    # not vacuous: May has done activities and an April item updated to done in May
    assert (may.trend[-1].activities_done, may.trend[-1].ledger_done) == (10, 2)


@pytest.mark.parametrize("seed", range(5))
def test_past_points_count_random_returns_as_unit_statuses_do(month, seed):
    """The same comparison over random returns: counts below 最少次数, activities that do not
    apply to the unit's category, unknown codes, ledger items revised and re-identified across
    periods, ledgers without a status column."""
    import random

    from reporting.collate import facts as F
    from reporting.store import SubmissionInfo

    rnd = random.Random(seed)
    plan = month.plan
    codes = [a.code for a in plan.activities] + ["Z99"]
    ledger_names = [lg.name for lg in plan.ledgers] + ["没有这个台账"]
    current, activities, ledgers = {}, {}, {}
    for n, unit in enumerate(plan.units * 2, start=1):
        p = rnd.choice(["2014-04", "2014-05"])
        received = datetime(2014, int(p[-1]) + 1, rnd.randint(1, 9), rnd.randint(0, 23))
        current[(unit.code, p)] = SubmissionInfo(
            n, "", "", None, None, 0, "xlsx", "unit", unit.code, p, plan.version,
            received, "accepted", False, 0, None, received,
        )  # fmt: skip
        activities[n] = [
            ActivityRow(
                rnd.choice(codes),
                rnd.choice(["已完成", "未完成", None]),
                rnd.choice([None, 0, 1, 2, 5]),
                None,
                None,
                None,
                None,
                None,
            )
            for _ in range(rnd.randint(0, 6))
        ]
        ledgers[n] = [
            LedgerRow(
                name,
                r,
                {
                    "问题描述": rnd.choice(["问题一", "问题二", "问题三"]),
                    "整改时限": date(2014, rnd.randint(4, 6), 15),
                    "整改状态": rnd.choice(["已完成", "整改中", None]),
                    "名称": rnd.choice(["甲", "乙"]),
                },
            )
            for r, name in enumerate(rnd.choices(ledger_names, k=rnd.randint(0, 4)), start=1)
        ]
    for period in (APR, MAY):
        states = {u.code: rnd.choice(F.STATES) for u in plan.units}
        own = {}
        for (code, p), sub in current.items():
            if Period.parse(p) <= period:
                own.setdefault(code, []).append(sub)
        facts = []
        for unit in plan.units:
            subs = sorted(own.get(unit.code, []), key=lambda x: (x.period, x.received_at))
            records = [r for x in subs for r in activities[x.id]]
            rows = [(x.period, r) for x in subs for r in ledgers[x.id]]
            facts.append(
                (
                    F.activity_statuses(plan, unit, period, records),
                    F.ledger_items(plan, period, rows),
                )
            )
        expected = F._point(plan, period, states, facts)
        assert F._trend_point(plan, period, states, current, activities, ledgers) == expected


def test_status_json_and_reminders(month):
    mo = loaded(month)
    data = status_json(mo)
    assert data["period"] == "2014-05" and data["deadline"] == "2014-06-05"
    assert data["totals"]["missing"] == 1 and data["totals"]["rejected"] == 1
    u2 = next(u for u in data["units"] if u["code"] == "U2")
    assert u2 == {
        "code": "U2",
        "name": "甲市人民医院",
        "region": "甲市",
        "category": HOSPITAL,
        "state": "late",
        "received_at": "2014-06-08T15:00:00",
        "days_late": 3,
    }
    text = reminder_text(mo, date(2014, 6, 9))
    lines = [x for x in text.splitlines() if x.startswith("【")]
    assert len(lines) == 2
    assert "乙市人民医院" in lines[0] and "4 天" in lines[0]
    assert "丙市监督所" in lines[1] and "开展宣传报道次数" in lines[1]


def cells(ws) -> list[list]:
    return [[c.value for c in row] for row in ws.iter_rows()]


def find_row(rows, first):
    return next(r for r in rows if r and r[0] == first)


def test_summary_workbook(month):
    data = summary_workbook(loaded(month))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["报送情况", "规定动作完成情况", "月报数据汇总", "台账汇总", "趋势"]
    rep = cells(wb["报送情况"])
    assert find_row(rep, "甲市")[1:9] == [3, 3, 2, 1, 0, 0, 1, pytest.approx(2 / 3)]
    u3 = find_row(rep, "U3")
    assert u3[4] == "按时报送" and u3[7].startswith("U3_2014-05_") and len(u3[8]) == 12
    assert find_row(rep, "U7")[4] == "退回待改" and "F5" in find_row(rep, "U7")[9]
    cf_rules = [r for rng in wb["报送情况"].conditional_formatting for r in rng.rules]
    assert {r.formula[0] for r in cf_rules} >= {'"按时报送"', '"未报送"'}

    acts = cells(wb["规定动作完成情况"])
    u6 = find_row(acts, "U6")
    assert u6[4:7] == ["已完成", "逾期未完成", "未到期"]  # A01, A02, A03
    header = next(r for r in acts if r[0] == "单位编码")
    assert u6[header.index("完成率")] == pytest.approx(1 / 3)
    assert find_row(acts, "U3")[4 + 7] == "不适用"  # A08 is for city bureaus only
    matrix_cf = [r for rng in wb["规定动作完成情况"].conditional_formatting for r in rng.rules]
    assert {r.formula[0] for r in matrix_cf} == {'"已完成"', '"逾期未完成"', '"未到期"', '"不适用"'}

    ind = cells(wb["月报数据汇总"])
    assert find_row(ind, "甲市")[2] == 1020
    u2 = find_row(ind, "U2")
    header = next(r for r in ind if r[0] == "单位编码")
    assert u2[header.index("人均撰写心得体会篇数（目标≥1）")] == 0.5

    led = cells(wb["台账汇总"])
    assert next(r for r in led if r[0] == "U2" and r[3] == "整改台账")[4:9] == [1, 0, 1, 1, 0]

    trend = cells(wb["趋势"])
    assert find_row(trend, "2014-05")[1:4] == [7, 5, 4]


def test_summary_charts_have_the_right_series(month):
    import zipfile

    data = summary_workbook(loaded(month))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        charts = sorted(n for n in zf.namelist() if n.startswith("xl/charts/chart"))
        xml = {n: zf.read(n).decode() for n in charts}
    assert len(charts) == 3
    refs = " ".join(xml.values())
    assert "报送情况!$A$6:$A$8" in refs and "报送情况!$H$6:$H$8" in refs  # 3 regions
    assert "规定动作完成情况!$B$" in refs and "<c:barChart>" in refs
    assert "趋势!$E$5:$E$6" in refs and "<c:lineChart>" in refs  # two periods


def test_collate_reads_only_the_store(month, tmp_path):
    from reporting.collate.service import collate, status

    (month.root / "inbox" / "junk.xlsx").write_bytes(b"never read")
    month.store.close()
    result = collate(month.root, "2014-05")
    assert result.path == month.root / "outbox" / "2014-05" / "汇总表_2014-05.xlsx"
    assert openpyxl.load_workbook(result.path).sheetnames[0] == "报送情况"
    st = status(month.root, "2014-05", date(2014, 6, 9))
    wb = openpyxl.load_workbook(st.reminder_workbook)
    rows = cells(wb["催报名单"])
    listed = [r[2] for r in rows[4:] if r[1]]
    assert listed == ["乙市人民医院", "丙市监督所"]
    assert st.reminder_text.read_text("utf-8").count("【") == 2
    month.store = Store.open(month.root / "store.sqlite")  # for the fixture's teardown


def test_status_and_collate_commands(month):
    import json

    from typer.testing import CliRunner

    from cli import app

    month.store.close()
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    res = runner.invoke(
        app, ["status", "-w", str(month.root), "-p", "2014-05", "--json", "--as-of", "2014-06-09"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {u["state"] for u in data["units"]} == {"on-time", "late", "rejected", "missing"}
    res = runner.invoke(app, ["collate", "-w", str(month.root), "-p", "2014-05"])
    assert res.exit_code == 0 and "汇总表_2014-05.xlsx" in res.stdout
    bad = runner.invoke(app, ["collate", "-w", str(month.root), "-p", "2015-01"])
    assert bad.exit_code == 2 and "活动期" in bad.stderr
    month.store = Store.open(month.root / "store.sqlite")
