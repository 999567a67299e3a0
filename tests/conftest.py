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


class Office:
    """A bureau's workspace for intake tests: forms on demand, units filling them, the inbox."""

    def __init__(self, root: Path) -> None:
        from reporting.plan.load import require_plan
        from reporting.workspace import init_workspace

        self.ws = init_workspace(root).workspace
        self.plan = require_plan(self.ws.plan_path)
        self.forms: dict[tuple[str, str], Path] = {}

    def form(self, code: str, period: str = "2014-05") -> Path:
        from reporting.forms import generate_forms
        from reporting.periods import Period

        if (code, period) not in self.forms:
            result = generate_forms(
                self.ws, self.plan, Period.parse(period), unit_codes=[code], workers=1
            )
            self.forms[(code, period)] = result.files[0].path
        return self.forms[(code, period)]

    def filling(self, code: str, period: str = "2014-05", seed: int = 0):
        import random

        from reporting.periods import Period
        from reporting.simulate import typical_filling

        unit = self.plan.unit(code)
        assert unit
        return typical_filling(self.plan, unit, Period.parse(period), random.Random(seed))

    def filled(self, code: str, filling=None, period: str = "2014-05", seed: int = 0) -> bytes:
        from reporting.simulate import fill_form

        return fill_form(self.form(code, period), filling or self.filling(code, period, seed))

    def drop(self, name: str, data: bytes) -> Path:
        path = self.ws.inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def collect(self, **kw):
        from reporting.intake.collect import collect

        kw.setdefault("workers", 1)
        return collect(self.ws.root, **kw)

    def store(self):
        from reporting.store import Store

        return Store.open(self.ws.store_path)

    def check(self, data: bytes, period: str | None = None):
        """Identify and validate bytes without the store (pure path)."""
        from reporting.intake.reader import read_workbook
        from reporting.intake.validate import IntakeContext, check_workbook
        from reporting.periods import Period

        read = read_workbook(data, "test.xlsx")
        assert read.ok, read.message
        ctx = IntakeContext(
            self.plan,
            {self.plan.version: self.plan},
            self.ws.form_key(),
            Period.parse(period) if period else None,
        )
        return check_workbook(read.book, ctx)


@pytest.fixture
def office(tmp_path: Path) -> Office:
    return Office(tmp_path / "office")


@pytest.fixture
def month(tmp_path: Path):
    """A small month told in the store (tests/test_collate.py ``story``)."""
    from tests.test_collate import Month, story

    m = Month(tmp_path)
    story(m)
    yield m
    m.store.close()
