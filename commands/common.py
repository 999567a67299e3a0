"""Shared pieces of the command line: consoles, options, error translation, progress bars.

Every command module renders with these and translates library errors in one place
(:func:`errors`): a Chinese message on stderr and a fixed exit code (README: 0 ok, 1 findings
or failure, 2 usage). Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

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
    "Did you mean {possibility}?": "是不是要用 {possibility}？",
    "(Possible options: {possibilities})": "（可能是：{possibilities}）",
}


def install_chinese() -> None:
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.types
    import typer.rich_utils as ru

    def translate(message: str) -> str:
        return _ZH.get(message, message)

    def translate_plural(singular: str, plural: str, n: int) -> str:
        return translate(singular if n == 1 else plural)

    for module in (click.core, click.decorators, click.exceptions, click.formatting, click.types):
        module._ = translate  # type: ignore[attr-defined]
    click.exceptions.ngettext = translate_plural  # type: ignore[attr-defined]
    _translate_command_suggestions()
    ru.OPTIONS_PANEL_TITLE = "选项"
    ru.COMMANDS_PANEL_TITLE = "命令"
    ru.ARGUMENTS_PANEL_TITLE = "参数"
    ru.ERRORS_PANEL_TITLE = "错误"
    ru.ABORTED_TEXT = "已中止。"
    ru.DEFAULT_STRING = "[默认：{}]"
    ru.REQUIRED_LONG_STRING = "[必填]"
    ru.RICH_HELP = "运行 [blue]'{command_path} {help_option}'[/] 查看帮助。"


def _translate_command_suggestions() -> None:
    """Typer appends "Did you mean 'x'?" to an unknown command's message with an f-string,
    out of gettext's reach; put it into Chinese where it is raised."""
    import click
    from typer.core import TyperGroup

    if getattr(TyperGroup.resolve_command, "_chinese", False):
        return
    original = TyperGroup.resolve_command

    def resolve_command(self: Any, ctx: Any, args: Any) -> Any:
        try:
            return original(self, ctx, args)
        except click.UsageError as exc:
            head, sep, tail = exc.message.partition(". Did you mean ")
            if sep:
                exc.message = f"{head.rstrip('。.')}。是不是要用 {tail.rstrip('?')}？"
            raise

    resolve_command._chinese = True  # type: ignore[attr-defined]
    TyperGroup.resolve_command = resolve_command  # type: ignore[method-assign]


# A terminal is no place for a 10,000-row table: longer listings show their head and tail
# and name the workbook that holds all of them.
TERMINAL_ROWS, TERMINAL_HEAD, TERMINAL_TAIL = 60, 30, 10


def clipped(
    rows: list[Any], head: int = TERMINAL_HEAD, tail: int = TERMINAL_TAIL
) -> tuple[list[Any], list[Any], int]:
    """(first rows, last rows, how many were left out between them); everything in the first
    list when there are at most ``TERMINAL_ROWS``."""
    if len(rows) <= TERMINAL_ROWS:
        return list(rows), [], 0
    return list(rows[:head]), list(rows[-tail:]) if tail else [], len(rows) - head - tail


# C0 and C1 control characters but tab and newline, and DEL.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible_controls(text: str) -> str:
    """Control characters written out (``\\x1b``): an escape sequence in a file name or a cell
    is shown to the clerk, never obeyed by the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _Console(Console):
    """Prints every string as it is. File names, cell values and the unit codes a file claims
    reach the terminal: with markup, ``报表[final].xlsx`` showed as ``报表.xlsx`` and a cell
    holding ``[/]`` stopped ``collect`` with a MarkupError; ``:cat:`` became an emoji; an ESC
    went to the terminal. Styles are given as :class:`~rich.text.Text` (:func:`styled`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, soft_wrap=True, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(visible_controls(text), **kwargs)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line with styled parts, e.g. ``styled(("参数错误：", "red"), message)``."""
    return Text.assemble(
        *(
            visible_controls(p) if isinstance(p, str) else (visible_controls(p[0]), p[1])
            for p in parts
        )
    )


out = _Console()
err = _Console(stderr=True)
state = {"debug": False}

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="工作区文件夹（含 plan.xlsx、inbox/、outbox/）")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出结果，便于其他程序读取")]
PeriodOpt = Annotated[str, typer.Option("--period", "-p", help="报送期，如 2014-05")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="按这一天判断哪些期已过截止日期，如 2014-06-09（默认今天）"),
]


def parse_day(text: str | None, option: str) -> date | None:
    """A date option (``2014-06-09``) or None; a usage error (exit 2) when malformed."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        err.print(
            styled(("参数错误：", "red"), f"{option} 的日期“{text}”格式不对，应如 2014-06-09")
        )
        raise typer.Exit(EXIT_USAGE) from None


@contextmanager
def errors() -> Iterator[None]:
    """Translate library errors into a Chinese message on stderr and a fixed exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except UsageError as exc:
        err.print(styled(("参数错误：", "red"), str(exc)))
        raise typer.Exit(EXIT_USAGE) from exc
    except PlanError as exc:
        err.print(styled(("方案有误：", "red"), str(exc)))
        print_findings(exc.findings, console=err)
        raise typer.Exit(EXIT_FAILED) from exc
    except ReportingError as exc:
        err.print(styled(("无法继续：", "red"), str(exc)))
        raise typer.Exit(EXIT_FAILED) from exc
    except Exception as exc:  # the one blanket catch: the CLI edge
        if state["debug"]:
            raise
        err.print(styled(("程序内部错误：", "red"), f"{type(exc).__name__}: {exc}"))
        err.print("请加 --debug 重新运行并把输出发给维护人员。")
        raise typer.Exit(EXIT_FAILED) from exc


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def print_findings(findings: Any, console: Console = out) -> None:
    if not findings:
        return
    table = Table(title="问题清单", show_lines=False, expand=False)
    for col in ("级别", "位置", "代码", "说明"):
        table.add_column(col, overflow="fold")
    for f in findings:
        level = styled(("错误", "red") if f.is_error else ("提示", "yellow"))
        table.add_row(level, f.where(), f.code, f.message)
    console.print(table)


@contextmanager
def progress(label: str, console: Console | None = None) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on ``console`` (stderr); yields the callback the library calls as
    work completes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
