"""Inspector sheets: generated per unit (Excel and Word), filled on site, returned through
``collect`` with their own findings, scored and ranked (``inspect`` and ``rank``)."""

from __future__ import annotations

import io
import json
import shutil
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from reporting.inspection.sheet import (
    FACTS,
    MAIN,
    SNAPSHOT_KEY,
    InspectionSheet,
    snapshot_text,
)
from reporting.inspection.simulate import InspectorFilling, fill_inspection
from reporting.periods import Period
from tests.conftest import Office
from tests.libreoffice import convert, needs_soffice

PERIOD = "2014-05"
ON_TIME = datetime(2014, 6, 3, 10, 0)
RETURNED = datetime(2014, 6, 20, 16, 0)
UNITS = ("SX01", "SX02", "YL01", "ZS01")
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
GOOD = InspectorFilling(
    scores={"K05": (9, "学习记录不全"), "K06": (10, None), "K07": (4.5, "窗口服务有投诉")},
    inspectors="陈明、王芳",
    day=date(2014, 6, 18),
    comment="组织有序。",
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace where three units reported May on time and inspector sheets were made for
    four units (ZS01 never reported)."""
    from reporting.inspection.service import make_inspection_sheets

    root = tmp_path_factory.mktemp("inspection") / "ws"
    office = Office(root)
    for n, code in enumerate(UNITS[:3]):
        office.drop(f"{code}.xlsx", office.filled(code, seed=n))
    result = office.collect(received_at=ON_TIME)
    assert result.ok, [(f.path, f.findings) for f in result.files]
    make_inspection_sheets(root, PERIOD, unit_codes=list(UNITS), as_of=date(2014, 6, 20))
    return root


@pytest.fixture
def office(base: Path, tmp_path: Path) -> Office:
    """A private copy of the base workspace (collect changes the store)."""
    root = tmp_path / "ws"
    shutil.copytree(base, root)
    office = Office.__new__(Office)
    from reporting.plan.load import require_plan
    from reporting.workspace import Workspace

    office.ws = Workspace(root)
    office.plan = require_plan(office.ws.plan_path)
    office.forms = {}
    return office


def sheet_path(office: Office, code: str, ext: str = "xlsx") -> Path:
    folder = office.ws.outbox / "inspection" / PERIOD
    (path,) = folder.glob(f"{code}_*_督导考评表_{PERIOD}.{ext}")
    return path


def filled(office: Office, code: str, filling: InspectorFilling = GOOD) -> bytes:
    return fill_inspection(sheet_path(office, code), filling)


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


def with_score(code: str, points, reason=None, **kw) -> InspectorFilling:
    scores = dict(GOOD.scores)
    scores[code] = (points, reason)
    return InspectorFilling(
        scores,
        kw.get("inspectors", GOOD.inspectors),
        kw.get("day", GOOD.day),
        GOOD.comment,
    )


# --------------------------------------------------------------------------- generation


def test_inspect_writes_a_protected_signed_excel_sheet(office: Office):
    path = sheet_path(office, "SX01")
    assert path.name == "SX01_杭州市卫生计生委_督导考评表_2014-05.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [MAIN, FACTS, "_meta"]
    assert wb["_meta"].sheet_state == "veryHidden"
    assert all(wb[name].protection.sheet for name in wb.sheetnames)
    main = wb[MAIN]
    rows = {main.cell(r, 1).value: r for r in range(1, main.max_row + 1)}
    k01, k05 = rows["K01"], rows["K05"]
    assert main.cell(k01, 5).value == "自动" and isinstance(main.cell(k01, 6).value, int | float)
    assert main.cell(k01, 7).value.startswith("动作完成率：")
    assert main.cell(k05, 5).value == "现场" and main.cell(k05, 6).value is None
    assert main.cell(k05, 6).protection.locked is False
    assert main.cell(k05, 7).protection.locked is False
    assert main.cell(k01, 6).protection.locked is not False
    score = next(dv for dv in main.data_validations.dataValidation if f"F{k05}" in str(dv.sqref))
    assert (score.type, float(score.formula1), float(score.formula2)) == ("decimal", 0, 10)
    assert score.prompt and "扣分理由" in score.prompt
    reason_cf = [
        rule.formula[0]
        for rng in main.conditional_formatting
        if str(rng.sqref) == f"G{k05}"
        for rule in rng.rules
    ]
    assert any("LEN(TRIM(" in f for f in reason_cf)
    facts = wb[FACTS]
    texts = [c.value for row in facts.iter_rows() for c in row if isinstance(c.value, str)]
    assert "举行一次专题学习会" in texts and "参加学习人数" in texts
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(min_row=2, values_only=True)}
    assert meta["kind"] == "inspection" and meta["unit_code"] == "SX01"
    sheet = InspectionSheet.from_json(meta[SNAPSHOT_KEY])
    assert sheet.fingerprint == meta["fingerprint"] and sheet.unit_code == "SX01"


def test_inspect_writes_a_word_sheet_in_a4_with_chinese_fonts(office: Office):
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Mm

    path = sheet_path(office, "SX01", "docx")
    doc = Document(str(path))
    section = doc.sections[0]
    assert abs(section.page_width - Mm(210)) < Mm(1)
    assert abs(section.page_height - Mm(297)) < Mm(1)
    rubric = doc.tables[1]
    assert len(rubric.rows) == 1 + len(office.plan.rubric) + 1  # header, items, total
    assert rubric.rows[1].cells[0].text == "K01" and rubric.rows[-1].cells[0].text == "合计"
    assert rubric.rows[5].cells[5].text == ""  # K05: scored on site, by hand
    normal = doc.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:eastAsia")) == "宋体"
    runs = [r for p in doc.paragraphs for r in p.runs if r.text.strip()]
    assert runs and all(r._element.rPr.rFonts.get(qn("w:eastAsia")) for r in runs)
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "督导组成员（签名）" in text and "被考评单位负责人（签名）" in text


def test_inspect_cli_and_unknown_unit(office: Office):
    from cli import app

    runner = CliRunner(env=ENV)
    result = runner.invoke(app, ["inspect", "-p", PERIOD, "-u", "SX02", "-w", str(office.ws.root)])
    assert result.exit_code == 0, result.output
    assert "已生成 1 个单位的督导考评表" in result.stdout
    result = runner.invoke(app, ["inspect", "-p", PERIOD, "-u", "XX99", "-w", str(office.ws.root)])
    assert result.exit_code == 2 and "XX99" in result.stderr


# --------------------------------------------------------------------------- validation


def test_filled_sheet_round_trips(office: Office):
    check = office.check(filled(office, "SX01"), PERIOD)
    assert check.kind == "inspection" and check.unit_code == "SX01"
    assert check.accepted and check.findings == ()
    rec = check.inspection.record
    assert rec.inspectors == "陈明、王芳" and rec.inspected_on == date(2014, 6, 18)
    assert rec.comment == "组织有序。"
    got = {s.item_code: (s.points, s.reason, s.max_points) for s in rec.scores}
    assert got == {
        "K05": (9.0, "学习记录不全", 10.0),
        "K06": (10.0, None, 10.0),
        "K07": (4.5, "窗口服务有投诉", 5.0),
    }


@needs_soffice
def test_sheet_resaved_by_libreoffice_round_trips(office: Office, tmp_path: Path):
    src = tmp_path / "filled.xlsx"
    src.write_bytes(filled(office, "SX02"))
    (resaved,) = convert([src], "xlsx", tmp_path / "lo")
    check = office.check(resaved.read_bytes(), PERIOD)
    assert check.accepted, [(f.code, f.message) for f in check.findings]
    assert check.inspection.record == office.check(src.read_bytes()).inspection.record


def test_deduction_without_reason(office: Office):
    check = office.check(filled(office, "SX01", with_score("K06", 8)))
    f = finding(check, "reason-missing")
    sheet = check.inspection.sheet
    assert f.cell == sheet.reason_ref("K06") and "扣了 2 分" in f.message
    assert not check.accepted


def test_score_out_of_range_and_not_a_number(office: Office):
    check = office.check(filled(office, "SX01", with_score("K05", 12, "太好")))
    assert "超出范围，本项满分 10 分" in finding(check, "score-out-of-range").message
    check = office.check(filled(office, "SX01", with_score("K05", -1, "差")))
    assert "score-out-of-range" in codes(check)
    check = office.check(filled(office, "SX01", with_score("K05", "九分")))
    assert "type-error" in codes(check)


def test_unscored_item_is_required(office: Office):
    check = office.check(filled(office, "SX01", with_score("K07", None)))
    f = finding(check, "required-missing")
    assert f.cell == check.inspection.sheet.score_ref("K07") and not check.accepted


def test_inspector_names_and_date_are_required(office: Office):
    check = office.check(filled(office, "SX01", with_score("K06", 10, inspectors="", day=None)))
    missing = [f for f in check.findings if f.code == "inspector-missing"]
    sheet = check.inspection.sheet
    assert {f.cell for f in missing} == {sheet.names_ref, sheet.date_ref}
    late = office.check(filled(office, "SX01", with_score("K06", 10, day=date(2014, 3, 1))))
    assert "date-out-of-window" in codes(late)


def test_empty_sheet_is_an_empty_return(office: Office):
    check = office.check(sheet_path(office, "SX01").read_bytes())
    assert codes(check) == {"empty-return"}


def test_sheet_for_another_period_or_unit(office: Office):
    check = office.check(filled(office, "SX01"), "2014-06")
    assert codes(check) == {"wrong-period"}
    from reporting.intake.reader import read_workbook
    from reporting.intake.validate import IntakeContext, check_workbook
    from reporting.plan.example import example_sheets
    from reporting.plan.load import parse_plan

    # SX01 was taken off the roster after its sheet was made (that plan version stays known)
    sheets = example_sheets()
    sheets["单位"] = [r for r in sheets["单位"] if r[0] != "SX01"]
    current = parse_plan(sheets).plan
    ctx = IntakeContext(
        current,
        {office.plan.version: office.plan, current.version: current},
        office.ws.form_key(),
        Period.parse(PERIOD),
    )
    book = read_workbook(filled(office, "SX01")).book
    assert codes(check_workbook(book, ctx)) == {"unknown-unit"}


def test_changed_locked_cell_is_structure_changed(office: Office):
    def more_points(wb):
        ws = wb[MAIN]
        row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "K05")
        ws.cell(row, 4).value = 50

    check = office.check(edit(filled(office, "SX01"), more_points))
    assert "structure-changed" in codes(check) and not check.accepted


def test_tampered_snapshot_or_signature(office: Office):
    def raise_auto_score(wb):
        ws = wb["_meta"]
        for row in ws.iter_rows(min_row=2):
            if row[0].value == SNAPSHOT_KEY:
                row[1].value = row[1].value.replace('"points":40', '"points":60')

    check = office.check(edit(filled(office, "SX01"), raise_auto_score))
    assert codes(check) == {"metadata-tampered"}

    from reporting.intake.reader import read_workbook
    from reporting.intake.validate import IntakeContext, check_workbook

    other_key = IntakeContext(office.plan, {office.plan.version: office.plan}, b"x" * 32)
    book = read_workbook(filled(office, "SX01")).book
    assert codes(check_workbook(book, other_key)) == {"metadata-tampered"}
    unknown_plan = IntakeContext(office.plan, {}, office.ws.form_key())
    assert codes(check_workbook(book, unknown_plan)) == {"plan-changed"}


def test_copied_without_metadata(office: Office):
    def drop_meta(wb):
        del wb["_meta"]

    check = office.check(edit(filled(office, "SX01"), drop_meta))
    f = finding(check, "metadata-missing")
    assert f.is_error and check.unit_code is None and "督导考评表" in f.message


def test_snapshot_survives_chunking():
    rows = [["tool", "x"], [SNAPSHOT_KEY, "ab"], [f"{SNAPSHOT_KEY}.3", "ef"]]
    rows.append([f"{SNAPSHOT_KEY}.2", "cd"])
    assert snapshot_text(rows) == "abcdef"
    assert snapshot_text([["tool", "x"]]) is None


# --------------------------------------------------------------------------- collect and rank


def test_collect_records_scores_and_rejects_a_deduction_without_reason(office: Office):
    office.drop("督导/SX01.xlsx", filled(office, "SX01"))
    office.drop("督导/SX02.xlsx", filled(office, "SX02", with_score("K05", 7)))
    result = office.collect(received_at=RETURNED)
    by_unit = {f.unit: f for f in result.files if f.kind == "inspection"}
    good, bad = by_unit["SX01"], by_unit["SX02"]
    assert good.state == "accepted" and not good.late  # deadlines bind unit returns only
    assert bad.state == "rejected" and [f.code for f in bad.findings] == ["reason-missing"]
    assert bad.feedback.name == "SX02_宁波市卫生计生委_督导考评表_2014-05_退回修改.xlsx"
    notice = (office.ws.outbox / "feedback" / PERIOD / f"退回通知_{PERIOD}.txt").read_text()
    assert "督导" not in notice  # the notice to units is about their own returns

    with office.store() as store:
        sub = store.current_submission("SX01", PERIOD, kind="inspection")
        rec = store.inspections_for([sub.id])[sub.id]
        assert rec.inspectors == "陈明、王芳" and len(rec.scores) == 3
        assert store.current_submission("SX01", PERIOD).kind == "unit"  # untouched

    # The feedback copy: 问题清单 first, the values written back, the reason cell commented;
    # once the reason is written it is a valid sheet again.
    wb = openpyxl.load_workbook(bad.feedback)
    assert wb.sheetnames[0] == "问题清单"
    main = wb[MAIN]
    row = next(r for r in range(1, main.max_row + 1) if main.cell(r, 1).value == "K05")
    assert main.cell(row, 6).value == 7 and "扣分理由" in main.cell(row, 7).comment.text

    def add_reason(wb):
        wb[MAIN].cell(row, 7).value = "学习记录不全"

    fixed = edit(bad.feedback.read_bytes(), add_reason)
    office.drop("督导/SX02_改.xlsx", fixed)
    # A second sheet for SX01 supersedes the first.
    office.drop("督导/SX01_2.xlsx", filled(office, "SX01", with_score("K06", 6, "氛围不浓")))
    again = office.collect(received_at=datetime(2014, 6, 21, 9, 0))
    assert {f.unit: f.state for f in again.files if f.state != "duplicate"} == {
        "SX01": "accepted",
        "SX02": "accepted",
    }
    with office.store() as store:
        states = [s.state for s in store.submissions(PERIOD, "inspection", unit_code="SX01")]
        assert states == ["superseded", "accepted"]

    from reporting.scoring.service import rank

    ranking = rank(office.ws.root, PERIOD).ranking
    sx01 = ranking.unit("SX01")
    assert not sx01.pending and sx01.item("K06").points == 6
    assert "氛围不浓" in sx01.item("K06").why
    assert not ranking.unit("SX02").pending and ranking.unit("YL01").pending


def test_rank_json_contract_and_workbook(office: Office):
    from cli import app

    office.drop("督导/SX01.xlsx", filled(office, "SX01"))
    office.drop("督导/ZS01.xlsx", filled(office, "ZS01"))
    office.collect(received_at=RETURNED)
    runner = CliRunner(env=ENV)
    result = runner.invoke(app, ["rank", "-p", PERIOD, "--json", "-w", str(office.ws.root)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"period", "units"} and data["period"] == PERIOD
    assert len(data["units"]) == len(office.plan.units)
    keys = {
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
    assert all(set(u) == keys for u in data["units"])
    ranked = [u for u in data["units"] if not u["pending"]]
    assert [u["code"] for u in ranked] == sorted(
        ["SX01", "ZS01"], key=lambda c: -next(u["score"] for u in ranked if u["code"] == c)
    )
    assert all(isinstance(u["pending"], bool) for u in data["units"])
    assert all(u["rank"] is None and u["grade"] is None for u in data["units"][2:])
    for u in ranked:
        assert u["score"] == pytest.approx(sum(i["points"] for i in u["items"]))
        assert {i["code"] for i in u["items"]} == {i.code for i in office.plan.rubric}
    zs01 = next(u for u in data["units"] if u["code"] == "ZS01")
    k02 = next(i for i in zs01["items"] if i["code"] == "K02")
    assert k02["points"] == 0 and "未报送" in k02["why"]

    path = office.ws.outbox / PERIOD / f"排名表_{PERIOD}.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["总排名", "分类排名", "分地区排名", "得分明细", "待评单位", "考评细则"]
    detail = [r for r in wb["得分明细"].iter_rows(min_row=5, values_only=True) if r[0] == "SX01"]
    assert [r[2] for r in detail[:7]] == [i.code for i in office.plan.rubric]
    assert all(r[6] for r in detail[:7])  # every point explained
    assert detail[7][3] == "合计" and detail[7][5] == pytest.approx(sum(r[5] for r in detail[:7]))
    rubric = [r for r in wb["考评细则"].iter_rows(min_row=5, values_only=True) if r[0]]
    assert [r[0] for r in rubric] == [i.code for i in office.plan.rubric]
    assert {r[4] for r in rubric} == {"自动", "现场"}
    waiting = [r for r in wb["待评单位"].iter_rows(min_row=5, values_only=True) if r[0] == "SX02"]
    assert waiting and "K05 组织领导（10分）" in waiting[0][6]
    overall = {r[1]: r for r in wb["总排名"].iter_rows(min_row=5, values_only=True)}
    assert overall["SX02"][0] == "待评" and "K05 组织领导" in overall["SX02"][-1]
    assert overall["SX01"][0] in (1, 2) and overall["SX01"][6] in ("优秀", "良好", "合格", "不合格")

    text = runner.invoke(app, ["rank", "-p", PERIOD, "-w", str(office.ws.root)])
    assert text.exit_code == 0 and "待评" in text.stdout and "排名表" in text.stdout


def test_unit_text_with_control_characters_reaches_both_sheets(office: Office):
    """A unit's text is shown as typed in Excel (escaped) and without XML-illegal characters
    in Word."""
    from docx import Document

    from reporting.collate.facts import Month, UnitMonth, ledger_items
    from reporting.forms.layout import TOOL_NAME
    from reporting.inspection.sheet import build_sheet, make_meta
    from reporting.inspection.word import render_inspection_docx
    from reporting.inspection.writer import render_inspection
    from reporting.intake.reader import read_workbook
    from reporting.store import LedgerRow

    plan = office.plan
    text = "控制字符\x01\x07\t换行\n回车\r空\x00 =SUM(A1) _x0041_ 结束"
    period = Period.parse(PERIOD)
    unit = plan.unit("SX01")
    row = LedgerRow("典型推荐", 1, {"推荐类型": "先进个人", "名称": text, "主要事迹": text})
    um = UnitMonth(
        unit,
        "on-time",
        None,
        None,
        0,
        {"B09": text},
        (),
        ledger_items(plan, period, [(PERIOD, row)]),
    )
    month = Month(plan, period, plan.deadline(period), (um,), {PERIOD: {"SX01": "on-time"}})
    sheet = build_sheet(month, um)
    meta = make_meta(sheet, plan.plan_id, office.ws.form_key(), "2014-06-10T09:00:00")
    assert meta.tool == TOOL_NAME
    book = read_workbook(render_inspection(sheet, meta)).book
    shown = [v for line in book.sheets[FACTS].rows for v in line if isinstance(v, str)]
    assert text in shown and f"先进个人：{text}" in shown
    doc = Document(io.BytesIO(render_inspection_docx(sheet)))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    assert any("控制字符\t换行" in c and "_x0041_ 结束" in c for c in cells)


# --------------------------------------------------------------------------- the Word sheet

HOSTILE = "A&B<C>\"D\"'E' 😀\x01\x0b 结束"


def snapshot(office: Office, code: str) -> InspectionSheet:
    """The snapshot an inspector sheet was made from (kept in its metadata sheet)."""
    wb = openpyxl.load_workbook(sheet_path(office, code))
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(min_row=2, values_only=True)}
    return InspectionSheet.from_json(meta[SNAPSHOT_KEY])


def hostile(sheet: InspectionSheet, escape_lookalike: str = " _x0041_") -> InspectionSheet:
    """``sheet`` with markup characters, an emoji, control characters, tabs and line breaks in
    every text a unit or the plan supplies (and text that looks like Excel's own escapes)."""
    from dataclasses import replace

    text = f"{HOSTILE}\t制表\n换行\r回车{escape_lookalike} <r>x</r>"
    return replace(
        sheet,
        unit_name=HOSTILE,
        plan_name=text,
        issuer=text,
        region=" " + text + "\u3000",
        state=text,
        rows=tuple(replace(r, item=text, why=text) for r in sheet.rows),
        activities=tuple((*a[:-1], text) for a in sheet.activities),
        indicators=tuple((*i[:-1], text) for i in sheet.indicators),
        ledger_summary=(*sheet.ledger_summary, text, "\x02"),
        ledgers=(*sheet.ledgers, (text, text, "", "\x03", text)),
    )


def docx_parts(data: bytes) -> list[tuple[str, bytes]]:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        return [(name, z.read(name)) for name in z.namelist()]


def test_word_sheet_is_what_python_docx_made(office: Office):
    """The XML written as text is, part for part and byte for byte, what python-docx wrote
    (the old renderer, kept in tests/inspection_docx_reference.py)."""
    from reporting.inspection.word import render_inspection_docx
    from tests.inspection_docx_reference import reference_docx

    sheets = [snapshot(office, code) for code in UNITS]
    sheets += [hostile(sheets[0]), hostile(sheets[3])]
    for sheet in sheets:
        assert docx_parts(render_inspection_docx(sheet)) == docx_parts(reference_docx(sheet))


def test_word_sheet_content(office: Office):
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Mm

    from reporting.inspection.sheet import INFO_LABELS, title_text

    sheet = snapshot(office, "SX01")
    doc = Document(str(sheet_path(office, "SX01", "docx")))
    section = doc.sections[0]

    def near(length: int, mm: float) -> bool:  # the XML holds twips
        return abs(length - Mm(mm)) < Mm(0.1)

    assert near(section.page_width, 210) and near(section.page_height, 297)
    margins = (section.left_margin, section.right_margin, section.top_margin)
    assert all(near(m, 20) for m in (*margins, section.bottom_margin))
    assert section.footer.paragraphs[0].text == f"{sheet.unit_name}　{title_text(sheet)}"
    assert doc.core_properties.title == f"{sheet.unit_name} {title_text(sheet)}"

    paragraphs = [p.text for p in doc.paragraphs]
    assert paragraphs[:2] == [sheet.plan_name, title_text(sheet)]
    info, rubric = doc.tables[0], doc.tables[1]
    shown = [c.text for row in info.rows for c in row.cells]
    expected = [x for pair in zip(INFO_LABELS, sheet.info_values(), strict=True) for x in pair]
    assert shown == [*expected, "", ""]
    lines = [[c.text for c in row.cells] for row in rubric.rows]
    assert lines[0] == [
        "编号",
        "项目",
        "考评内容和评分标准",
        "分值",
        "方式",
        "得分",
        "评分依据／扣分理由",
    ]
    for r, line in zip(sheet.rows, lines[1:-1], strict=True):
        assert line[:5] == [
            r.code,
            r.item,
            r.content,
            f"{r.points:g}",
            "自动" if r.auto else "现场",
        ]
        if r.auto:
            assert line[5:] == [f"{r.score:g}", f"{r.rule}：{r.why}"]
        else:
            assert line[5:] == ["", ""]  # scored and explained by hand
    total = f"{sum(r.points for r in sheet.rows):g}"
    assert lines[-1] == ["合计", "", "", total, "", "", f"自动评分项合计 {sheet.auto_total:g} 分"]
    k = paragraphs.index("总体评价：")
    assert paragraphs[k + 1 : k + 4] == ["_" * 78] * 3
    assert (
        paragraphs[k + 5].startswith("督导组成员（签名）：") and "组长（签名）" in paragraphs[k + 5]
    )
    assert (
        paragraphs[k + 6].startswith("督导日期：")
        and "被考评单位负责人（签名）" in paragraphs[k + 6]
    )
    assert "四、清单" in paragraphs and "五、报送记录" in paragraphs

    heads = {"一、考评评分", "总体评价：", sheet.period_label and title_text(sheet)}
    for p in doc.paragraphs:
        for run in p.runs:
            fonts = run._element.rPr.rFonts
            want = (
                "黑体"
                if p.text in heads or p.text[:2] in ("二、", "三、", "四、", "五、")
                else "宋体"
            )
            assert fonts.get(qn("w:eastAsia")) == fonts.get(qn("w:ascii")) == want, p.text
    cell_runs = [r for t in doc.tables for c in t._cells for p in c.paragraphs for r in p.runs]
    assert cell_runs and all(r._element.rPr.rFonts.get(qn("w:eastAsia")) for r in cell_runs)
    assert {r.font.size.pt for r in cell_runs} == {9}
    assert all(r.bold for r in rubric.rows[0].cells[0].paragraphs[0].runs)
    for name in ("Normal", "Table Grid"):
        style = doc.styles[name]
        assert style.element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"
        assert style.font.size.pt == 10.5


def test_word_sheet_with_markup_emoji_and_control_characters(office: Office):
    from docx import Document

    from reporting.inspection.sheet import title_text
    from reporting.inspection.word import render_inspection_docx

    sheet = hostile(snapshot(office, "SX01"))
    doc = Document(io.BytesIO(render_inspection_docx(sheet)))
    clean = "A&B<C>\"D\"'E' 😀 结束"  # the control characters \x01 and \x0b dropped
    assert doc.tables[0].rows[0].cells[1].text == clean
    assert doc.sections[0].footer.paragraphs[0].text == f"{clean}　{title_text(sheet)}"
    assert doc.core_properties.title == f"{clean} {title_text(sheet)}"
    assert doc.paragraphs[0].text.startswith(clean + "\t制表\n换行\n回车 _x0041_ <r>x</r>")
    cells = [c.text for t in doc.tables for c in t._cells]
    assert any(c.startswith(clean + "\t制表\n换行") and c.endswith("<r>x</r>") for c in cells)


@needs_soffice
def test_word_sheets_print_with_libreoffice(office: Office, tmp_path: Path):
    import subprocess

    from reporting.inspection.word import render_inspection_docx

    plain = sheet_path(office, "SX01", "docx")
    odd = tmp_path / "hostile.docx"
    odd.write_bytes(render_inspection_docx(hostile(snapshot(office, "SX02"))))
    pdfs = convert([plain, odd], "pdf", tmp_path / "pdf")
    for pdf in pdfs:
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(pdfs[0]), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "督导考评表" in text and "杭州市卫生计生委" in text and "被考评单位负责人" in text


# --------------------------------------------------------------------------- the Excel sheet


def xlsx_parts(data: bytes) -> list[tuple[str, bytes]]:
    import re
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        when = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # core.xml's creation time
        return [(n, when.sub(b"<when>", z.read(n))) for n in z.namelist()]


def test_excel_sheet_from_a_template_is_what_xlsxwriter_makes(office: Office):
    """Sheets handed out are made from a template of their layout (reporting.xlsxfast); each is
    XlsxWriter's workbook part for part, and every one here came from a template."""
    from dataclasses import replace

    from reporting.inspection.sheet import make_meta
    from reporting.inspection.writer import (
        _templates,
        render_inspection,
        render_inspection_xlsxwriter,
    )

    sheets = [snapshot(office, code) for code in UNITS]
    sheets += [hostile(sheets[0]), hostile(sheets[3])]
    sheets.append(replace(sheets[1], rows=sheets[1].rows[2:], activities=()))  # another layout
    stats = _templates().stats
    before = stats["template"]
    key = office.ws.form_key()
    for sheet in sheets:
        meta = make_meta(sheet, office.plan.plan_id, key, "2014-06-10T09:00:00")
        fast = render_inspection(sheet, meta, "口令")
        assert xlsx_parts(fast) == xlsx_parts(render_inspection_xlsxwriter(sheet, meta, "口令"))
    assert stats["template"] - before == len(sheets)
    assert not stats["unsupported"] and not stats["mismatch"]


def test_excel_sheet_formulas_need_no_newer_functions(office: Office):
    import re
    import zipfile

    from reporting.xlsxfast import FUNCTIONS

    with zipfile.ZipFile(sheet_path(office, "SX01")) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    formulas = re.findall(r"<f>([^<]*)</f>", xml) + re.findall(r"<formula>([^<]*)<", xml)
    assert len(formulas) > 5
    used = set(re.findall(r"([A-Z][A-Z0-9.]*)\(", " ".join(formulas)))
    assert used and used <= FUNCTIONS


def test_filled_hostile_sheet_round_trips(office: Office):
    """A sheet whose unit texts carry markup, emoji and control characters (one exactly like
    rich-text markup) is read back unchanged, filled in and accepted."""
    from dataclasses import replace

    from reporting.inspection.sheet import make_meta
    from reporting.inspection.writer import render_inspection
    from reporting.intake.reader import read_workbook

    # No "_x0041_" here: openpyxl, playing the inspector, saves it unescaped and so reads it
    # back as "A" (Excel escapes it as _x005F_x0041_, as the sheet we write does).
    sheet = hostile(snapshot(office, "SX01"), escape_lookalike="")
    sheet = replace(sheet, ledgers=(*sheet.ledgers, ("清单", "<r>A&B</r>", "", "", "")))
    meta = make_meta(sheet, office.plan.plan_id, office.ws.form_key(), "2014-06-10T09:00:00")
    data = render_inspection(sheet, meta, office.plan.settings.password or "")
    shown = [v for line in read_workbook(data).book.sheets[FACTS].rows for v in line]
    assert "<r>A&B</r>" in shown and sheet.activities[0][-1] in shown
    check = office.check(fill_inspection(data, GOOD), PERIOD)
    assert check.accepted and check.findings == (), [(f.code, f.message) for f in check.findings]
    assert check.inspection.sheet == sheet


def test_long_emoji_item_keeps_its_validation_and_ampersand_stays_in_footer(office: Office):
    """Prompt titles are cut to 32 UTF-16 units (an emoji counts two; one unit over and
    XlsxWriter dropped the validation), and ``&`` in a unit name is doubled in page footers."""
    import zipfile
    from dataclasses import replace

    from reporting.inspection.sheet import make_meta
    from reporting.inspection.writer import render_inspection

    wb = openpyxl.load_workbook(sheet_path(office, "SX01"))
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(min_row=2, values_only=True)}
    sheet = InspectionSheet.from_json(meta[SNAPSHOT_KEY])
    sheet = replace(
        sheet,
        unit_name="A&B医院",
        rows=tuple(replace(r, item="😀" * 20) if not r.auto else r for r in sheet.rows),
    )
    made = make_meta(sheet, office.plan.plan_id, office.ws.form_key(), "2014-06-10T09:00:00")
    data = render_inspection(sheet, made)
    main = openpyxl.load_workbook(io.BytesIO(data))[MAIN]
    titles = [dv.promptTitle for dv in main.data_validations.dataValidation]
    assert len(titles) == 2 * len(sheet.onsite) + 3
    assert titles[0] == "😀" * 15 + "…"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert "&amp;CA&amp;&amp;B医院 督导考评表" in z.read("xl/worksheets/sheet1.xml").decode()


def test_rubric_text_with_control_characters_gives_a_valid_sheet(office: Office):
    """Validation prompts are XML attributes, where XlsxWriter writes control characters as
    they are: they are dropped first, or the file would not open."""
    from reporting.inspection.sheet import make_meta
    from reporting.inspection.writer import render_inspection

    sheet = hostile(snapshot(office, "SX01"))
    meta = make_meta(sheet, office.plan.plan_id, office.ws.form_key(), "2014-06-10T09:00:00")
    main = openpyxl.load_workbook(io.BytesIO(render_inspection(sheet, meta)))[MAIN]
    titles = [dv.promptTitle for dv in main.data_validations.dataValidation]
    assert titles[0].startswith("A&B<C>\"D\"'E' 😀 结束")


def test_parallel_inspect_writes_the_same_files(office: Office, monkeypatch: pytest.MonkeyPatch):
    """With a process pool (the month inherited by forked workers, the Word skeleton and the
    Excel template made before they fork) the files are the ones one process writes."""
    import reporting.inspection.service as service
    import reporting.parallel as parallel
    from reporting.inspection.service import make_inspection_sheets

    def write() -> dict[str, list[tuple[str, bytes]]]:
        result = make_inspection_sheets(
            office.ws.root, PERIOD, as_of=date(2014, 6, 20), now=datetime(2014, 6, 21, 8, 0)
        )
        paths = [p for f in result.files for p in (f.xlsx, f.docx)]
        return {p.name: xlsx_parts(p.read_bytes()) for p in paths}

    alone = write()
    monkeypatch.setattr(service, "PARALLEL_FROM", 2)
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 2)
    assert write() == alone and len(alone) == 2 * len(office.plan.units)


def test_snapshot_json_is_what_it_always_was(office: Office):
    """The fingerprint of every sheet already handed out hashes this text."""
    import dataclasses

    for sheet in (snapshot(office, "SX01"), hostile(snapshot(office, "YL01"))):
        data = dataclasses.asdict(sheet)
        assert sheet.to_json() == json.dumps(
            data, ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
        assert InspectionSheet.from_json(sheet.to_json()) == sheet


def test_snapshot_of_emoji_fits_the_metadata_cells(office: Office):
    """Excel's cell limit is 32,767 UTF-16 units and an emoji takes two: a snapshot cut into
    chunks of 30,000 characters was truncated (and read back as tampered with)."""
    from dataclasses import replace

    from reporting.inspection.sheet import make_meta
    from reporting.inspection.writer import render_inspection

    sheet = snapshot(office, "SX01")
    emoji = "😀" * 199
    sheet = replace(sheet, ledgers=tuple(("清单", emoji, "", "", "") for _ in range(100)))
    assert len(sheet.to_json().encode("utf-16-le")) // 2 > 32_767
    meta = make_meta(sheet, office.plan.plan_id, office.ws.form_key(), "2014-06-10T09:00:00")
    data = render_inspection(sheet, meta)
    assert codes(office.check(data, PERIOD)) == {"empty-return"}
    check = office.check(fill_inspection(data, GOOD), PERIOD)
    assert check.accepted and check.inspection.sheet == sheet
