"""Generated parts of the documentation, so docs cannot drift from code.

``python -m reporting.docs`` rewrites every block between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->`` in ``docs/*.md``; ``tests/test_docs.py`` checks they are current.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from reporting.findings import CATALOGUE
from reporting.plan import schema


def plan_sheets_md() -> str:
    lines: list[str] = []
    for spec in schema.ALL_SHEETS:
        lines += [
            f"### `{spec.name}`",
            "",
            spec.help,
            "",
            "| 列 | 必需 | 说明 |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {c.name} | {'是' if c.required else '可选'} | {c.help} |" for c in spec.columns
        ]
        lines.append("")
        if spec is schema.SETTINGS:
            lines += ["`方案` 表的设置项：", "", "| 项目 | 必填 | 说明 |", "| --- | --- | --- |"]
            lines += [f"| {n} | {'是' if r else '否'} | {h} |" for n, r, h in schema.SETTING_ITEMS]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def findings_md(stage: str) -> str:
    lines = ["| 代码 | 级别 | 含义 |", "| --- | --- | --- |"]
    for code in CATALOGUE.values():
        if code.stage == stage:
            level = "错误" if code.severity == "error" else "提示"
            lines.append(f"| `{code.code}` | {level} | {code.title} |")
    return "\n".join(lines) + "\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "plan-sheets": plan_sheets_md,
    "plan-findings": lambda: findings_md("plan"),
    "intake-findings": lambda: findings_md("intake"),
}

_BLOCK = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[\w-]+) -->\n)(?P<body>.*?)"
    r"(<!-- END GENERATED: (?P=name) -->)",
    re.S,
)


def render(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        gen = GENERATORS[m.group("name")]
        return m.group(1) + gen() + m.group(4)

    return _BLOCK.sub(sub, text)


def update(docs_dir: Path) -> list[Path]:
    changed: list[Path] = []
    for path in sorted(docs_dir.glob("*.md")):
        old = path.read_text("utf-8")
        new = render(old)
        if new != old:
            path.write_text(new, "utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    for p in update(Path(__file__).resolve().parent.parent / "docs"):
        print(f"updated {p}")
