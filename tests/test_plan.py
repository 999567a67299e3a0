"""Plan loading: the example is valid, and every planted mistake yields its finding."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from reporting.errors import PlanError, WorkspaceError
from reporting.plan.load import load_plan, parse_plan, require_plan
from reporting.plan.model import Aggregation, LedgerRole, Method, ValueType
from reporting.workspace import init_workspace


def codes(result):
    return sorted({f.code for f in result.findings})


def only(result, code):
    hits = [f for f in result.findings if f.code == code]
    assert hits, f"expected {code}, got {[(f.code, f.message) for f in result.findings]}"
    return hits


def test_example_plan_loads_from_disk(workspace: Path):
    result = load_plan(workspace / "plan.xlsx")
    assert result.valid, [f.message for f in result.findings]
    plan = result.plan
    assert plan.settings.year == 2014
    assert plan.settings.doc_number == "浙卫党发〔2014〕12号"
    assert len(plan.units) >= 30
    assert len(plan.categories) >= 3
    assert len(plan.regions) >= 5
    assert [p.name for p in plan.phases] == [
        "宣传发动",
        "学习讨论",
        "分析检查",
        "整改落实",
        "总结表彰",
    ]
    assert len(plan.activities) == 8
    assert len(plan.indicators) >= 6
    assert sum(1 for i in plan.indicators if i.rules) >= 2
    assert {lg.name for lg in plan.ledgers} == {"整改台账", "典型推荐"}
    assert sum(r.points for r in plan.rubric) == 100
    assert {r.method for r in plan.rubric} == {Method.AUTO, Method.ONSITE}


def test_domain_objects_serve_later_stages(sheets):
    plan = parse_plan(sheets).plan
    hospital = plan.unit("YL01")
    city = plan.unit("SX01")
    assert hospital and city
    # A08 (督促检查) applies to city bureaus only; A05 not to directly affiliated units.
    assert "A08" in {a.code for a in plan.activities_for(city)}
    assert "A08" not in {a.code for a in plan.activities_for(hospital)}
    assert "A05" not in {a.code for a in plan.activities_for(plan.unit("ZS01"))}
    a07 = next(a for a in plan.activities if a.code == "A07")
    assert a07.min_count == 2 and a07.deadline == date(2014, 10, 31)
    b02 = plan.indicator("B02")
    assert b02.type is ValueType.INTEGER and b02.aggregation is Aggregation.SUM
    assert b02.rules[0].references() == {"B01"}
    ledger = plan.ledger("整改台账")
    status = ledger.column(LedgerRole.STATUS)
    assert status.options == ("未启动", "整改中", "已完成") and status.done_value == "已完成"
    assert ledger.column(LedgerRole.DEADLINE).name == "整改时限"
    k04 = next(r for r in plan.rubric if r.code == "K04")
    assert k04.rule.kind == "indicator_target"
    assert plan.settings.grade(95) == "优秀" and plan.settings.grade(59.9) == "不合格"
    assert plan.settings.grade(80) == "良好"
    periods = plan.periods()
    assert str(periods[0]) == "2014-04" and str(periods[-1]) == "2014-12"
    assert plan.deadline(periods[0]) == date(2014, 5, 5)


def test_version_is_content_hash(sheets):
    v1 = parse_plan(sheets).plan.version
    assert parse_plan(sheets).plan.version == v1
    sheets.set("单位", 2, "职工人数", 127)
    assert parse_plan(sheets).plan.version != v1


def test_version_is_unchanged_by_the_quick_unit_records(sheets):
    """Versions are stored with every return: the quick digest of the unit roster must give
    exactly the hash of the whole plan as ``asdict`` sees it (the original definition)."""
    import hashlib
    import json
    from dataclasses import asdict, replace

    from reporting.plan.model import _plain

    def reference(plan):
        data = asdict(plan)
        for ind in data["indicators"]:
            ind.pop("rules", None)
        for item in data["rubric"]:
            item.pop("rule", None)
        blob = json.dumps(_plain(data), ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    plan = parse_plan(sheets).plan
    assert plan.version == reference(plan)
    odd = replace(plan.units[0], name='卫生院"\\<&>😀', contact="", headcount=0)
    strange = replace(plan, units=(odd, *plan.units[1:]))
    assert strange.version == reference(strange) != plan.version


def test_version_survives_resave(tmp_path: Path, sheets):
    """The version hashes content, not bytes: a workbook re-saved by openpyxl keeps it."""
    import openpyxl

    from reporting.plan.example import write_plan

    path = tmp_path / "plan.xlsx"
    write_plan(path, sheets)
    v1 = load_plan(path).plan.version
    wb = openpyxl.load_workbook(path)
    wb.save(path)
    assert load_plan(path).plan.version == v1


# --------------------------------------------------------------------------- one per code


def test_missing_sheet(sheets):
    del sheets["阶段"]
    f = only(parse_plan(sheets), "missing-sheet")[0]
    assert f.sheet == "阶段"


def test_missing_column(sheets):
    sheets["单位"][0][sheets.col("单位", "职工人数")] = "人数"
    f = only(parse_plan(sheets), "missing-column")[0]
    assert (f.sheet, f.row, f.column) == ("单位", 1, "职工人数")


def test_header_notes_and_asterisks_are_tolerated(sheets):
    sheets["单位"][0][sheets.col("单位", "职工人数")] = "职工人数（人）*"
    assert parse_plan(sheets).valid


def test_missing_value(sheets):
    sheets.set("规定动作", 3, "名称", None)
    f = only(parse_plan(sheets), "missing-value")[0]
    assert (f.sheet, f.row, f.column) == ("规定动作", 3, "名称")


def test_missing_setting(sheets):
    sheets.setting("发文字号", "")
    f = only(parse_plan(sheets), "missing-value")[0]
    assert f.sheet == "方案" and "发文字号" in f.message


def test_duplicate_code(sheets):
    sheets.set("单位", 5, "单位编码", sheets.cell("单位", 2, "单位编码"))
    f = only(parse_plan(sheets), "duplicate-code")[0]
    assert (f.sheet, f.row, f.column) == ("单位", 5, "单位编码")
    assert "第2行" in f.message


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("SX/01", None),  # "/" and "_" make the same file name
        ("sx01", None),  # Windows does not tell case apart
        ("SX01_杭州市卫生计生委", "x"),  # SX01_杭州市卫生计生委_x vs (SX01, 杭州市卫生计生委_x)
    ],
)
def test_units_whose_files_would_have_the_same_name_are_refused(sheets, code, name):
    first_name = sheets.cell("单位", 2, "单位名称")
    if name is None:  # the same name as row 2, written differently
        sheets.set("单位", 2, "单位编码", "SX_01" if "/" in code else "SX01")
        sheets.set("单位", 5, "单位编码", code)
        sheets.set("单位", 5, "单位名称", first_name.replace("杭州", "杭/州"))
        sheets.set("单位", 2, "单位名称", first_name.replace("杭州", "杭_州"))
    else:
        sheets.set("单位", 2, "单位名称", f"{first_name}_x")
        sheets.set("单位", 5, "单位编码", code)
        sheets.set("单位", 5, "单位名称", name)
    f = only(parse_plan(sheets), "duplicate-code")[0]
    assert (f.sheet, f.row, f.column) == ("单位", 5, "单位编码")
    assert "第2行" in f.message and "文件名" in f.message


def test_bad_date(sheets):
    sheets.set("阶段", 3, "开始日期", "五月初")
    f = only(parse_plan(sheets), "bad-date")[0]
    assert (f.sheet, f.row, f.column) == ("阶段", 3, "开始日期")


def test_dates_as_text_are_accepted(sheets):
    sheets.set("阶段", 2, "开始日期", "2014年4月10日")
    sheets.set("阶段", 2, "结束日期", "2014/4/30")
    assert parse_plan(sheets).valid


def test_bad_number(sheets):
    sheets.set("月报指标", 4, "最大值", "五百")
    f = only(parse_plan(sheets), "bad-number")[0]
    assert (f.sheet, f.row, f.column) == ("月报指标", 4, "最大值")


def test_bad_choice(sheets):
    sheets.set("月报指标", 2, "类型", "数字")
    f = only(parse_plan(sheets), "bad-choice")[0]
    assert (f.sheet, f.row, f.column) == ("月报指标", 2, "类型")
    assert "整数" in f.message


def test_text_indicator_cannot_be_summed(sheets):
    row = next(i for i, r in enumerate(sheets["月报指标"], 1) if r[0] == "B09")
    sheets.set("月报指标", row, "汇总方式", "求和")
    f = only(parse_plan(sheets), "bad-choice")[0]
    assert f.column == "汇总方式"


def test_bad_setting(sheets):
    sheets.setting("报送截止日", 40)
    f = only(parse_plan(sheets), "bad-setting")[0]
    assert f.sheet == "方案" and "报送截止日" in f.message


def test_bad_grade_bands(sheets):
    sheets.setting("等级划分", "优秀>=90;良好>=80")  # nothing below 80
    f = only(parse_plan(sheets), "bad-grade-bands")[0]
    assert "0–79.5" in f.message


def test_phase_order(sheets):
    sheets.set("阶段", 3, "结束日期", date(2014, 4, 20))
    f = only(parse_plan(sheets), "phase-order")[0]
    assert (f.row, f.column) == (3, "结束日期")


def test_phase_overlap(sheets):
    sheets.set("阶段", 3, "开始日期", date(2014, 4, 25))
    f = only(parse_plan(sheets), "phase-overlap")[0]
    assert f.row == 3 and "宣传发动" in f.message


def test_phase_outside_year(sheets):
    sheets.set("阶段", 6, "结束日期", date(2015, 1, 15))
    f = only(parse_plan(sheets), "phase-outside-year")[0]
    assert (f.row, f.column) == (6, "结束日期")


def test_activity_deadline_outside_year(sheets):
    sheets.set("规定动作", 2, "完成时限", date(2013, 12, 31))
    assert only(parse_plan(sheets), "date-outside-year")[0].row == 2


def test_unknown_phase(sheets):
    sheets.set("规定动作", 4, "阶段", "P9")
    f = only(parse_plan(sheets), "unknown-phase")[0]
    assert (f.row, f.column) == (4, "阶段")


def test_phase_by_name_is_accepted(sheets):
    sheets.set("规定动作", 2, "阶段", "宣传发动")
    assert parse_plan(sheets).valid


def test_unknown_category(sheets):
    sheets.set("规定动作", 9, "适用类别", "市县卫生计生局、乡镇卫生院")
    f = only(parse_plan(sheets), "unknown-category")[0]
    assert f.row == 9 and "乡镇卫生院" in f.message


def test_unknown_ledger(sheets):
    sheets.set("考评细则", 4, "规则", "台账完成率(问题清单)")
    f = only(parse_plan(sheets), "unknown-ledger")[0]
    assert (f.sheet, f.row) == ("考评细则", 4)


def test_min_over_max(sheets):
    sheets.set("月报指标", 4, "最小值", 600)
    f = only(parse_plan(sheets), "min-over-max")[0]
    assert f.row == 4


@pytest.mark.parametrize("rule", ["<= 人数", "<=", "[B01] 2", "<= ([B01]", "<= [B01] *"])
def test_bad_rule(sheets, rule):
    sheets.set("月报指标", 3, "校验规则", rule)
    f = only(parse_plan(sheets), "bad-rule")[0]
    assert (f.sheet, f.row, f.column) == ("月报指标", 3, "校验规则")


def test_bad_rubric_rule(sheets):
    sheets.set("考评细则", 2, "规则", "完成得好")
    f = only(parse_plan(sheets), "bad-rule")[0]
    assert (f.sheet, f.row) == ("考评细则", 2)


def test_unknown_reference(sheets):
    sheets.set("月报指标", 3, "校验规则", "<= [B99]")
    f = only(parse_plan(sheets), "unknown-reference")[0]
    assert "B99" in f.message


def test_unknown_reference_in_rubric(sheets):
    sheets.set("考评细则", 5, "规则", "指标达标([B77] >= 1)")
    f = only(parse_plan(sheets), "unknown-reference")[0]
    assert f.sheet == "考评细则" and "B77" in f.message


def test_rubric_total(sheets):
    sheets.set("考评细则", 2, "分值", 35)
    f = only(parse_plan(sheets), "rubric-total")[0]
    assert "95" in f.message


@pytest.mark.parametrize("value", [0, -3, 12.5, "很多", None])
def test_bad_headcount(sheets, value):
    sheets.set("单位", 7, "职工人数", value)
    f = only(parse_plan(sheets), "bad-headcount")[0]
    assert (f.sheet, f.row, f.column) == ("单位", 7, "职工人数")


def test_empty_roster(sheets):
    sheets["单位"] = sheets["单位"][:1]
    only(parse_plan(sheets), "empty-roster")


def test_empty_sheet(sheets):
    sheets["考评细则"] = []
    only(parse_plan(sheets), "empty-sheet")


def test_phase_mismatch_is_a_warning(sheets):
    sheets.set("规定动作", 2, "完成时限", date(2014, 6, 1))  # A01 belongs to P1 (April)
    result = parse_plan(sheets)
    f = only(result, "phase-mismatch")[0]
    assert f.severity == "warning" and result.valid


def test_every_catalogued_plan_code_is_tested():
    from reporting.findings import CATALOGUE

    text = Path(__file__).read_text("utf-8")
    untested = [
        c
        for c, e in CATALOGUE.items()
        if e.stage == "plan" and c not in text and c != "plan-unreadable"
    ]
    assert not untested


def test_many_mistakes_are_all_reported(sheets):
    sheets.set("单位", 3, "职工人数", 0)
    sheets.set("阶段", 4, "开始日期", "下个月")
    sheets.set("规定动作", 5, "阶段", "P8")
    sheets.set("月报指标", 2, "校验规则", "<= [B42]")
    sheets.set("考评细则", 8, "分值", 9)
    sheets.set("单位", 10, "单位编码", "SX01")
    result = parse_plan(sheets)
    assert not result.valid
    assert {
        "bad-headcount",
        "bad-date",
        "unknown-phase",
        "unknown-reference",
        "rubric-total",
        "duplicate-code",
    } <= set(codes(result))


def test_unreadable_plan(tmp_path: Path):
    bad = tmp_path / "plan.xlsx"
    bad.write_text("<html>not a workbook</html>")
    result = load_plan(bad)
    assert codes(result) == ["plan-unreadable"]
    with pytest.raises(PlanError) as info:
        require_plan(bad)
    assert info.value.findings[0].code == "plan-unreadable"


def test_missing_plan_file(tmp_path: Path):
    with pytest.raises(WorkspaceError):
        load_plan(tmp_path / "plan.xlsx")


def test_init_refuses_to_overwrite(tmp_path: Path):
    root = tmp_path / "ws"
    init_workspace(root)
    plan = root / "plan.xlsx"
    plan.write_bytes(b"edited by the bureau")
    with pytest.raises(WorkspaceError):
        init_workspace(root)
    assert plan.read_bytes() == b"edited by the bureau"
    assert init_workspace(root, force=True).overwritten
    assert load_plan(plan).valid


def test_mistakes_do_not_cascade(sheets):
    """A phase with a bad date is reported once; activities naming it are not 'unknown'."""
    sheets.set("阶段", 4, "开始日期", "不知道")  # P3
    sheets.set("月报指标", 2, "类型", "数字")  # B01, referenced by B02's rule
    result = parse_plan(sheets)
    assert codes(result) == ["bad-choice", "bad-date"]


def test_control_characters_in_plan_text_are_dropped(sheets):
    """A Word line break pasted into a cell is \\x0b: such a name passed `plan` and then stopped
    `report`, whose Word notice cannot hold it. Tabs and line breaks inside a text stay."""
    sheets.set("单位", 2, "单位名称", "杭州市\x0b卫生计生委\x01")
    sheets.setting("方案名称", "“八个一”\x0c学习\n活动")
    result = parse_plan(sheets)
    assert result.valid, [f.message for f in result.findings]
    assert result.plan.unit("SX01").name == "杭州市卫生计生委"
    assert result.plan.settings.name == "“八个一”学习\n活动"
