"""``collect``: take in every returned file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    TERMINAL_ROWS,
    JsonOpt,
    WorkspaceOpt,
    clipped,
    echo_json,
    err,
    errors,
    out,
    progress,
    styled,
)


def register(app: typer.Typer) -> None:
    app.command()(collect)


def collect(
    workspace: WorkspaceOpt = Path("."),
    period: Annotated[
        str | None,
        typer.Option(
            "--period", "-p", help="只收本期（活动中其他月份的表单这次跳过，留在收件箱里以后再收）"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="只检查并显示结果，不记录、不存档、不写反馈")
    ] = False,
    received_at: Annotated[
        str | None,
        typer.Option("--received-at", help="按此时间记为收到时间，如 2014-06-04T18:00（补录时用）"),
    ] = None,
    move: Annotated[
        bool,
        typer.Option(
            "--move",
            help="处理完后把原件已存档的文件移出 inbox/（跳过的、被改动过的留下）",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """回收 inbox/ 中的全部文件：识别、审核、存档原件、入库，给有问题的单位生成退回修改表。"""
    from datetime import datetime

    from reporting.intake.collect import collect as run_collect

    when = None
    if received_at:
        try:
            when = datetime.fromisoformat(received_at)
        except ValueError:
            err.print(
                styled(
                    ("参数错误：", "red"), f"收到时间“{received_at}”格式不对，应如 2014-06-04T18:00"
                )
            )
            raise typer.Exit(EXIT_USAGE) from None
    with errors(), progress("回收审核") as bar:
        result = run_collect(
            workspace, period=period, dry_run=dry_run, received_at=when, progress=bar, move=move
        )
    if as_json:
        echo_json(result.as_json())
    else:
        render_collect(result)
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FAILED)


_STATE = {
    "accepted": styled(("接收", "green")),
    "rejected": styled(("退回", "red")),
    "duplicate": styled("重复"),
    "skipped": styled("跳过"),
}


def render_collect(result: Any) -> None:
    from reporting.intake.collect import report_lines

    t = result.totals
    table = Table(title="回收结果" + ("（试运行，未记录）" if result.dry_run else ""))
    for col in ("收到", "接收", "其中有提示", "退回", "其中无法识别", "重复", "跳过", "逾期接收"):
        table.add_column(col, justify="right")
    table.add_row(
        *(
            str(t[k])
            for k in (
                "received",
                "accepted",
                "accepted_with_warnings",
                "rejected",
                "unidentified",
                "duplicate",
                "skipped",
                "late",
            )
        )
    )
    out.print(table)
    before = sum(1 for f in result.files if f.processed_before)
    if before:
        out.print(f"（其中 {before} 个文件此前已处理过，本次未重复计入）")
    detail = Table(title="文件明细", show_lines=False)
    for col in ("文件", "单位", "报送期", "结果", "说明"):
        detail.add_column(col, overflow="fold")
    noted = [
        f
        for f in result.files
        if not ((f.state == "accepted" and not f.findings and not f.late) or f.processed_before)
    ]
    # sent back first: on a provincial inbox the terminal shows the files that need a reply
    noted.sort(key=lambda f: f.state != "rejected")
    shown, _, left_out = clipped(noted, head=TERMINAL_ROWS, tail=0)
    for f in shown:
        first = next((x for x in f.findings if x.is_error), f.findings[0] if f.findings else None)
        note = f.note or (f"{first.where()} {first.message}" if first else "")
        if f.late and f.state == "accepted":
            note = f"逾期 {f.days_late} 天。" + note
        more = len(f.findings) - 1
        if first and more > 0:
            note += f"（另有 {more} 处）"
        detail.add_row(f.path, f.unit or "—", f.period or "—", _STATE[f.state], note)
    if detail.row_count:
        out.print(detail)
    if left_out:
        out.print(f"另有 {left_out} 个文件未列出（加 --json 可列出全部；退回的单位都在退回通知里）")
    for line in report_lines(result.files):
        out.print(line)
    feedback = sorted({str(f.feedback.parent) for f in result.files if f.feedback})
    for folder in feedback:
        out.print(f"退回修改表和提示：{folder}")
    for path in result.notices:
        out.print(f"可复制到群里的退回通知：{path}")
    if result.moved:
        out.print(f"已把 {result.moved} 个已存档的文件移出 inbox/（原件在 archive/）")
