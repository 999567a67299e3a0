from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from reporting.plan.example import example_sheets


class PlanSheets(dict[str, list[list[Any]]]):
    """The example plan's rows, with helpers to plant mistakes by column name."""

    def col(self, sheet: str, name: str) -> int:
        return self[sheet][0].index(name)

    def set(self, sheet: str, excel_row: int, column: str, value: Any) -> None:
        row = self[sheet][excel_row - 1]
        idx = self.col(sheet, column)
        while len(row) <= idx:
            row.append(None)
        row[idx] = value

    def cell(self, sheet: str, excel_row: int, column: str) -> Any:
        return self[sheet][excel_row - 1][self.col(sheet, column)]

    def setting(self, item: str, value: Any) -> None:
        for row in self["方案"][1:]:
            if row[0] == item:
                row[1] = value
                return
        raise KeyError(item)


@pytest.fixture
def sheets() -> PlanSheets:
    return PlanSheets(copy.deepcopy(example_sheets()))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    from reporting.workspace import init_workspace

    root = tmp_path / "ws"
    init_workspace(root)
    return root
