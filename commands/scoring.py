"""``inspect`` and ``rank``: inspector sheets, then scores, grades and rankings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from commands.common import (
    AsOfOpt,
    JsonOpt,
    PeriodOpt,
    WorkspaceOpt,
    clipped,
    echo_json,
    errors,
    out,
    parse_day,
    progress,
    styled,
)


def register(app: typer.Typer) -> None:
    app.command()(inspect)
    app.command()(rank)


def inspect(
    period: PeriodOpt,
    unit: Annotated[
        list[str] | None, typer.Option("--unit", "-u", help="只生成这些单位（单位编码，可重复）")
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    as_of: AsOfOpt = None,
) -> None:
    """生成督导考评表（Excel 和 Word）：预填单位报送情况和自动评分，现场评分项留给督导组填写。"""
    from reporting.inspection.service import make_inspection_sheets

    day = parse_day(as_of, "--as-of")
    with errors(), progress("生成督导考评表") as bar:
        result = make_inspection_sheets(workspace, period, unit_codes=unit, as_of=day, progress=bar)
    out.print(
        styled(
            (f"已生成 {len(result.files)} 个单位的督导考评表", "green"),
            f"（Excel 和 Word 各一份，方案版本 {result.plan_version}）",
        )
    )
    out.print(f"  文件夹：{result.folder}")
    out.print(
        "  督导组现场填写 Excel 表（或打印 Word 表签字后录入 Excel 表）交回 inbox/，"
        "运行 collect 审核入库，再运行 rank 计算排名。"
    )


def rank(
    period: PeriodOpt,
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """按考评细则计算各单位得分、等级和排名（总排名、类别内、地区内），生成排名表。"""
    from reporting.scoring.service import rank as run_rank

    day = parse_day(as_of, "--as-of")
    with errors():
        result = run_rank(workspace, period, as_of=day)
    if as_json:
        echo_json(result.ranking.as_json())
        return
    render_ranking(result.ranking)
    out.print(f"排名表：{result.path}")


def render_ranking(ranking: Any) -> None:
    table = Table(title=f"{ranking.period.label}考评排名")
    for col in ("名次", "单位", "类别", "地区", "总分", "等级", "类别内", "地区内"):
        table.add_column(col, overflow="fold")

    def shown(value: int | None) -> str:
        return "待评" if value is None else str(value)

    def add(s: Any) -> None:
        table.add_row(
            shown(s.rank),
            f"{s.unit.code} {s.unit.name}",
            s.unit.category,
            s.unit.region,
            f"{s.total:g}" + ("（已评部分）" if s.pending else ""),
            s.grade or "待评",
            shown(s.rank_in_category),
            shown(s.rank_in_region),
        )

    head, tail, left_out = clipped(list(ranking.units))
    for s in head:
        add(s)
    if left_out:
        table.add_row("……", f"（中间 {left_out} 个单位略，全部排名见排名表）", *[""] * 6)
    for s in tail:
        add(s)
    out.print(table)
    if ranking.pending:
        out.print(
            styled(
                (f"{len(ranking.pending)} 个单位待评", "yellow"),
                "（尚未收到已接收的督导考评表），不参加排名；同分同名次。",
            )
        )


def render_inspection_demo(inspection: Any) -> None:
    """The demo's inspection stage (reporting.inspection.simulate.run_inspection_demo)."""
    from commands.intake import render_collect

    out.print()
    out.print(
        styled(
            ("督导考评", "bold"),
            f"：已生成 {len(inspection.inspect.files)} 个单位的督导考评表，"
            "模拟督导组交回约三分之二（其中一份扣分未写理由，被退回）",
        )
    )
    render_collect(inspection.collect)
    out.print()
    render_ranking(inspection.rank.ranking)
