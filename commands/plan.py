"""``init`` and ``plan``: create a workspace, check the plan workbook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    JsonOpt,
    WorkspaceOpt,
    echo_json,
    errors,
    out,
    print_findings,
    styled,
)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(plan)


def init(
    directory: Annotated[Path, typer.Argument(help="要创建的工作区文件夹")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="覆盖已有的 plan.xlsx")] = False,
) -> None:
    """创建工作区：示例方案 plan.xlsx（“八个一”学习活动）、inbox/ 和 outbox/。"""
    from reporting.workspace import init_workspace

    with errors():
        result = init_workspace(directory, force=force)
    verb = "已覆盖" if result.overwritten else "已创建"
    out.print(styled((verb, "green"), f"示例方案：{result.workspace.plan_path}"))
    out.print("下一步：用 Excel 或 WPS 修改方案，然后运行 python cli.py plan 检查。")


def plan(workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """检查方案 plan.xlsx，列出全部错误并显示方案概要。"""
    from reporting.plan.load import load_plan
    from reporting.plan.summary import plan_json
    from reporting.workspace import Workspace

    with errors():
        ws = Workspace(workspace)
        result = load_plan(ws.plan_path)
    if as_json:
        echo_json(plan_json(result))
    else:
        render_plan(result)
    raise typer.Exit(EXIT_OK if result.valid else EXIT_FAILED)


def render_plan(result: Any) -> None:
    from reporting.plan.summary import units_by

    p = result.plan
    s = p.settings
    out.print(styled((s.name or "（未填方案名称）", "bold")))
    out.print(f"{s.issuer}　{s.doc_number}　{s.year}年　方案版本 {p.version}")
    out.print(f"按月报送，次月{s.deadline_day}日前报送；联系人 {s.contact} {s.phone}")
    if s.grade_bands:
        out.print("等级划分：" + "；".join(f"{b.name}{b.op}{b.threshold:g}" for b in s.grade_bands))

    t = Table(title="阶段")
    for c in ("编号", "名称", "开始", "结束"):
        t.add_column(c)
    for ph in p.phases:
        t.add_row(ph.code, ph.name, str(ph.start), str(ph.end))
    out.print(t)

    for attr, title in (("category", "单位类别"), ("region", "所属地区")):
        t = Table(title=f"单位（按{title}）")
        for c in (title, "单位数", "职工人数"):
            t.add_column(c)
        for key, n, heads in units_by(result, attr):
            t.add_row(key, str(n), str(heads))
        out.print(t)

    t = Table(title="规定动作")
    for c in ("编号", "名称", "阶段", "适用类别", "最少次数", "完成时限"):
        t.add_column(c, overflow="fold")
    for a in p.activities:
        t.add_row(
            a.code,
            a.name,
            a.phase,
            "、".join(a.categories) or "全部",
            str(a.min_count),
            str(a.deadline),
        )
    out.print(t)

    t = Table(title="月报指标")
    for c in ("编号", "名称", "类型", "范围", "必填", "汇总", "校验规则"):
        t.add_column(c, overflow="fold")
    for i in p.indicators:
        bounds = (
            ""
            if i.minimum is None and i.maximum is None
            else (
                f"{'' if i.minimum is None else f'{i.minimum:g}'}–"
                f"{'' if i.maximum is None else f'{i.maximum:g}'}"
            )
        )
        t.add_row(
            i.code,
            i.name,
            i.type.value,
            bounds,
            "是" if i.required else "否",
            i.aggregation.value,
            i.rule_text,
        )
    out.print(t)

    out.print("清单：" + "；".join(f"{lg.name}（{len(lg.columns)}列）" for lg in p.ledgers))

    t = Table(title="考评细则")
    for c in ("编号", "项目", "分值", "方式", "规则"):
        t.add_column(c, overflow="fold")
    for r in p.rubric:
        t.add_row(r.code, r.item, f"{r.points:g}", r.method.value, r.rule_text)
    out.print(t)

    print_findings(result.findings)
    if result.valid:
        out.print(styled(("方案检查通过。", "green")))
    else:
        n = sum(1 for f in result.findings if f.is_error)
        out.print(styled((f"方案有 {n} 处错误，请按上表逐项修改后重新运行 plan。", "red")))
