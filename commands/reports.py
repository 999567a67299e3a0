"""``report``: the supervisory notice, the dashboard and their annexes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from commands.common import PeriodOpt, WorkspaceOpt, errors, out, parse_day, progress, styled


def register(app: typer.Typer) -> None:
    app.command()(report)


def report(
    period: PeriodOpt,
    workspace: WorkspaceOpt = Path("."),
    number: Annotated[
        str | None, typer.Option("--number", help="通报的发文字号，如 浙卫党发〔2014〕15号")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--date", help="成文日期，如 2014-06-10（默认今天）")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="按这一天判断各期是否到期（默认同成文日期）")
    ] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf/--no-pdf", help="装有 LibreOffice 时是否另出 PDF")
    ] = True,
) -> None:
    """生成督导检查情况通报（Word 公文格式，装有 LibreOffice 时另出 PDF）和离线看板，
    附上汇总表、排名表（数据没有变化时直接采用 collate、rank 生成的，否则重新生成）。"""
    from reporting.reports.service import report as run_report

    day = parse_day(on, "--date")
    when = parse_day(as_of, "--as-of") or day
    with errors(), progress("生成通报") as bar:
        result = run_report(
            workspace, period, as_of=when, number=number, day=day, progress=bar, pdf=pdf
        )
    ranked = len(result.ranking.ranked)
    pending = len(result.ranking.pending)
    out.print(styled(("已生成通报", "green"), f"：{result.notice}"))
    if result.pdf:
        out.print(f"  PDF：{result.pdf}")
    elif pdf:
        out.print(styled("  ", (result.pdf_note, "yellow")))
    out.print(f"  看板（可离线打开）：{result.dashboard}")
    out.print(f"  附件：{result.ranking_workbook}")
    out.print(f"  附件：{result.summary}")
    out.print(f"已排名 {ranked} 个单位，待评 {pending} 个")
