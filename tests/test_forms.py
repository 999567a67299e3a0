"""Unit forms, reopened with openpyxl: sheets, validations, protection, metadata, pre-fill."""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from reporting.errors import UsageError
from reporting.forms import Prefill, generate_forms
from reporting.forms.layout import (
    ACTIVITIES,
    INDICATORS,
    INSTRUCTIONS,
    META,
    FormMeta,
    build_layout,
    verify,
)
from reporting.forms.writer import FORMULA_FUNCTIONS
from reporting.periods import Period
from reporting.plan.load import require_plan
from reporting.workspace import Workspace

MAY = Period(2014, 5)


class FakePrefill:
    def __init__(self, by_unit: dict[str, Prefill]) -> None:
        self.by_unit = by_unit

    def prefill(self, plan, unit, period):
        return self.by_unit.get(unit.code, Prefill())


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Any]:
    from reporting.workspace import init_workspace

    root = tmp_path_factory.mktemp("forms") / "ws"
    ws = init_workspace(root).workspace
    plan = require_plan(ws.plan_path)
    evil = '=HYPERLINK("http://x.example","点我")'
    prefill = FakePrefill(
        {
            "SX02": Prefill(
                activities={
                    "A01": {
                        "status": "已完成",
                        "count": 1,
                        "done_date": date(2014, 4, 20),
                        "participants": 80,
                        "form": "会议",
                        "evidence": evil,
                        "note": None,
                    }
                },
                ledger_rows={
                    "整改台账": [
                        {
                            "问题描述": f"问题{i}",
                            "整改措施": "措施",
                            "整改时限": date(2014, 9, 30),
                            "责任领导": "张三",
                            "责任人": "李四",
                            "整改状态": "整改中",
                        }
                        for i in range(250)
                    ]
                },
                source="2014-04 已采用的报送",
            )
        }
    )
    result = generate_forms(
        ws,
        plan,
        MAY,
        unit_codes=["SX01", "SX02", "YL01", "ZS01"],
        prefill=prefill,
        workers=1,
        now=datetime(2014, 5, 25, 9, 30),
    )
    return {"ws": ws, "plan": plan, "result": result, "evil": evil}


def book(generated, code: str, **kw) -> openpyxl.Workbook:
    path = next(f.path for f in generated["result"].files if f.unit_code == code)
    return openpyxl.load_workbook(path, **kw)


def meta_of(wb) -> FormMeta:
    ws = wb[META]
    rows = {str(r[0]): str(r[1] or "") for r in ws.iter_rows(min_row=2, values_only=True) if r[0]}
    return FormMeta.from_rows(rows)


def test_files_named_for_clerks_and_zipped(generated):
    result = generated["result"]
    names = sorted(f.path.name for f in result.files)
    assert names == [
        "SX01_杭州市卫生计生委_2014-05.xlsx",
        "SX02_宁波市卫生计生委_2014-05.xlsx",
        "YL01_浙江大学医学院附属第一医院_2014-05.xlsx",
        "ZS01_浙江省卫生监督所_2014-05.xlsx",
    ]
    assert result.folder == generated["ws"].outbox / "forms" / "2014-05"
    with zipfile.ZipFile(result.archive) as zf:
        assert sorted(zf.namelist()) == names


def test_sheets_and_very_hidden_metadata(generated):
    wb = book(generated, "SX01")
    assert wb.sheetnames == [INSTRUCTIONS, ACTIVITIES, INDICATORS, "整改台账", "典型推荐", META]
    assert wb[META].sheet_state == "veryHidden"
    assert all(wb[n].sheet_state == "visible" for n in wb.sheetnames[:-1])
    meta = meta_of(wb)
    plan = generated["plan"]
    assert (meta.kind, meta.unit_code, meta.period, meta.plan_version, meta.plan_id) == (
        "unit",
        "SX01",
        "2014-05",
        plan.version,
        plan.plan_id,
    )
    assert meta.layout_version == "1" and meta.generated_at == "2014-05-25T09:30:00"
    layout = build_layout(plan, plan.unit("SX01"), MAY, meta.ledger_rows)
    assert meta.fingerprint == layout.fingerprint()
    assert verify(generated["ws"].form_key(), meta)
    forged = FormMeta(**{**meta.__dict__, "unit_code": "SX02"})
    assert not verify(generated["ws"].form_key(), forged)


def test_activity_rows_follow_category(generated):
    def codes(unit):
        ws = book(generated, unit)[ACTIVITIES]
        return [ws.cell(r, 1).value for r in range(3, ws.max_row + 1) if ws.cell(r, 1).value]

    assert codes("SX01") == ["A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08"]
    assert codes("YL01") == ["A01", "A02", "A03", "A04", "A05", "A06", "A07"]
    assert codes("ZS01") == ["A01", "A02", "A03", "A04", "A06", "A07"]


def test_every_sheet_protected_and_only_inputs_unlocked(generated):
    wb = book(generated, "SX01")
    for name in wb.sheetnames:
        assert wb[name].protection.sheet, name
    acts = wb[ACTIVITIES]
    for col in "ABCDEF":
        assert acts[f"{col}3"].protection.locked, col
    for col in "GHIJKLM":
        assert not acts[f"{col}3"].protection.locked, col
    inds = wb[INDICATORS]
    assert inds["E3"].protection.locked and not inds["F3"].protection.locked
    assert not inds["G3"].protection.locked
    assert wb[INSTRUCTIONS]["B5"].protection.locked
    ledger = wb["整改台账"]
    assert [c.value for c in ledger[2]][:7] == [
        "问题描述*",
        "整改措施*",
        "整改时限*",
        "责任领导*",
        "责任人*",
        "整改状态*",
        "完成日期",
    ]
    assert ledger["A2"].protection.locked
    for index in range(1, 8):  # A..G: unlocked by column format (XlsxWriter merges ranges)
        dims = [d for d in ledger.column_dimensions.values() if d.min <= index <= d.max]
        assert dims and dims[0].protection.locked is False, index


def _validations(ws) -> dict[str, Any]:
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in str(dv.sqref).split():
            out[rng] = dv
    return out


def test_indicator_validations_carry_type_and_bounds(generated):
    dvs = _validations(book(generated, "SX01")[INDICATORS])
    b01, b03, b06 = dvs["F3"], dvs["F5"], dvs["F8"]
    assert (b01.type, b01.operator or "between", float(b01.formula1)) == ("whole", "between", 0)
    assert (b03.type, float(b03.formula1), float(b03.formula2)) == ("whole", 0, 500)
    assert (b06.type, float(b06.formula1), float(b06.formula2)) == ("decimal", 0, 100)
    assert dvs["F9"].type == "list" and dvs["F9"].formula1 == '"是,否"'
    assert dvs["F10"].type == "date"
    assert dvs["F11"].type == "textLength" and dvs["F11"].formula1 == "500"
    assert "整数" in b01.prompt and "职工人数（126）" in b01.prompt
    assert "范围 0–500" in b03.prompt and "小数" in b06.prompt
    for dv in (b01, b03, b06):
        assert dv.showInputMessage and dv.promptTitle and dv.showErrorMessage
        assert (dv.errorStyle or "stop") == "stop" and dv.error


def test_activity_and_ledger_validations(generated):
    wb = book(generated, "SX01")
    dvs = _validations(wb[ACTIVITIES])
    assert dvs["G3:G10"].type == "list" and "已完成" in dvs["G3:G10"].formula1
    assert dvs["I3:I10"].type == "date"
    assert dvs["J3:J10"].type == "whole" and dvs["J3:J10"].formula2 == "126"  # headcount
    ledger = _validations(wb["整改台账"])
    assert ledger["F3:F202"].type == "list" and "已完成" in ledger["F3:F202"].formula1
    assert ledger["C3:C202"].type == "date"
    assert ledger["A3:A202"].type == "textLength" and ledger["A3:A202"].formula1 == "200"


def test_required_cells_highlighted(generated):
    wb = book(generated, "SX01")
    cf = wb[INDICATORS].conditional_formatting
    blanks = {str(r.sqref) for r in cf for rule in r.rules if rule.type == "containsBlanks"}
    plan = generated["plan"]
    required = {f"F{3 + i}" for i, ind in enumerate(plan.indicators) if ind.required}
    assert blanks == required
    acts = {str(r.sqref) for r in wb[ACTIVITIES].conditional_formatting}
    assert "G3:G10" in acts


def test_self_check_formulas_use_only_plain_functions(generated):
    path = next(f.path for f in generated["result"].files if f.unit_code == "SX01")
    with zipfile.ZipFile(path) as zf:
        xml = "".join(zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/worksheets/"))
    formulas = re.findall(r"<f[^>]*>([^<]*)</f>", xml) + re.findall(r"<formula>([^<]*)<", xml)
    assert formulas
    used = set(re.findall(r"([A-Z][A-Z0-9]*)\(", " ".join(formulas)))
    assert used <= FORMULA_FUNCTIONS
    wb = book(generated, "SX01")
    conclusion = [
        c
        for row in wb[INSTRUCTIONS].iter_rows()
        for c in row
        if c.data_type == "f" and "可以报送" in str(c.value)
    ]
    assert len(conclusion) == 1


def test_prefill_carries_done_activities_and_open_ledger_items(generated):
    wb = book(generated, "SX02")
    acts = wb[ACTIVITIES]
    assert acts["A3"].value == "A01" and acts["G3"].value == "已完成"
    assert acts["I3"].value == datetime(2014, 4, 20) and acts["H3"].value == 1
    assert acts["G4"].value is None
    # unit text is a plain string, never a live formula
    assert acts["L3"].value == generated["evil"] and acts["L3"].data_type == "s"
    ledger = wb["整改台账"]
    assert ledger["A3"].value == "问题0" and ledger["F252"].value == "整改中"
    dvs = _validations(ledger)
    assert "F3:F302" in dvs  # 250 open items + 50 spare rows
    meta = meta_of(wb)
    assert meta.ledger_rows == {"整改台账": 300, "典型推荐": 200}
    plan = generated["plan"]
    assert (
        meta.fingerprint
        == build_layout(plan, plan.unit("SX02"), MAY, meta.ledger_rows).fingerprint()
    )


def test_print_setup(generated):
    ws = book(generated, "SX01")[ACTIVITIES]
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$2"
    assert ws.freeze_panes == "C3"


def test_unknown_unit_and_period_outside_campaign(generated):
    ws: Workspace = generated["ws"]
    plan = generated["plan"]
    with pytest.raises(UsageError, match="XX99"):
        generate_forms(ws, plan, MAY, unit_codes=["XX99"], workers=1)
    with pytest.raises(UsageError, match="活动期"):
        generate_forms(ws, plan, Period(2015, 1), workers=1)


def test_parallel_generation_matches(tmp_path: Path):
    from reporting.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws").workspace
    plan = require_plan(ws.plan_path)
    seen: list[tuple[int, int]] = []
    result = generate_forms(ws, plan, MAY, workers=2, progress=lambda d, t: seen.append((d, t)))
    assert len(result.files) == len(plan.units) == 34
    assert seen[-1] == (34, 34)
    assert all(f.path.is_file() and f.size > 10_000 for f in result.files)


def test_prefill_from_store_uses_latest_accepted_return(tmp_path: Path):
    """April's accepted return pre-fills May: done activities and open rectification items."""
    from reporting.forms.prefill import StorePrefill
    from reporting.store import ActivityRow, LedgerRow, Store, SubmissionRecord
    from reporting.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws").workspace
    plan = require_plan(ws.plan_path)
    act = ActivityRow("A01", "已完成", 1, date(2014, 4, 18), 90, "会议", "签到表", None)
    pending = ActivityRow("A02", "进行中", None, None, None, None, None, None)
    rows = (
        LedgerRow(
            "整改台账",
            1,
            {
                "问题描述": "学习不深入",
                "整改措施": "集中学习",
                "整改时限": date(2014, 6, 30),
                "责任领导": "王",
                "责任人": "李",
                "整改状态": "整改中",
            },
        ),
        LedgerRow(
            "整改台账",
            2,
            {
                "问题描述": "已解决的问题",
                "整改措施": "x",
                "整改时限": date(2014, 5, 1),
                "责任领导": "王",
                "责任人": "李",
                "整改状态": "已完成",
            },
        ),
        LedgerRow("典型推荐", 1, {"推荐类型": "先进个人", "名称": "张医生", "主要事迹": "事迹"}),
    )
    with Store.open(ws.store_path) as store:
        store.record_submission(
            SubmissionRecord(
                sha256="a" * 64,
                original_name="四月.xlsx",
                original_path=None,
                archive_path=None,
                size=1,
                format="xlsx",
                kind="unit",
                unit_code="SX01",
                period="2014-04",
                plan_version=plan.version,
                received_at=datetime(2014, 5, 3, 10),
                state="accepted",
                activities=(act, pending),
                ledger_rows=rows,
            ),
            run_id="t",
        )
        result = generate_forms(
            ws, plan, MAY, unit_codes=["SX01", "SX02"], prefill=StorePrefill(store), workers=1
        )
    by_unit = {f.unit_code: f for f in result.files}
    assert by_unit["SX01"].prefilled and not by_unit["SX02"].prefilled
    wb = openpyxl.load_workbook(by_unit["SX01"].path)
    acts = wb[ACTIVITIES]
    assert (acts["G3"].value, acts["J3"].value) == ("已完成", 90)
    assert acts["G4"].value is None  # "in progress" is not carried over
    ledger = wb["整改台账"]
    assert ledger["A3"].value == "学习不深入" and ledger["A4"].value is None
    assert wb["典型推荐"]["B3"].value is None  # nominations are not carried over
    notes = [
        c.value
        for row in wb[INSTRUCTIONS].iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value.startswith("预填说明")
    ]
    assert notes and "四月.xlsx" in notes[0]


def test_emoji_and_control_characters_in_plan_texts_keep_every_validation(tmp_path: Path, sheets):
    """A prompt title is at most 32 UTF-16 units (an emoji counts two; one more and XlsxWriter
    drops the whole validation), and a Word line break (\\x0b) pasted into the plan must not
    reach the file's XML (it would not open)."""
    from reporting.plan.example import write_plan
    from reporting.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws").workspace
    sheets.set("月报指标", 2, "名称", "😀" * 12 + "参加\x0b学习人数")
    write_plan(ws.plan_path, sheets)
    plan = require_plan(ws.plan_path)
    result = generate_forms(ws, plan, Period(2014, 5), unit_codes=["SX01", "YL01"])
    for form in result.files:
        with zipfile.ZipFile(form.path) as zf:
            xml = b"".join(zf.read(n) for n in zf.namelist() if n.endswith(".xml"))
        assert b"\x0b" not in xml
        wb = openpyxl.load_workbook(form.path)
        b01 = _validations(wb[INDICATORS])["F3"]
        assert b01.promptTitle.startswith("😀") and b01.promptTitle.endswith("…")
        assert len(b01.promptTitle.encode("utf-16-le")) // 2 <= 32
        assert "\x0b" not in (b01.prompt or "")
