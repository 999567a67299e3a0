"""命令行入口：python cli.py --help 查看全部命令。

Thin by design: ``commands/`` holds one module per stage; each command parses its arguments,
calls one function of ``reporting`` and renders the result with rich.
"""

from __future__ import annotations

import sys
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

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
