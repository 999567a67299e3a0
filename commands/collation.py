"""``status`` and ``collate``: who has reported, and the month's summary workbook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from commands.common import (
    TERMINAL_ROWS,
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
    app.command()(status)
    app.command()(collate)


_STYLE = {"on-time": "green", "late": "yellow", "rejected": "red", "missing": "red"}
_CHASE_ORDER = {"missing": 0, "rejected": 1, "late": 2, "on-time": 3}


def status(
    period: PeriodOpt,
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="按这一天计算逾期天数，如 2014-06-09（默认今天）")
    ] = None,
) -> None:
    """查看本期各单位报送状态（按时、逾期、退回待改、未报送），并生成催报名单和催报通知。"""
    from reporting.collate.service import status as run_status
    from reporting.collate.status import status_json

    today = parse_day(as_of, "--as-of")
    with errors():
        result = run_status(workspace, period, today)
    if as_json:
        echo_json(status_json(result.month))
        return
    render_status(result)


def render_status(result: Any) -> None:
    from reporting.collate import summary as S
    from reporting.collate.facts import STATE_LABELS

    month = result.month
    total = S.overall(month)
    out.print(
        styled((f"{month.period.label}报送情况", "bold"), f"（截止 {month.deadline:%Y-%m-%d}）")
    )
    out.print(
        f"共 {total.units} 个单位：按时 {total.on_time}，逾期 {total.late}，"
        f"退回待改 {total.rejected}，未报送 {total.missing}；报送率 "
        f"{(total.reporting_rate or 0):.1%}，按时率 {(total.on_time_rate or 0):.1%}"
    )
    table = Table(title="各单位报送状态")
    for col in ("单位编码", "单位名称", "所属地区", "状态", "首次收到", "逾期天数"):
        table.add_column(col, overflow="fold")
    # all units while the table is short; then only those that need chasing, worst first
    shown = list(month.units)
    if len(shown) > TERMINAL_ROWS:
        shown = sorted(
            (u for u in shown if u.state != "on-time"), key=lambda u: _CHASE_ORDER[u.state]
        )
    head, _, left_out = clipped(shown, head=TERMINAL_ROWS, tail=0)
    if len(head) < len(month.units):
        table.title = f"各单位报送状态（共 {len(month.units)} 个单位，只列需要催报或处理的单位）"
    for u in head:
        style = _STYLE[u.state]
        table.add_row(
            u.unit.code,
            u.unit.name,
            u.unit.region,
            styled((STATE_LABELS[u.state], style)),
            f"{u.first_received:%m-%d %H:%M}" if u.first_received else "—",
            str(u.days_late) if u.reported and u.days_late else "",
        )
    out.print(table)
    if left_out:
        out.print(f"另有 {left_out} 个需要催报或处理的单位未列出，完整名单见催报名单。")
    out.print(f"催报名单：{result.reminder_workbook}")
    out.print(f"可复制到群里的催报通知：{result.reminder_text}")


def collate(period: PeriodOpt, workspace: WorkspaceOpt = Path(".")) -> None:
    """生成本期汇总表（报送情况、规定动作、月报数据、台账、趋势，含图表），只读取数据库。"""
    from reporting.collate import summary as S
    from reporting.collate.service import collate as run_collate

    with errors(), progress("生成汇总表") as bar:
        result = run_collate(workspace, period, progress=bar)
    month = result.month
    total = S.overall(month)
    acts = [S.unit_activities(u) for u in month.units]
    due = sum(a.due for a in acts)
    done = sum(a.done_due for a in acts)
    out.print(styled(("已生成汇总表", "green"), f"：{result.path}"))
    out.print(
        f"报送率 {(total.reporting_rate or 0):.1%}（{total.reported}/{total.units}），"
        f"规定动作完成率 {(S.rate(done, due) or 0):.1%}（{done}/{due}），"
        f"异常值 {len(S.outliers(month))} 个"
    )
