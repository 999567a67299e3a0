"""The built-in demonstration: a complete example workspace, run stage by stage."""

from __future__ import annotations

import io
import random
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reporting.errors import WorkspaceError
from reporting.forms.generate import Progress
from reporting.periods import Period
from reporting.plan.load import PlanResult, load_plan
from reporting.plan.model import Plan
from reporting.simulate import fill_form, typical_filling
from reporting.workspace import Workspace, init_workspace

MARKER = ".demo-workspace"


@dataclass
class DemoResult:
    workspace: Workspace
    plan: PlanResult
    outputs: list[tuple[str, Path]] = field(default_factory=list)
    collects: list[Any] = field(default_factory=list)  # CollectResult of each intake run
    status: Any = None  # StatusResult after the second collect
    summary: Any = None  # CollateResult
    inspection: Any = None  # inspector sheets, simulated returns and the ranking
    report: Any = None  # ReportResult: the notice and the dashboard


def prepare_demo_dir(root: Path) -> Workspace:
    """Make ``root`` a fresh demo workspace. Refuses a folder that is not a demo workspace, so
    the demo can never overwrite a real bureau's plan or returns."""
    if root.exists():
        if not root.is_dir():
            raise WorkspaceError(f"{root} 已存在且不是文件夹，演示无法使用")
        if any(root.iterdir()) and not (root / MARKER).exists():
            raise WorkspaceError(
                f"{root} 不是空文件夹，也不是演示工作区。为免覆盖真实数据，演示已停止；"
                "请换一个文件夹，或不带参数运行（默认使用 demo/）"
            )
        if (root / MARKER).exists():
            shutil.rmtree(root)  # our own previous demo: start the month afresh
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("此文件夹由 python cli.py demo 生成，可随时删除。\n", "utf-8")
    return init_workspace(root, force=True).workspace


DEMO_PERIOD = "2014-05"
FIRST_COLLECT = datetime(2014, 6, 4, 17, 30)  # the day before the deadline (2014-06-05)
SECOND_COLLECT = datetime(2014, 6, 9, 9, 0)  # after the deadline: late returns and corrections
REPORT_DAY = date(2014, 6, 10)  # the notice is issued
SILENT = "ZS06"  # never reports
LATE = ("SX11", "YL09", "ZS05")
WITH_ERRORS = {  # unit → (sheet, cell, value): a typical slip
    "SX07": ("月报数据", "F3", 200),  # more participants than staff
    "YL04": ("月报数据", "F5", "约50次"),  # text in a number cell
    "ZS02": ("规定动作", "I3", None),  # done without a date
}
CORRECTED = "SX07"  # resends a corrected file after feedback
RENAMED = ("SX02", "宁波市卫生计生委5月份学习活动报表（终稿）.xlsx")
TWICE = "SX05"  # the same file mailed twice
ZIPPED = ("SX13", "SX14")  # two county bureaus send one zip
REVISED = "YL02"  # sends a second version the day after


def run_demo(root: Path, progress: Progress | None = None) -> DemoResult:
    """Run the month of ``DEMO_PERIOD`` end to end in a fresh demo workspace."""
    from reporting.forms.service import make_forms
    from reporting.intake.collect import collect

    ws = prepare_demo_dir(root)
    result = DemoResult(ws, load_plan(ws.plan_path))
    result.outputs.append(("方案", ws.plan_path))
    if not result.plan.valid:
        return result
    result.collects.append(_previous_month(ws, result.plan.plan, progress))
    forms = make_forms(ws.root, DEMO_PERIOD, progress=progress)
    result.outputs.append((f"{DEMO_PERIOD} 报送表单（{len(forms.files)} 份）", forms.folder))
    result.outputs.append(("表单打包", forms.archive))

    plan = result.plan.plan
    paths = {f.unit_code: f.path for f in forms.files}
    late = _synthesise_returns(ws, plan, paths)
    result.collects.append(
        collect(ws.root, period=DEMO_PERIOD, received_at=FIRST_COLLECT, progress=progress)
    )
    _second_round(ws, plan, paths, late)
    result.collects.append(
        collect(ws.root, period=DEMO_PERIOD, received_at=SECOND_COLLECT, progress=progress)
    )
    result.outputs.append(("收到文件原件存档", ws.archive))
    result.outputs.append(("退回修改表和退回通知", ws.outbox / "feedback" / DEMO_PERIOD))

    from reporting.collate.service import collate, status

    result.status = status(ws.root, DEMO_PERIOD, SECOND_COLLECT.date())
    result.outputs.append(("催报名单", result.status.reminder_workbook))
    result.outputs.append(("催报通知", result.status.reminder_text))
    result.summary = collate(ws.root, DEMO_PERIOD)
    result.outputs.append(("汇总表", result.summary.path))

    from reporting.inspection.simulate import run_inspection_demo
    from reporting.reports.service import report

    result.inspection = run_inspection_demo(ws.root, DEMO_PERIOD, progress=progress)
    result.outputs += result.inspection.outputs
    result.report = report(
        ws.root, DEMO_PERIOD, as_of=REPORT_DAY, day=REPORT_DAY, progress=progress
    )
    result.outputs.append(("督导检查情况通报", result.report.notice))
    if result.report.pdf:
        result.outputs.append(("通报 PDF", result.report.pdf))
    result.outputs.append(("离线看板", result.report.dashboard))
    return result


PREVIOUS_PERIOD = "2014-04"
PREVIOUS_COLLECT = datetime(2014, 5, 4, 16, 0)
PREVIOUS_SILENT = ("ZS06", "SX09")


def _previous_month(ws: Workspace, plan: Plan, progress: Progress | None) -> Any:
    """April, briefly: forms, nearly everyone returns on time, one collect. It gives May its
    pre-filled forms and the summary its trend."""
    from reporting.forms.service import make_forms
    from reporting.intake.collect import collect

    forms = make_forms(ws.root, PREVIOUS_PERIOD, progress=progress)
    folder = ws.inbox / "4月报表"
    folder.mkdir(exist_ok=True)
    for n, form in enumerate(forms.files):
        if form.unit_code in PREVIOUS_SILENT:
            continue
        unit = plan.unit(form.unit_code)
        assert unit is not None
        filling = typical_filling(
            plan, unit, Period.parse(PREVIOUS_PERIOD), random.Random(1000 + n)
        )
        (folder / form.path.name).write_bytes(fill_form(form.path, filling))
    return collect(ws.root, period=PREVIOUS_PERIOD, received_at=PREVIOUS_COLLECT, progress=progress)


def _filled(plan: Plan, code: str, path: Path, seed: int) -> bytes:
    unit = plan.unit(code)
    assert unit is not None
    filling = typical_filling(plan, unit, Period.parse(DEMO_PERIOD), random.Random(seed))
    if code in WITH_ERRORS:
        sheet, cell, value = WITH_ERRORS[code]
        return _set_cell(fill_form(path, filling), sheet, cell, value)
    return fill_form(path, filling)


def _set_cell(data: bytes, sheet: str, cell: str, value: object) -> bytes:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    wb[sheet][cell] = value
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _synthesise_returns(ws: Workspace, plan: Plan, paths: dict[str, Path]) -> dict[str, bytes]:
    """Drop the first round of returns into the inbox; returns the late ones for later."""
    late: dict[str, bytes] = {}
    zipped: dict[str, bytes] = {}
    for n, unit in enumerate(plan.units):
        if unit.code == SILENT:
            continue
        data = _filled(plan, unit.code, paths[unit.code], seed=n)
        name = paths[unit.code].name
        if unit.code in LATE:
            late[unit.code] = data
        elif unit.code in ZIPPED:
            zipped[name] = data
        elif unit.code == RENAMED[0]:
            (ws.inbox / RENAMED[1]).write_bytes(data)
        else:
            (ws.inbox / name).write_bytes(data)
            if unit.code == TWICE:
                (ws.inbox / "重复发送").mkdir(exist_ok=True)
                (ws.inbox / "重复发送" / f"{Path(name).stem}(1).xlsx").write_bytes(data)
    with zipfile.ZipFile(ws.inbox / "县区报表打包.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in zipped.items():
            zf.writestr(f"5月报表/{name}", data)
    return late


def _second_round(
    ws: Workspace, plan: Plan, paths: dict[str, Path], late: dict[str, bytes]
) -> None:
    """After the deadline: the late returns, a corrected resend and a revised version."""
    folder = ws.inbox / "6月9日收"
    folder.mkdir(exist_ok=True)
    for code, data in late.items():
        (folder / paths[code].name).write_bytes(data)
    feedback = ws.outbox / "feedback" / DEMO_PERIOD
    bad = next(feedback.glob(f"{CORRECTED}_*_退回修改.xlsx"), None)
    if bad is not None:
        unit = plan.unit(CORRECTED)
        assert unit is not None
        fixed = _set_cell(bad.read_bytes(), "月报数据", "F3", unit.headcount - 10)
        (folder / f"{CORRECTED}_改正后.xlsx").write_bytes(fixed)
    revised = _filled(plan, REVISED, paths[REVISED], seed=999)
    (folder / f"{paths[REVISED].stem}（修改版）.xlsx").write_bytes(revised)
