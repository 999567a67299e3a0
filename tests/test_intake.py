"""Intake: returned files are identified, validated cell by cell, archived and recorded."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from reporting.intake.values import to_date
from reporting.periods import Period
from reporting.simulate import Filling
from tests.conftest import Office

FIXTURES = Path(__file__).parent / "fixtures" / "returns"
ON_TIME = datetime(2014, 6, 3, 10, 0)
LATE = datetime(2014, 6, 9, 16, 30)


def edit(data: bytes, change) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    change(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def codes(check) -> set[str]:
    return {f.code for f in check.findings}


def finding(check, code):
    hits = [f for f in check.findings if f.code == code]
    assert hits, [(f.code, f.message) for f in check.findings]
    return hits[0]


def stored(office: Office, unit: str, period: str = "2014-05"):
    with office.store() as store:
        sub = store.current_submission(unit, period)
        assert sub is not None
        return (
            sub,
            store.values_for([sub.id])[sub.id],
            store.activities_for([sub.id])[sub.id],
            store.ledger_rows_for([sub.id])[sub.id],
        )


def assert_round_trip(office: Office, unit: str, filling: Filling) -> None:
    sub, values, activities, ledgers = stored(office, unit)
    assert sub.state == "accepted"
    for code, value in filling.indicators.items():
        got = values[code]
        if isinstance(value, bool) or value in ("是", "否"):
            assert got == (value in (True, "是")), code
        elif isinstance(value, int | float):
            assert got == pytest.approx(float(value)), code
        elif isinstance(value, date):
            assert to_date(got) == value, code
        else:
            assert got == value, code
    by_code = {a.activity_code: a for a in activities}
    for code, fields in filling.activities.items():
        row = by_code[code]
        for key, value in fields.items():
            assert getattr(row, key) == value, (code, key)
    for name, rows in filling.ledgers.items():
        got = [r.data for r in ledgers if r.ledger == name]
        assert len(got) == len(rows)
        for want, have in zip(rows, got, strict=True):
            for column, value in want.items():
                expect = float(value) if isinstance(value, int) else value
                assert have[column] == expect, (name, column)


# --------------------------------------------------------------------------- round trips


def test_openpyxl_filled_return_round_trips(office: Office):
    filling = office.filling("SX01", seed=7)
    office.drop("杭州市卫健委5月报表.xlsx", office.filled("SX01", filling))
    result = office.collect(received_at=ON_TIME)
    assert result.ok and result.totals["accepted"] == 1
    report = result.files[0]
    assert (report.unit, report.period, report.kind, report.late) == (
        "SX01",
        "2014-05",
        "unit",
        False,
    )
    assert_round_trip(office, "SX01", filling)
    sub = stored(office, "SX01")[0]
    archived = office.ws.root / sub.archive_path
    assert archived == office.ws.archive / "2014-05" / f"SX01_{sub.sha256}.xlsx"
    assert archived.read_bytes() == (office.ws.inbox / "杭州市卫健委5月报表.xlsx").read_bytes()


@pytest.mark.parametrize("name", ["lo_resaved_SX03.xlsx", "lo_saved_SX04.xls"])
def test_libreoffice_saved_returns_round_trip(tmp_path: Path, name: str):
    """Files re-saved by LibreOffice (xlsx and old .xls) — see fixtures/returns/make_fixtures.py."""
    from reporting.plan import snapshot
    from reporting.plan.example import write_plan

    office = Office(tmp_path / "lo")
    plan_result = snapshot.load((FIXTURES / "plan-snapshot.json").read_text("utf-8"))
    write_plan(office.ws.plan_path, plan_result.sheets)
    (office.ws.root / ".form-key").write_text((FIXTURES / "form-key.txt").read_text())
    shutil.copy(FIXTURES / name, office.ws.inbox / name)
    expected = json.loads((FIXTURES / "expected.json").read_text("utf-8"))[name]
    result = office.collect(received_at=ON_TIME)
    assert result.ok, result.as_json()
    assert result.files[0].findings == ()

    def parse(value):
        if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
            return date.fromisoformat(value)
        return value

    filling = Filling(
        activities={
            k: {f: parse(v) for f, v in d.items()} for k, d in expected["activities"].items()
        },
        indicators={k: parse(v) for k, v in expected["indicators"].items()},
        ledgers={
            k: [{c: parse(v) for c, v in r.items()} for r in rows]
            for k, rows in expected["ledgers"].items()
        },
    )
    assert_round_trip(office, expected["unit"], filling)


# --------------------------------------------------------------------------- one test per code


def test_unreadable_truncated_file(office: Office):
    data = office.filled("SX01")
    office.drop("cut.xlsx", data[: len(data) // 2])
    result = office.collect(received_at=ON_TIME)
    f = result.files[0]
    assert f.state == "rejected" and f.unit is None
    assert [x.code for x in f.findings] == ["unreadable"]
    assert not result.ok


def test_encrypted_workbook(office: Office):
    # made by fixtures/returns/make_encrypted.py (msoffcrypto-tool, password 1234)
    office.drop("加密.xlsx", (FIXTURES / "encrypted.xlsx").read_bytes())
    result = office.collect(received_at=ON_TIME)
    assert [x.code for x in result.files[0].findings] == ["encrypted"]
    assert "密码" in result.files[0].findings[0].message


def test_not_a_form(office: Office):
    wb = openpyxl.Workbook()
    wb.active["A1"] = "随便一个表格"
    buf = io.BytesIO()
    wb.save(buf)
    check = office.check(buf.getvalue())
    assert codes(check) == {"not-a-form"} and check.unit_code is None


def test_metadata_missing_falls_back_to_instructions(office: Office):
    data = edit(office.filled("SX02"), lambda wb: wb.remove(wb["_meta"]))
    check = office.check(data)
    assert check.unit_code == "SX02" and check.identified_by == "instructions"
    assert finding(check, "metadata-missing").severity == "warning"
    assert check.accepted


def test_metadata_tampered_to_claim_another_unit(office: Office):
    def claim(wb):
        meta = wb["_meta"]
        meta.sheet_state = "visible"
        for row in meta.iter_rows(min_row=2):
            if row[0].value == "unit_code":
                row[1].value = "SX05"

    check = office.check(edit(office.filled("SX02"), claim))
    assert "metadata-tampered" in codes(check) and not check.accepted


def _claiming(unit_code: str, period: str):
    """A change to a form's metadata: it claims this unit code and period (unsigned)."""

    def claim(wb):
        for row in wb["_meta"].iter_rows(min_row=2):
            if row[0].value == "unit_code":
                row[1].value = unit_code
            elif row[0].value == "period":
                row[1].value = period

    return claim


@pytest.mark.parametrize(
    ("unit_code", "period", "place"),
    [
        ("../../../../逃逸", "../../期", ("未识别", "_.._.._.._逃逸_")),
        ("..", "2014-05", ("2014-05", "__")),
        ("SX02/../../../逃逸", "2014-05\\..\\..", ("未识别", "SX02_.._.._.._逃逸_")),
    ],
)
def test_metadata_cannot_place_the_archive_copy_outside_the_archive(
    office: Office, tmp_path: Path, unit_code: str, period: str, place: tuple[str, str]
):
    """The unit code and period a return claims are the sender's words: the archive copy goes
    under archive/ whatever they say, and a period that is none does not stop the run."""
    before = {p for p in tmp_path.rglob("*")}
    data = edit(office.filled("SX02"), _claiming(unit_code, period))
    office.drop("x.xlsx", data)
    office.drop("正常.xlsx", office.filled("SX03"))
    result = office.collect(received_at=ON_TIME)
    by_name = {f.path: f for f in result.files}
    bad = by_name["x.xlsx"]
    assert bad.state == "rejected" and bad.period == Period.canonical(period)
    assert by_name["正常.xlsx"].state == "accepted"  # the run went on
    with office.store() as store:
        sub = store.submission_by_sha(bad.sha256)
        assert sub is not None and sub.period == Period.canonical(period)
    archived = office.ws.root / sub.archive_path
    assert archived == office.ws.archive / place[0] / f"{place[1]}{bad.sha256}.xlsx"
    assert archived.read_bytes() == data
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(office.ws.root in p.parents for p in created), sorted(map(str, created))


def test_unknown_unit(office: Office):
    from reporting.plan.example import example_sheets, write_plan
    from reporting.plan.load import require_plan

    office.form("SX18")
    office.collect(received_at=ON_TIME)  # records the plan version the form was made from
    sheets = example_sheets()
    sheets["单位"] = [r for r in sheets["单位"] if r[0] != "SX18"]
    write_plan(office.ws.plan_path, sheets)
    office.plan = require_plan(office.ws.plan_path)
    office.drop("德清.xlsx", office.filled("SX18", Filling(indicators={"B01": 3})))
    result = office.collect(received_at=ON_TIME)
    # The form was made from the earlier plan version, which the store recorded.
    assert "unknown-unit" in {x.code for x in result.files[0].findings}


@pytest.mark.parametrize("identified_by", ["metadata", "instructions"])
def test_a_return_of_a_unit_off_the_roster_is_checked_again_once_the_unit_is_back(
    office: Office, identified_by: str
):
    """The clerk dropped SX18 from the plan by mistake and its return was rejected; once the
    plan lists SX18 again, the very same file is checked again and replaces the rejection,
    instead of staying "already processed" while status chases SX18 for a return it sent.
    A return without its identification sheet is read against the current plan, so it too is
    checked again (its recorded plan version is the one without SX18)."""
    from reporting.intake.collect import RECHECKED
    from reporting.plan.example import example_sheets, write_plan
    from reporting.plan.load import require_plan
    from reporting.store import Store

    data = office.filled("SX18")  # a complete return, on the form made from the full plan
    if identified_by == "instructions":
        data = edit(data, lambda wb: wb.remove(wb["_meta"]))
    office.collect(received_at=ON_TIME)  # records the plan version the form was made from
    without = example_sheets()
    without["单位"] = [r for r in without["单位"] if r[0] != "SX18"]
    write_plan(office.ws.plan_path, without)
    office.plan = require_plan(office.ws.plan_path)
    office.drop("德清.xlsx", data)
    first = office.collect(received_at=ON_TIME)
    sha = first.files[0].sha256
    assert first.files[0].state == "rejected"
    assert "unknown-unit" in {x.code for x in first.files[0].findings}
    # still off the roster: the same bytes stay as recorded
    assert [f.state for f in office.collect(received_at=ON_TIME).files] == ["duplicate"]

    write_plan(office.ws.plan_path, example_sheets())  # the clerk puts SX18 back
    office.plan = require_plan(office.ws.plan_path)
    again = office.collect(received_at=LATE)
    [report] = again.files
    assert (report.state, report.unit, report.sha256, report.note) == (
        "accepted",
        "SX18",
        sha,
        RECHECKED,
    )
    with Store.open(office.ws.store_path) as store:
        sub = store.submission_by_sha(sha)
        assert sub is not None and (sub.state, sub.unit_code, sub.period) == (
            "accepted",
            "SX18",
            "2014-05",
        )
        assert "unknown-unit" not in {f.code for f in store.findings_for(sub.id)}
        assert store.values_for([sub.id])[sub.id]  # what the return says is stored now
        assert [e.action for e in store.audit_entries() if e.sha256 == sha] == [
            "rejected",
            "rechecked",
            "accepted",
        ]
        assert [s.id for s in store.submissions() if s.sha256 == sha] == [sub.id]
    # checked once: the next run finds it already processed
    assert [f.state for f in office.collect(received_at=LATE).files] == ["duplicate"]


def test_wrong_period(office: Office):
    check = office.check(office.filled("SX01"), period="2014-06")
    f = finding(check, "wrong-period")
    assert "2014年5月" in f.message and "2014年6月" in f.message


def test_plan_changed_compatible_is_accepted_with_warning(office: Office):
    from reporting.plan.example import example_sheets, write_plan

    data = office.filled("SX01")
    office.collect(received_at=ON_TIME)  # records the current plan version
    sheets = example_sheets()
    sheets["方案"][[r[0] for r in sheets["方案"]].index("联系电话")][1] = "0571-00000000"
    write_plan(office.ws.plan_path, sheets)
    office.drop("a.xlsx", data)
    result = office.collect(received_at=ON_TIME)
    f = result.files[0]
    assert f.state == "accepted"
    assert [(x.code, str(x.severity)) for x in f.findings] == [("plan-changed", "warning")]


def test_plan_changed_incompatible_is_rejected(office: Office):
    from reporting.plan.example import example_sheets, write_plan

    data = office.filled("SX01")
    office.collect(received_at=ON_TIME)
    sheets = example_sheets()
    sheets["月报指标"].append(["B10", "新增指标", "次", "整数", 0, None, "否", "求和", ""])
    write_plan(office.ws.plan_path, sheets)
    office.drop("a.xlsx", data)
    result = office.collect(received_at=ON_TIME)
    f = result.files[0]
    assert f.state == "rejected" and "plan-changed" in {x.code for x in f.findings}
    fb = openpyxl.load_workbook(f.feedback)
    assert "B10" in [c.value for c in fb["月报数据"]["A"]]  # a fresh form of the new plan


def test_structure_changed_inserted_column(office: Office):
    check = office.check(edit(office.filled("SX01"), lambda wb: wb["月报数据"].insert_cols(3)))
    f = finding(check, "structure-changed")
    assert f.sheet == "月报数据" and "C2" in f.message


def test_structure_changed_renamed_sheet(office: Office):
    def rename(wb):
        wb["整改台账"].title = "台账"

    f = finding(office.check(edit(office.filled("SX01"), rename)), "structure-changed")
    assert f.sheet == "整改台账" and "缺少工作表" in f.message


def test_empty_return(office: Office):
    check = office.check(office.form("SX01").read_bytes())
    assert codes(check) == {"empty-return"}


def set_cells(data: bytes, sheet: str, cells: dict[str, object]) -> bytes:
    def change(wb):
        for ref, value in cells.items():
            wb[sheet][ref] = value

    return edit(data, change)


def test_required_missing(office: Office):
    filling = office.filling("SX01")
    filling.indicators.pop("B03")
    f = finding(office.check(office.filled("SX01", filling)), "required-missing")
    assert (f.sheet, f.cell, f.label) == ("月报数据", "F5", "B03 开展宣传报道次数")


def test_type_error(office: Office):
    data = set_cells(office.filled("SX01"), "月报数据", {"F3": "约50人"})
    f = finding(office.check(data), "type-error")
    assert (f.cell, f.label) == ("F3", "B01 参加学习人数") and "约50人" in f.message


def test_numbers_typed_as_text_are_accepted(office: Office):
    data = set_cells(office.filled("SX01"), "月报数据", {"F3": " ５０ ", "F5": "1,2"})
    check = office.check(data)
    values = {v.indicator_code: v.value for v in check.extracted.values}
    assert values["B01"] == 50 and values["B03"] == 12


def test_out_of_range(office: Office):
    f = finding(
        office.check(set_cells(office.filled("SX01"), "月报数据", {"F5": 501})), "out-of-range"
    )
    assert f.cell == "F5" and "0–500" in f.message


def test_not_in_list(office: Office):
    f = finding(
        office.check(set_cells(office.filled("SX01"), "规定动作", {"G3": "做完了"})), "not-in-list"
    )
    assert (f.sheet, f.cell) == ("规定动作", "G3")


def test_date_out_of_window(office: Office):
    data = set_cells(
        office.filled("SX01"), "规定动作", {"G3": "已完成", "H3": 1, "I3": datetime(2013, 12, 1)}
    )
    f = finding(office.check(data), "date-out-of-window")
    assert f.cell == "I3" and "2014-04-10" in f.message


def test_rule_violation_against_headcount(office: Office):
    f = finding(
        office.check(set_cells(office.filled("SX01"), "月报数据", {"F3": 127})), "rule-violation"
    )
    assert f.cell == "F3" and "126" in f.message


def test_rule_violation_between_indicators(office: Office):
    data = set_cells(office.filled("SX01"), "月报数据", {"F3": 10, "F4": 21})
    f = finding(office.check(data), "rule-violation")
    assert f.cell == "F4" and "参加学习人数" in f.message


def test_too_long(office: Office):
    data = set_cells(office.filled("SX01"), "月报数据", {"F11": "好" * 501})
    assert finding(office.check(data), "too-long").cell == "F11"


def test_duplicate_row(office: Office):
    row = {
        "问题描述": "学习不深入",
        "整改措施": "集中学习",
        "整改时限": date(2014, 9, 30),
        "责任领导": "王",
        "责任人": "李",
        "整改状态": "整改中",
    }
    filling = office.filling("SX01")
    filling.ledgers["整改台账"] = [row, dict(row)]
    f = finding(office.check(office.filled("SX01", filling)), "duplicate-row")
    assert (f.sheet, f.cell) == ("整改台账", "A4") and "第3行" in f.message


@pytest.mark.parametrize(
    ("cells", "cell", "severity"),
    [
        ({"G3": "已完成", "H3": 1, "I3": None}, "I3", "error"),  # done without a date
        ({"G3": "进行中", "H3": None, "I3": datetime(2014, 4, 20)}, "I3", "warning"),
        ({"G9": "已完成", "H9": 1, "I9": datetime(2014, 5, 20)}, "H9", "error"),  # A07 needs 2
    ],
)
def test_activity_inconsistent(office: Office, cells, cell, severity):
    f = finding(
        office.check(set_cells(office.filled("SX01"), "规定动作", cells)), "activity-inconsistent"
    )
    assert (f.cell, str(f.severity)) == (cell, severity)


def test_formula_uncalculated_is_never_read_as_zero(office: Office):
    data = set_cells(office.filled("SX01"), "月报数据", {"F5": "=10+2"})
    check = office.check(data)
    f = finding(check, "formula-uncalculated")
    assert f.cell == "F5"
    values = {v.indicator_code: v.value for v in check.extracted.values}
    assert values["B03"] is None


def test_macro_present_is_a_warning(office: Office):
    data = office.filled("SX01")
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "[Content_Types].xml":
                body = body.replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml")
            out.writestr(item, body)
        out.writestr("xl/vbaProject.bin", b"\0" * 64)
    check = office.check(buf.getvalue())
    assert finding(check, "macro-present").severity == "warning"


def test_every_intake_code_has_a_test():
    from reporting.findings import CATALOGUE

    here = Path(__file__).parent
    text = "".join((here / n).read_text("utf-8") for n in ("test_intake.py", "test_inspection.py"))
    missing = [c for c, e in CATALOGUE.items() if e.stage == "intake" and f'"{c}"' not in text]
    assert not missing


# --------------------------------------------------------------------------- batch behaviour


def test_same_bytes_twice_is_one_submission_and_rerun_is_a_no_op(office: Office):
    data = office.filled("SX01")
    office.drop("a.xlsx", data)
    office.drop("副本/a (1).xlsx", data)
    first = office.collect(received_at=ON_TIME)
    assert [f.state for f in first.files] == ["duplicate", "accepted"] or [
        f.state for f in first.files
    ] == ["accepted", "duplicate"]
    t = first.totals
    assert t["received"] == t["accepted"] + t["rejected"] + t["duplicate"] + t["skipped"]
    with office.store() as store:
        before = len(store.submissions())
    again = office.collect(received_at=LATE)
    assert {f.state for f in again.files} == {"duplicate"}
    with office.store() as store:
        assert len(store.submissions()) == before
        sub = store.current_submission("SX01", "2014-05")
        assert sub.received_at == ON_TIME and not sub.late


def test_later_return_supersedes_earlier(office: Office):
    office.drop("first.xlsx", office.filled("SX01", seed=1))
    office.collect(received_at=ON_TIME)
    second = office.filling("SX01", seed=2)
    office.drop("second.xlsx", office.filled("SX01", second))
    office.collect(received_at=datetime(2014, 6, 4, 9))
    with office.store() as store:
        subs = store.submissions(period="2014-05")
        states = {s.original_name: s.state for s in subs}
        assert states == {"first.xlsx": "superseded", "second.xlsx": "accepted"}
    assert_round_trip(office, "SX01", second)


def test_late_return(office: Office):
    office.drop("late.xlsx", office.filled("SX01"))
    result = office.collect(received_at=LATE)
    f = result.files[0]
    assert (f.state, f.late, f.days_late) == ("accepted", True, 4)  # deadline 2014-06-05
    assert result.totals["late"] == 1


def test_dry_run_records_and_writes_nothing(office: Office):
    office.drop("bad.xlsx", set_cells(office.filled("SX01"), "月报数据", {"F3": "约50人"}))
    result = office.collect(received_at=ON_TIME, dry_run=True)
    assert result.files[0].state == "rejected"
    assert not office.ws.archive.exists()
    assert not (office.ws.outbox / "feedback").exists()
    with office.store() as store:
        assert store.submissions() == []


def test_rejected_return_gets_feedback_and_chat_text(office: Office):
    office.drop("bad.xlsx", set_cells(office.filled("SX01"), "月报数据", {"F3": "约50人"}))
    result = office.collect(received_at=ON_TIME)
    f = result.files[0]
    folder = office.ws.outbox / "feedback" / "2014-05"
    assert f.feedback == folder / "SX01_杭州市卫生计生委_退回修改.xlsx"
    wb = openpyxl.load_workbook(f.feedback)
    assert wb.sheetnames[0] == "问题清单"
    issues = [[c.value for c in row] for row in wb["问题清单"].iter_rows(min_row=2)]
    assert any(r[3:5] == ["F3", "B01 参加学习人数"] for r in issues if r[0])
    assert wb["月报数据"]["F3"].value == "约50人"
    assert wb["月报数据"]["F3"].comment is not None
    assert wb["_meta"].sheet_state == "veryHidden"
    chat = (office.ws.outbox / "feedback" / "2014-05" / "退回通知_2014-05.txt").read_text("utf-8")
    assert "杭州市卫生计生委" in chat and "约50人" in chat


def test_the_chat_notice_lists_each_units_latest_return_with_findings_in_roster_order(
    office: Office,
):
    """退回通知 is rebuilt from the store: a paragraph per unit whose latest return has
    findings, none for a unit whose latest return is clean, nor for a rejected return of a
    unit that also has an accepted one; superseded returns do not count."""
    bad = {"F3": "约50人"}  # an error
    warned = {"G3": "进行中", "H3": None, "I3": datetime(2014, 4, 20)}  # a warning only
    office.drop("a.xlsx", set_cells(office.filled("SX03"), "月报数据", bad))
    office.drop("b1.xlsx", set_cells(office.filled("SX01"), "月报数据", bad))
    office.drop("c.xlsx", set_cells(office.filled("SX02"), "规定动作", warned))
    office.drop("d1.xlsx", office.filled("SX04"))
    office.drop("e1.xlsx", set_cells(office.filled("SX05"), "月报数据", {"F3": "五十"}))
    office.drop("f1.xlsx", set_cells(office.filled("SX06"), "规定动作", warned))
    office.collect(received_at=ON_TIME)
    office.drop("b2.xlsx", office.filled("SX01", seed=1))  # corrected: clean
    office.drop("d2.xlsx", set_cells(office.filled("SX04", seed=1), "月报数据", bad))
    office.drop("e2.xlsx", set_cells(office.filled("SX05", seed=1), "月报数据", bad))
    office.drop("f2.xlsx", office.filled("SX06", seed=1))  # supersedes the warned one
    office.collect(received_at=LATE)
    notice = office.ws.outbox / "feedback" / "2014-05" / "退回通知_2014-05.txt"
    paragraphs = notice.read_text("utf-8").split("\n\n")
    assert [p.split("\n", 1)[0] for p in paragraphs] == [
        "【审核提示】宁波市卫生计生委：你单位2014年5月报送的《c.xlsx》已接收，请注意：",
        "【退回修改】温州市卫生计生委：你单位2014年5月报送的《a.xlsx》有 1 处需修改：",
        "【退回修改】湖州市卫生局：你单位2014年5月报送的《e2.xlsx》有 1 处需修改：",
    ]
    assert "约50人" in paragraphs[2] and "五十" not in paragraphs[2]


def test_a_feedback_that_cannot_be_written_leaves_the_file_for_the_next_run(office: Office):
    """On Windows a clerk who has last run's 退回修改表 open in Excel blocks its rewrite. The
    return was then recorded as unreadable ("程序内部错误"), for good: a re-run saw a duplicate.
    Now it is skipped, not recorded, and the next run checks it and writes the feedback."""
    office.drop("bad.xlsx", set_cells(office.filled("SX02"), "月报数据", {"F5": 9999}))
    feedback = office.ws.outbox / "feedback" / "2014-05" / "SX02_宁波市卫生计生委_退回修改.xlsx"
    feedback.mkdir(parents=True)  # os.replace cannot put a file there, as with a locked file
    first = office.collect(received_at=ON_TIME)
    (report,) = first.files
    assert (report.state, report.retry, first.ok) == ("skipped", True, False)
    assert feedback.name in report.note and "重新运行 collect" in report.note
    with office.store() as store:
        assert store.submissions() == []
    feedback.rmdir()
    second = office.collect(received_at=ON_TIME)
    (report,) = second.files
    assert report.state == "rejected" and {f.code for f in report.findings} == {"out-of-range"}
    assert report.feedback == feedback and feedback.is_file()


def test_a_file_changed_while_collected_is_left_for_the_next_run(
    office: Office, monkeypatch: pytest.MonkeyPatch
):
    """The parent hashes what it read; the worker reads the file again. Bytes that differ (a
    mail client still saving the attachment) were recorded as an unreadable return under the
    first hash; now the file is skipped and the next run records it as it is."""
    from reporting.intake import sources

    office.drop("ok.xlsx", office.filled("SX01"))
    read = sources.SourceReader.read
    monkeypatch.setattr(sources.SourceReader, "read", lambda self, s: read(self, s) + b"\0")
    first = office.collect(received_at=ON_TIME)
    (report,) = first.files
    assert (report.state, report.retry) == ("skipped", True) and "被改动" in report.note
    with office.store() as store:
        assert store.submissions() == []
    monkeypatch.undo()
    (report,) = office.collect(received_at=ON_TIME).files
    assert (report.state, report.unit) == ("accepted", "SX01")


def test_the_parent_archives_from_the_inbox_again_and_checks_the_bytes(
    office: Office, monkeypatch: pytest.MonkeyPatch
):
    """A file that kills its worker is archived by the parent, which reads it from the inbox
    again (it does not keep every read-ahead file's bytes): bytes that differ from those first
    hashed leave the file for the next run instead of archiving something else."""
    from reporting.intake import sources

    hostile = Path(__file__).parent / "fixtures" / "hostile"
    office.drop("lie.xlsx", (hostile / "cell_at_xfd1048576_lying_dimension.xlsx").read_bytes())
    monkeypatch.setattr(sources.Source, "read_bytes", lambda self: b"other bytes")
    (report,) = office.collect(received_at=ON_TIME).files
    assert (report.state, report.retry) == ("skipped", True)
    with office.store() as store:
        assert store.submissions() == []
    assert not office.ws.archive.exists() or not any(office.ws.archive.rglob("*.xlsx"))
    monkeypatch.undo()
    (report,) = office.collect(received_at=ON_TIME).files
    assert report.state == "rejected" and report.findings[0].code == "unreadable"


def test_an_archive_that_cannot_be_written_stops_the_run(office: Office):
    from reporting.errors import ReportingError

    office.drop("ok.xlsx", office.filled("SX01"))
    office.ws.archive.mkdir(parents=True, exist_ok=True)
    (office.ws.archive / "2014-05").write_text("not a folder")  # mkdir fails below it
    with pytest.raises(ReportingError, match="无法把原件写入存档"):
        office.collect(received_at=ON_TIME)
    with office.store() as store:
        assert store.submissions() == []
    assert (office.ws.inbox / "ok.xlsx").is_file()


def test_corrected_feedback_file_is_accepted(office: Office):
    office.drop("bad.xlsx", set_cells(office.filled("SX01"), "月报数据", {"F3": "约50人"}))
    feedback = office.collect(received_at=ON_TIME).files[0].feedback
    fixed = set_cells(feedback.read_bytes(), "月报数据", {"F3": 126})
    office.drop("改好了.xlsx", fixed)
    result = office.collect(received_at=datetime(2014, 6, 4, 8))
    new = next(f for f in result.files if f.path == "改好了.xlsx")
    assert new.state == "accepted" and new.findings == (), new.as_json()
    values = stored(office, "SX01")[1]
    assert values["B01"] == 126


def test_zip_of_returns_and_skipped_files(office: Office):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("附件/宁波.xlsx", office.filled("SX02"))
        zf.writestr("附件/温州.xlsx", office.filled("SX03"))
    office.drop("打包.zip", buf.getvalue())
    office.drop("~$宁波.xlsx", b"lock")
    result = office.collect(received_at=ON_TIME)
    states = {f.path: f.state for f in result.files}
    assert states["打包.zip!附件/宁波.xlsx"] == "accepted"
    assert states["打包.zip!附件/温州.xlsx"] == "accepted"
    assert states["~$宁波.xlsx"] == "skipped"
    assert result.totals["received"] == 3


def test_files_are_reported_in_inbox_order_with_a_true_progress_total(office: Office):
    """The scan feeds the workers as it goes: skipped files keep their place in inbox order,
    and the progress bar ends at exactly the number of sources (archive members included)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # members written out of path order
        zf.writestr("z/温州.xlsx", office.filled("SX03"))
        zf.writestr("a/宁波.xlsx", office.filled("SX02"))
    office.drop("b打包.zip", buf.getvalue())
    office.drop("a.xlsx", office.filled("SX01"))
    office.drop("c说明.pdf", b"%PDF-1.4\n")
    office.drop("d/~$锁.xlsx", b"lock")
    office.drop("d/e.xlsx", office.filled("SX04"))
    calls: list[tuple[int, int]] = []
    result = office.collect(received_at=ON_TIME, progress=lambda d, t: calls.append((d, t)))
    assert [(f.path, f.state) for f in result.files] == [
        ("a.xlsx", "accepted"),
        ("b打包.zip!a/宁波.xlsx", "accepted"),
        ("b打包.zip!z/温州.xlsx", "accepted"),
        ("c说明.pdf", "skipped"),
        ("d/e.xlsx", "accepted"),
        ("d/~$锁.xlsx", "skipped"),
    ]
    assert calls[0] == (0, 5)  # the quick count sees the archive as one file
    assert calls[-1] == (6, 6)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    with office.store() as store:
        subs = store.submissions(kind="unit")
    assert [s.original_path for s in subs] == [
        "a.xlsx",
        "b打包.zip!a/宁波.xlsx",
        "b打包.zip!z/温州.xlsx",
        "d/e.xlsx",
    ]
    assert [s.original_name for s in subs] == ["a.xlsx", "宁波.xlsx", "温州.xlsx", "e.xlsx"]
    assert [s.archive_path for s in subs] == [
        f"archive{os.sep}2014-05{os.sep}{s.unit_code}_{s.sha256}.xlsx" for s in subs
    ]


@pytest.mark.parametrize(
    "text",
    [
        "a.xlsx",
        "d/e.xlsx",
        "a.zip!附件/宁波.xlsx",
        "a//b",
        "a/",
        "a/.",
        "a/..",
        ".",
        "",
        "/",
        "附件\\宁波.xlsx",
        "C:x.xlsx",
        "c:/x/y.xlsx",
        "a/b/./c",
        "../x",
    ],
)
def test_stored_names_and_archive_paths_are_what_pathlib_makes(text: str, tmp_path: Path):
    from reporting.intake.collect import _name, _relative

    assert _name(text) == Path(text).name
    root = tmp_path / "ws"
    under = root / "archive" / "2014-05" / "U1_ab.xlsx"
    assert _relative(str(under), root) == str(under.relative_to(root))
    assert _relative(str(under), Path(str(root) + os.sep)) == str(under.relative_to(root))
    if text and not Path(text).is_absolute():
        assert _relative(str(root / text), root) == str((root / text).relative_to(root))
    with pytest.raises(ValueError):
        _relative(str(tmp_path / "other" / "x.xlsx"), root)


def test_the_plan_version_is_kept_once_with_its_snapshot(office: Office):
    from reporting.plan import snapshot
    from reporting.plan.load import require_plan_result

    office.drop("a.xlsx", office.filled("SX01"))
    office.collect(received_at=ON_TIME)

    def kept() -> list[tuple]:
        with office.store() as store:
            return store._conn.execute("SELECT * FROM plan_versions").fetchall()

    first = kept()
    office.drop("b.xlsx", office.filled("SX02"))
    office.collect(received_at=LATE)
    assert kept() == first  # not written again (first_seen included)
    (version, _, _, text, _) = first[0]
    assert len(first) == 1 and version == office.plan.version
    assert text == snapshot.dump(require_plan_result(office.ws.plan_path))


def test_collect_lock_refuses_a_second_run(office: Office):
    from reporting.store import StoreLocked

    with office.store() as store, store.lock("collect"), pytest.raises(StoreLocked):
        office.collect(received_at=ON_TIME)


@pytest.mark.parametrize("commit_every", [1, 64])
def test_interrupted_run_is_completed_by_the_next(office: Office, monkeypatch, commit_every):
    """A crash after archiving, before recording: the next run records each file once. Files
    are committed in groups, so those of the interrupted group are processed again."""
    from reporting.intake import collect as collect_mod

    monkeypatch.setattr(collect_mod, "COMMIT_FILES", commit_every)
    office.drop("a.xlsx", office.filled("SX01"))
    office.drop("b.xlsx", office.filled("SX02"))
    calls = {"n": 0}
    real = collect_mod.Store.record_submission

    def dying(self, rec, run_id, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the clerk pressed Ctrl+C mid-batch
        return real(self, rec, run_id, **kw)

    monkeypatch.setattr(collect_mod.Store, "record_submission", dying)
    with pytest.raises(KeyboardInterrupt):
        office.collect(received_at=ON_TIME)
    monkeypatch.setattr(collect_mod.Store, "record_submission", real)
    with office.store() as store:  # what the interrupted run left committed
        left = sorted(s.unit_code for s in store.submissions())
    assert left == (["SX01"] if commit_every == 1 else [])
    result = office.collect(received_at=ON_TIME)
    states = {f.unit: f.state for f in result.files}
    assert states == {"SX01": "duplicate" if commit_every == 1 else "accepted", "SX02": "accepted"}
    with office.store() as store:
        assert sorted(s.unit_code for s in store.submissions(states=["accepted"])) == [
            "SX01",
            "SX02",
        ]
        assert store.integrity_check() == []


def test_collect_json_contract(office: Office):
    from typer.testing import CliRunner

    from cli import app

    office.drop("ok.xlsx", office.filled("SX01"))
    office.drop("bad.xlsx", set_cells(office.filled("SX02"), "月报数据", {"F5": 9999}))
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    res = runner.invoke(
        app, ["collect", "-w", str(office.ws.root), "--json", "--received-at", "2014-06-03T10:00"]
    )
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert set(data["totals"]) >= {"received", "accepted", "rejected", "duplicate", "skipped"}
    files = {f["path"]: f for f in data["files"]}
    assert files["ok.xlsx"]["state"] == "accepted" and files["ok.xlsx"]["unit"] == "SX01"
    assert files["bad.xlsx"]["findings"][0] == {
        "code": "out-of-range",
        "severity": "error",
        "sheet": "月报数据",
        "cell": "F5",
        "message": files["bad.xlsx"]["findings"][0]["message"],
    }
    for f in data["files"]:
        assert {"path", "sha256", "unit", "period", "kind", "state", "findings"} <= set(f)
    ok = runner.invoke(app, ["collect", "-w", str(office.ws.root), "--json"])
    assert ok.exit_code == 0  # nothing new: all duplicates
    assert Period(2014, 5)


def test_originals_are_archived_verified_and_never_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    from reporting.errors import ReportingError
    from reporting.intake import collect as collect_mod

    data = b"PK\x03\x04 original bytes" * 100
    sha = hashlib.sha256(data).hexdigest()
    path = collect_mod.archive_original(tmp_path, data, sha, "xlsx", "SX01", "2014-05")
    assert path == tmp_path / "2014-05" / f"SX01_{sha}.xlsx"
    assert path.read_bytes() == data
    assert collect_mod.archive_original(tmp_path, data, sha, "xlsx", "SX01", "2014-05") == path
    path.write_bytes(data[:10])  # a damaged copy is replaced
    collect_mod.archive_original(tmp_path, data, sha, "xlsx", "SX01", "2014-05")
    assert path.read_bytes() == data
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left

    # a temporary file left by a killed run under this process's name is stepped around and
    # left alone; a folder removed since the last original is made again
    left = path.parent / f".{path.name}.{os.getpid()}.tmp"
    left.write_bytes(b"half")
    path.unlink()
    assert collect_mod.archive_original(tmp_path, data, sha, "xlsx", "SX01", "2014-05") == path
    assert path.read_bytes() == data and left.read_bytes() == b"half"
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, left.name])
    shutil.rmtree(path.parent)
    assert collect_mod.archive_original(tmp_path, data, sha, "xlsx", "SX01", "2014-05") == path
    assert path.read_bytes() == data

    # bytes that do not read back as written: refused, nothing left under either name
    real_read = collect_mod.os.read
    other = b"other bytes"
    other_sha = hashlib.sha256(other).hexdigest()
    with monkeypatch.context() as patch, pytest.raises(ReportingError, match="校验失败"):
        patch.setattr(collect_mod.os, "read", lambda fd, n: real_read(fd, n)[:-1] + b"?")
        collect_mod.archive_original(tmp_path, other, other_sha, "xls", None, None)
    assert list((tmp_path / "未识别").iterdir()) == []


def test_a_return_is_recorded_only_once_its_original_is_on_disk(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The workers archive without an fsync; the parent's SyncQueue flushes the originals and a
    # submission enters the store only after its original's flush has finished.
    import time

    from reporting.fsutil import SyncQueue
    from reporting.intake import collect as collect_mod
    from reporting.store import Store

    on_disk: set[str] = set()

    class SlowDisk(SyncQueue):
        def _sync(self, batch):
            time.sleep(0.2)  # long after the worker's result is back
            super()._sync(batch)
            on_disk.update(os.path.realpath(t.path) for t in batch)

    recorded: list[str] = []
    real = Store.record_submission

    def record(self, rec, run_id, **kw):
        archived = os.path.realpath(office.ws.root / rec.archive_path)
        assert archived in on_disk, f"{rec.original_path} recorded before its original was synced"
        recorded.append(rec.original_path)
        return real(self, rec, run_id, **kw)

    for code in ("SX01", "SX02", "SX03"):
        office.drop(f"{code}.xlsx", office.filled(code))
    monkeypatch.setattr(collect_mod, "SyncQueue", SlowDisk)
    monkeypatch.setattr(Store, "record_submission", record)
    office.collect(received_at=ON_TIME)
    assert recorded == ["SX01.xlsx", "SX02.xlsx", "SX03.xlsx"]


def test_an_original_that_cannot_reach_the_disk_stops_the_run_unrecorded(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from reporting import fsutil
    from reporting.errors import ReportingError
    from reporting.fsutil import SyncQueue
    from reporting.intake import collect as collect_mod

    def no_space(path: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    office.drop("SX01.xlsx", office.filled("SX01"))
    office.drop("SX02.xlsx", office.filled("SX02"))
    with monkeypatch.context() as patch:
        patch.setattr(collect_mod, "SyncQueue", lambda: SyncQueue(syncfs=None))  # file by file
        patch.setattr(fsutil, "fsync_path", no_space)
        with pytest.raises(ReportingError, match=r"无法把原件写入存档.*已停止，收件箱未改动"):
            office.collect(received_at=ON_TIME)
    with office.store() as store:
        assert store.submissions_by_sha() == {}
    assert sorted(p.name for p in office.ws.inbox.iterdir()) == ["SX01.xlsx", "SX02.xlsx"]
    # the disk is back: the next run records both
    result = office.collect(received_at=ON_TIME)
    assert [f.state for f in result.files] == ["accepted", "accepted"]
    with office.store() as store:
        assert len(store.submissions_by_sha()) == 2


def test_with_period_a_form_of_another_month_waits_for_its_own_run(office: Office) -> None:
    # A unit sends its June form early while the clerk collects May only: not rejected (recorded,
    # the same bytes would be a duplicate for ever after), left in the inbox for June's run.
    office.drop("六月.xlsx", office.filled("SX01", period="2014-06"))
    office.drop("五月.xlsx", office.filled("SX02"))
    may = office.collect(period="2014-05", received_at=ON_TIME)
    files = {f.path: f for f in may.files}
    assert files["五月.xlsx"].state == "accepted"
    june = files["六月.xlsx"]
    assert (june.state, june.retry, june.sha256) == ("skipped", True, None)
    assert "2014年6月" in june.note and "2014年5月" in june.note
    assert not may.ok  # exit 1: a file is left for later
    with office.store() as store:
        assert [s.period for s in store.submissions_by_sha().values()] == ["2014-05"]
    assert not (office.ws.archive / "2014-06").exists()
    assert not (office.ws.outbox / "feedback" / "2014-06").exists()
    assert (office.ws.inbox / "六月.xlsx").exists()

    later = office.collect(period="2014-06", received_at=ON_TIME)
    states = {f.path: f.state for f in later.files}
    assert states == {"六月.xlsx": "accepted", "五月.xlsx": "duplicate"}
    assert office.collect(received_at=ON_TIME).ok  # and then nothing is left over
