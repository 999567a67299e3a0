"""``demo``: the whole month on the built-in example."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from commands.collation import render_status
from commands.common import EXIT_FAILED, errors, out, progress, styled
from commands.intake import render_collect
from commands.plan import render_plan
from commands.scoring import render_inspection_demo


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(
    directory: Annotated[
        Path, typer.Argument(help="演示工作区文件夹（不会触碰真实工作区）")
    ] = Path("demo"),
) -> None:
    """用内置示例完整演示一个月：方案、表单、模拟报送、回收审核、催报、汇总、督导考评、排名、通报。"""
    from reporting.demo import run_demo

    with errors(), progress("演示") as bar:
        result = run_demo(directory, progress=bar)
    render_plan(result.plan)
    labels = ("4月报表回收", "5月报表第一次回收（截止前）", "5月报表第二次回收（截止后）")
    for label, collected in zip(labels, result.collects, strict=False):
        out.print()
        out.print(styled((label, "bold")))
        render_collect(collected)
    if result.status is not None:
        out.print()
        render_status(result.status)
    if result.inspection is not None:
        out.print()
        render_inspection_demo(result.inspection)
    if result.report is not None and not result.report.pdf:
        out.print(styled((result.report.pdf_note, "yellow")))
    out.print()
    out.print(styled(("演示输出：", "bold")))
    for label, path in result.outputs:
        out.print(f"  {label}：{path}")
    if not result.plan.valid:
        raise typer.Exit(EXIT_FAILED)
