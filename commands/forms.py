"""``forms``: the month's unit forms."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from commands.common import PeriodOpt, WorkspaceOpt, errors, out, progress, styled


def register(app: typer.Typer) -> None:
    app.command()(forms)


def forms(
    period: PeriodOpt,
    unit: Annotated[
        list[str] | None, typer.Option("--unit", "-u", help="只生成这些单位（单位编码，可重复）")
    ] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """生成本期各单位的 Excel 报送表单（含填报说明、校验、自查和隐藏的识别信息）及打包文件。"""
    from reporting.forms.service import make_forms

    with errors(), progress("生成表单") as bar:
        result = make_forms(workspace, period, unit_codes=unit, progress=bar)
    prefilled = sum(1 for f in result.files if f.prefilled)
    out.print(
        styled(
            (f"已生成 {len(result.files)} 份表单", "green"), f"（方案版本 {result.plan_version}）"
        )
    )
    out.print(f"  表单文件夹：{result.folder}")
    out.print(f"  打包文件：{result.archive}")
    if prefilled:
        out.print(f"  其中 {prefilled} 份已预填上期已采用的完成情况和未完成整改事项")
