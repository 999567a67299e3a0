"""build_layout shares the unit-independent part of the locked cells between the forms of one
plan and unit category (LockedShape): the locked cells and the fingerprint must stay exactly
what they were, and the shared part must never serve another plan, unit or period."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reporting.forms import layout as lay
from reporting.forms.layout import (
    ACTIVITIES,
    ACTIVITY_COLUMNS,
    HEADER_ROW,
    INDICATOR_COLUMNS,
    INDICATORS,
    INFO_FIRST_ROW,
    INFO_LABELS,
    INSTRUCTIONS,
    FormLayout,
    a1,
    activity_locked_values,
    build_layout,
    fingerprint_of,
    indicator_hint,
    ledger_header,
)
from reporting.intake.reader import split_ref
from reporting.periods import Period
from reporting.plan.load import require_plan
from reporting.plan.model import Plan


def reference_locked(layout: FormLayout) -> dict[tuple[str, str], str]:
    """The locked cells as the layout module computed them before shapes were shared."""
    cells: dict[tuple[str, str], str] = {}
    info = layout.info_values()
    for i, label in enumerate(INFO_LABELS):
        row = INFO_FIRST_ROW + i
        cells[(INSTRUCTIONS, a1(row, 1))] = label
        cells[(INSTRUCTIONS, a1(row, 2))] = info[label]
    for c, col in enumerate(ACTIVITY_COLUMNS, start=1):
        cells[(ACTIVITIES, a1(HEADER_ROW, c))] = col.header
    for slot in layout.activities:
        for c, value in enumerate(activity_locked_values(layout.plan, slot.activity), start=1):
            cells[(ACTIVITIES, a1(slot.row, c))] = value
    for c, col in enumerate(INDICATOR_COLUMNS, start=1):
        cells[(INDICATORS, a1(HEADER_ROW, c))] = col.header
    for slot in layout.indicators:
        ind = slot.indicator
        values = [
            ind.code,
            ind.name,
            ind.measure,
            "是" if ind.required else "否",
            indicator_hint(layout, ind),
        ]
        for c, value in enumerate(values, start=1):
            cells[(INDICATORS, a1(slot.row, c))] = value
    for ls in layout.ledgers:
        for i, column in enumerate(ls.ledger.columns):
            cells[(ls.sheet, a1(HEADER_ROW, ls.column(i)))] = ledger_header(column)
    return cells


def reference_fingerprint(layout: FormLayout) -> str:
    text = json.dumps(
        [
            list(layout.sheet_names),
            sorted((f"{s}!{c}", v) for (s, c), v in reference_locked(layout).items()),
        ],
        ensure_ascii=False,
    )
    return fingerprint_of(text)


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> Plan:
    from reporting.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("shape") / "ws").workspace
    return require_plan(ws.plan_path)


def _odd(plan: Plan) -> Plan:
    """The same plan with texts that JSON and the rule wording must carry exactly."""
    units = tuple(
        dataclasses.replace(u, name=f'{u.name} "引号" \\ 职工人数', headcount=7 + i)
        for i, u in enumerate(plan.units)
    )
    indicators = tuple(
        dataclasses.replace(ind, name=f"{ind.name}（职工人数）") if i == 0 else ind
        for i, ind in enumerate(plan.indicators)
    )
    return dataclasses.replace(plan, units=units, indicators=indicators)


def test_locked_cells_and_fingerprint_are_unchanged(plan: Plan):
    for p in (plan, _odd(plan)):
        for unit in p.units:
            for period in p.periods()[:3]:
                for rows in (None, {p.ledgers[0].name: 260}):
                    layout = build_layout(p, unit, period, rows)
                    assert list(layout.locked_cells().items()) == list(
                        reference_locked(layout).items()
                    )
                    assert layout.fingerprint() == reference_fingerprint(layout)
                    places = layout.locked_places()
                    assert [((s, r), v) for s, r, _, _, v in places] == list(
                        layout.locked_cells().items()
                    )
                    assert all(split_ref(r) == (row, col) for _, r, row, col, _ in places)


def test_shape_serves_only_its_own_plan_unit_and_period(plan: Plan):
    same_category = [u for u in plan.units if u.category == plan.units[0].category]
    assert len(same_category) >= 2
    a, b = same_category[:2]
    may, june = Period(2014, 5), Period(2014, 6)
    first = build_layout(plan, a, may)
    assert first.fingerprint() == reference_fingerprint(first)
    for unit, period in ((b, may), (a, june), (b, june)):
        other = build_layout(plan, unit, period)
        assert other.shape is first.shape  # shared ...
        assert other.locked_cells() == reference_locked(other)  # ... but its own texts
        assert other.fingerprint() != first.fingerprint()

    # An edited plan (another object, whatever its ids) gets its own shape.
    activities = tuple(dataclasses.replace(x, name=x.name + "（新）") for x in plan.activities)
    renamed = dataclasses.replace(plan, activities=activities)
    edited = build_layout(renamed, a, may)
    assert edited.shape is not first.shape
    assert edited.locked_cells() == reference_locked(edited)
    assert edited.fingerprint() != first.fingerprint()


def test_layout_without_shape_works_it_out(plan: Plan):
    layout = build_layout(plan, plan.units[0], Period(2014, 5))
    bare = dataclasses.replace(layout, shape=None)
    assert bare.locked_cells() == layout.locked_cells()
    assert bare.fingerprint() == layout.fingerprint()


def test_shape_cache_is_bounded(plan: Plan, monkeypatch):
    monkeypatch.setattr(lay, "_SHAPES", {})
    monkeypatch.setattr(lay, "_SHAPES_MAX", 2)
    for i in range(5):
        p = dataclasses.replace(plan, settings=dataclasses.replace(plan.settings, name=str(i)))
        build_layout(p, p.units[0], Period(2014, 5))
    assert len(lay._SHAPES) <= 2
