"""命令行入口：python cli.py --help 查看全部命令。

Thin by design: each command parses its arguments, calls one function of ``reporting`` and
renders the result with rich. Library errors are translated here, and only here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from reporting.errors import PlanError, ReportingError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# Click and Typer print their own words through gettext; users read Chinese only.
_ZH = {
    "Show this message and exit.": "显示本帮助并退出。",
    "Usage:": "用法：",
    "Usage: ": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Arguments": "参数",
    "Error": "错误",
    "Error: {message}": "错误：{message}",
    "Aborted!": "已中止。",
    "Aborted.": "已中止。",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing command.": "缺少命令。",
    "No such command {name!r}.": "没有命令 {name!r}。",
    "No such option: {name}": "没有选项：{name}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效：{message}",
    "Invalid value: {message}": "值无效：{message}",
    "Try '{command} {option}' for help.": "运行 '{command} {option}' 查看帮助。",
    "[default: {}]": "[默认：{}]",
    "[required]": "[必填]",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不带值。",
}


def _install_chinese() -> None:
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.types
    import typer.rich_utils as ru

    def translate(message: str) -> str:
        return _ZH.get(message, message)

    for module in (click.core, click.decorators, click.exceptions, click.formatting, click.types):
        module._ = translate  # type: ignore[attr-defined]
    ru.OPTIONS_PANEL_TITLE = "选项"
    ru.COMMANDS_PANEL_TITLE = "命令"
    ru.ARGUMENTS_PANEL_TITLE = "参数"
    ru.ERRORS_PANEL_TITLE = "错误"
    ru.ABORTED_TEXT = "已中止。"
    ru.DEFAULT_STRING = "[默认：{}]"
    ru.REQUIRED_LONG_STRING = "[必填]"
    ru.RICH_HELP = "运行 [blue]'{command_path} {help_option}'[/] 查看帮助。"


_install_chinese()

app = typer.Typer(
    help="卫生健康系统专项活动报送工具：方案 → 表单 → 回收审核 → 汇总 → 考评 → 通报。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_state = {"debug": False}

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="工作区文件夹（含 plan.xlsx、inbox/、outbox/）")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出结果，便于其他程序读取")]


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="出错时显示完整的程序调用栈")] = False,
) -> None:
    _state["debug"] = debug


@contextmanager
def _errors() -> Iterator[None]:
    """Translate library errors into a Chinese message on stderr and a fixed exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except UsageError as exc:
        err.print(f"[red]参数错误：[/red]{exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    except PlanError as exc:
        err.print(f"[red]方案有误：[/red]{exc}")
        _print_findings(exc.findings, console=err)
        raise typer.Exit(EXIT_FAILED) from exc
    except ReportingError as exc:
        err.print(f"[red]无法继续：[/red]{exc}")
        raise typer.Exit(EXIT_FAILED) from exc
    except Exception as exc:  # the one blanket catch: the CLI edge
        if _state["debug"]:
            raise
        err.print(f"[red]程序内部错误：[/red]{type(exc).__name__}: {exc}")
        err.print("请加 --debug 重新运行并把输出发给维护人员。")
        raise typer.Exit(EXIT_FAILED) from exc


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _print_findings(findings: Any, console: Console = out) -> None:
    if not findings:
        return
    table = Table(title="问题清单", show_lines=False, expand=False)
    for col in ("级别", "位置", "代码", "说明"):
        table.add_column(col, overflow="fold")
    for f in findings:
        level = "[red]错误[/red]" if f.is_error else "[yellow]提示[/yellow]"
        table.add_row(level, f.where(), f.code, f.message)
    console.print(table)


# --------------------------------------------------------------------------- init / plan


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="要创建的工作区文件夹")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="覆盖已有的 plan.xlsx")] = False,
) -> None:
    """创建工作区：示例方案 plan.xlsx（“八个一”学习活动）、inbox/ 和 outbox/。"""
    from reporting.workspace import init_workspace

    with _errors():
        result = init_workspace(directory, force=force)
    verb = "已覆盖" if result.overwritten else "已创建"
    out.print(f"[green]{verb}[/green]示例方案：{result.workspace.plan_path}")
    out.print("下一步：用 Excel 或 WPS 修改方案，然后运行 python cli.py plan 检查。")


@app.command()
def plan(workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """检查方案 plan.xlsx，列出全部错误并显示方案概要。"""
    from reporting.plan.load import load_plan
    from reporting.plan.summary import plan_json
    from reporting.workspace import Workspace

    with _errors():
        ws = Workspace(workspace)
        result = load_plan(ws.plan_path)
    if as_json:
        _echo_json(plan_json(result))
    else:
        _render_plan(result)
    raise typer.Exit(EXIT_OK if result.valid else EXIT_FAILED)


def _render_plan(result: Any) -> None:
    from reporting.plan.summary import units_by

    p = result.plan
    s = p.settings
    out.print(f"[bold]{s.name or '（未填方案名称）'}[/bold]")
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

    _print_findings(result.findings)
    if result.valid:
        out.print("[green]方案检查通过。[/green]")
    else:
        n = sum(1 for f in result.findings if f.is_error)
        out.print(f"[red]方案有 {n} 处错误，请按上表逐项修改后重新运行 plan。[/red]")


# --------------------------------------------------------------------------- forms

PeriodOpt = Annotated[str, typer.Option("--period", "-p", help="报送期，如 2014-05")]


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar; yields the callback the library calls as work completes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        f"[bold]{label}[/bold]",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@app.command()
def forms(
    period: PeriodOpt,
    unit: Annotated[
        list[str] | None, typer.Option("--unit", "-u", help="只生成这些单位（单位编码，可重复）")
    ] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """生成本期各单位的 Excel 报送表单（含填报说明、校验、自查和隐藏的识别信息）及打包文件。"""
    from reporting.forms.service import make_forms

    with _errors(), _progress("生成表单") as progress:
        result = make_forms(workspace, period, unit_codes=unit, progress=progress)
    prefilled = sum(1 for f in result.files if f.prefilled)
    out.print(f"[green]已生成 {len(result.files)} 份表单[/green]（方案版本 {result.plan_version}）")
    out.print(f"  表单文件夹：{result.folder}")
    out.print(f"  打包文件：{result.archive}")
    if prefilled:
        out.print(f"  其中 {prefilled} 份已预填上期已采用的完成情况和未完成整改事项")


# --------------------------------------------------------------------------- collect


@app.command()
def collect(
    workspace: WorkspaceOpt = Path("."),
    period: Annotated[
        str | None, typer.Option("--period", "-p", help="只收本期（其他期的表单判为报送期不符）")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="只检查并显示结果，不记录、不存档、不写反馈")
    ] = False,
    received_at: Annotated[
        str | None,
        typer.Option("--received-at", help="按此时间记为收到时间，如 2014-06-04T18:00（补录时用）"),
    ] = None,
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
                f"[red]参数错误：[/red]收到时间“{received_at}”格式不对，应如 2014-06-04T18:00"
            )
            raise typer.Exit(EXIT_USAGE) from None
    with _errors(), _progress("回收审核") as progress:
        result = run_collect(
            workspace, period=period, dry_run=dry_run, received_at=when, progress=progress
        )
    if as_json:
        _echo_json(result.as_json())
    else:
        _render_collect(result)
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FAILED)


_STATE = {
    "accepted": "[green]接收[/green]",
    "rejected": "[red]退回[/red]",
    "duplicate": "重复",
    "skipped": "跳过",
}


def _render_collect(result: Any) -> None:
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
    for f in result.files:
        if (f.state == "accepted" and not f.findings and not f.late) or f.processed_before:
            continue
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
    for line in report_lines(result.files):
        out.print(line)
    feedback = sorted({str(f.feedback.parent) for f in result.files if f.feedback})
    for folder in feedback:
        out.print(f"退回修改表和提示：{folder}")
    for path in result.notices:
        out.print(f"可复制到群里的退回通知：{path}")


# --------------------------------------------------------------------------- demo


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Argument(help="演示工作区文件夹（不会触碰真实工作区）")
    ] = Path("demo"),
) -> None:
    """用内置示例完整演示一个月：建立演示工作区、检查方案、生成表单、模拟各单位报送并回收审核。"""
    from reporting.demo import run_demo

    with _errors(), _progress("演示") as progress:
        result = run_demo(directory, progress=progress)
    _render_plan(result.plan)
    for n, collected in enumerate(result.collects, start=1):
        out.print()
        out.print(f"[bold]第 {n} 次回收[/bold]（{'截止前' if n == 1 else '截止后'}）")
        _render_collect(collected)
    out.print()
    out.print("[bold]演示输出：[/bold]")
    for label, path in result.outputs:
        out.print(f"  {label}：{path}")
    if not result.plan.valid:
        raise typer.Exit(EXIT_FAILED)


def run(argv: list[str] | None = None) -> None:  # pragma: no cover - entry point
    app(args=argv)


_: Callable[..., Any] = run

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
