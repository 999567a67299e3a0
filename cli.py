"""命令行入口：python cli.py --help 查看全部命令。

Thin by design: ``commands/`` holds one module per stage; each command parses its arguments,
calls one function of ``reporting`` and renders the result with rich.
"""

from __future__ import annotations

import sys

# multiprocessing runs this script again, as ``__mp_main__``, in every worker process it starts
# by forkserver or spawn (collect's parsing workers). They need none of the command line, which
# would cost each of them ~0.1 s and 228 modules (typer, rich and every command).
if __name__ != "__mp_main__":
    from commands.app import app

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
