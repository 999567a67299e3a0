"""``demo``: the whole month on the built-in example."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from commands.collation import render_status
from commands.common import EXIT_FAILED, errors, out, progress
from commands.intake import render_collect
from commands.plan import render_plan


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(
    directory: Annotated[
        Path, typer.Argument(help="演示工作区文件夹（不会触碰真实工作区）")
    ] = Path("demo"),
) -> None:
    """用内置示例完整演示一个月：检查方案、生成表单、模拟各单位报送、回收审核、催报和汇总。"""
    from reporting.demo import run_demo

    with errors(), progress("演示") as bar:
        result = run_demo(directory, progress=bar)
    render_plan(result.plan)
    for n, collected in enumerate(result.collects, start=1):
        out.print()
        out.print(f"[bold]第 {n} 次回收[/bold]（{'截止前' if n == 1 else '截止后'}）")
        render_collect(collected)
    if result.status is not None:
        out.print()
        render_status(result.status)
    out.print()
    out.print("[bold]演示输出：[/bold]")
    for label, path in result.outputs:
        out.print(f"  {label}：{path}")
    if not result.plan.valid:
        raise typer.Exit(EXIT_FAILED)
