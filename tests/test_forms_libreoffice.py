"""A real office suite opens the form and evaluates its live self-check.

LibreOffice recalculates every formula on load, so the counts it stores are what a unit sees.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl

from reporting.forms import generate_forms
from reporting.forms.layout import ACTIVITIES, INDICATORS, INSTRUCTIONS
from reporting.periods import Period
from reporting.plan.load import require_plan
from reporting.workspace import init_workspace
from tests.libreoffice import convert, needs_soffice


def conclusion(path: Path) -> str:
    wb = openpyxl.load_workbook(path, data_only=True)
    ws = wb[INSTRUCTIONS]
    for row in ws.iter_rows():
        if row[0].value == "结论":
            return str(row[1].value)
    raise AssertionError("no 结论 row")


def fill(src: Path, dst: Path, b01: int) -> None:
    wb = openpyxl.load_workbook(src)
    acts = wb[ACTIVITIES]
    for r in range(3, 11):
        acts[f"G{r}"] = "已完成"
        acts[f"H{r}"] = 2
        acts[f"I{r}"] = datetime(2014, 5, 10)
    inds = wb[INDICATORS]
    for cell, value in (("F3", b01), ("F4", 90), ("F5", 12), ("F8", 98.5), ("F9", "是")):
        inds[cell] = value
    wb.save(dst)


@needs_soffice
def test_libreoffice_opens_form_and_self_check_counts(tmp_path: Path):
    ws = init_workspace(tmp_path / "ws").workspace
    plan = require_plan(ws.plan_path)
    result = generate_forms(ws, plan, Period(2014, 5), unit_codes=["SX01"], workers=1)
    blank = result.files[0].path
    over = tmp_path / "over.xlsx"
    fill(blank, over, b01=200)  # more participants than the unit's 126 staff
    good = tmp_path / "good.xlsx"
    fill(blank, good, b01=100)
    out = convert([blank, over, good], "xlsx", tmp_path / "lo")
    # 8 activities without a status, 5 required indicators empty
    assert conclusion(out[0]).startswith("还有 13 处")
    assert conclusion(out[1]).startswith("还有 1 处")
    assert conclusion(out[2]) == "可以报送"
    pdf = convert([blank], "pdf", tmp_path / "pdf")[0]
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
