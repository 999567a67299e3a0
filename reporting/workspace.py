"""The workspace: a folder holding the plan, the inbox, the outbox, the archive and the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reporting.errors import WorkspaceError

PLAN_FILE = "plan.xlsx"
STORE_FILE = "store.sqlite"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def plan_path(self) -> Path:
        return self.root / PLAN_FILE

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def store_path(self) -> Path:
        return self.root / STORE_FILE

    def require(self) -> None:
        if not self.plan_path.is_file():
            raise WorkspaceError(
                f"{self.root} 不是工作区：找不到 {PLAN_FILE}。"
                f"请先运行 python cli.py init {self.root}"
            )


@dataclass(frozen=True)
class InitResult:
    workspace: Workspace
    overwritten: bool


def init_workspace(root: Path, *, force: bool = False) -> InitResult:
    """Create ``root`` with an example ``plan.xlsx``, ``inbox/`` and ``outbox/``.

    Refuses to replace an existing plan unless ``force``; never touches anything else.
    """
    from reporting.plan.example import write_example_plan

    ws = Workspace(root)
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root} 已存在且不是文件夹")
    existed = ws.plan_path.exists()
    if existed and not force:
        raise WorkspaceError(
            f"{ws.plan_path} 已存在，为避免覆盖已编辑的方案，init 已停止。确需重建请加 --force"
        )
    root.mkdir(parents=True, exist_ok=True)
    ws.inbox.mkdir(exist_ok=True)
    ws.outbox.mkdir(exist_ok=True)
    write_example_plan(ws.plan_path)
    return InitResult(ws, existed)
