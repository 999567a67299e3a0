"""The command line: every command registered on one Typer app, with the tool's Chinese help.

``cli.py`` runs it; tests drive it with Typer's ``CliRunner``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from commands import register_all
from commands.common import install_chinese, state

install_chinese()

app = typer.Typer(
    help="卫生健康系统专项活动报送工具：方案 → 表单 → 回收审核 → 汇总 → 考评 → 通报。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="出错时显示完整的程序调用栈")] = False,
) -> None:
    state["debug"] = debug


register_all(app)
