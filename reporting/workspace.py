"""The workspace: a folder holding the plan, the inbox, the outbox, the archive and the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reporting.errors import WorkspaceError

PLAN_FILE = "plan.xlsx"
STORE_FILE = "store.sqlite"
KEY_FILE = ".form-key"


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

    @property
    def forms_dir(self) -> Path:
        return self.outbox / "forms"

    def form_key(self) -> bytes:
        """The workspace's secret for signing form metadata, created on first use.

        A unit that unhides the metadata sheet and edits it cannot produce a valid signature.
        Losing this file only means older forms can no longer be verified (a warning).
        """
        import secrets

        from reporting.fsutil import atomic_write_text

        path = self.root / KEY_FILE
        if path.is_file():
            text = path.read_text("ascii").strip()
            if len(text) == 64:
                return bytes.fromhex(text)
        if not path.exists():
            atomic_write_text(path, secrets.token_hex(32) + "\n")
            return bytes.fromhex(path.read_text("ascii").strip())
        raise WorkspaceError(f"{path} 已损坏，无法校验表单签名；如确认无用可删除后重新生成表单")

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
