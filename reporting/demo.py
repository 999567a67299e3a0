"""The built-in demonstration: a complete example workspace, run stage by stage."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from reporting.errors import WorkspaceError
from reporting.forms.generate import Progress
from reporting.plan.load import PlanResult, load_plan
from reporting.workspace import Workspace, init_workspace

MARKER = ".demo-workspace"


@dataclass
class DemoResult:
    workspace: Workspace
    plan: PlanResult
    outputs: list[tuple[str, Path]] = field(default_factory=list)


def prepare_demo_dir(root: Path) -> Workspace:
    """Make ``root`` a fresh demo workspace. Refuses a folder that is not a demo workspace, so
    the demo can never overwrite a real bureau's plan or returns."""
    if root.exists():
        if not root.is_dir():
            raise WorkspaceError(f"{root} 已存在且不是文件夹，演示无法使用")
        if any(root.iterdir()) and not (root / MARKER).exists():
            raise WorkspaceError(
                f"{root} 不是空文件夹，也不是演示工作区。为免覆盖真实数据，演示已停止；"
                "请换一个文件夹，或不带参数运行（默认使用 demo/）"
            )
        if (root / MARKER).exists():
            shutil.rmtree(root)  # our own previous demo: start the month afresh
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("此文件夹由 python cli.py demo 生成，可随时删除。\n", "utf-8")
    return init_workspace(root, force=True).workspace


DEMO_PERIOD = "2014-05"


def run_demo(root: Path, progress: Progress | None = None) -> DemoResult:
    """Run the month of ``DEMO_PERIOD`` end to end in a fresh demo workspace."""
    from reporting.forms.service import make_forms

    ws = prepare_demo_dir(root)
    result = DemoResult(ws, load_plan(ws.plan_path))
    result.outputs.append(("方案", ws.plan_path))
    if not result.plan.valid:
        return result
    forms = make_forms(ws.root, DEMO_PERIOD, progress=progress)
    result.outputs.append((f"{DEMO_PERIOD} 报送表单（{len(forms.files)} 份）", forms.folder))
    result.outputs.append(("表单打包", forms.archive))
    return result
