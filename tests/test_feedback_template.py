"""Template-made feedback copies (``reporting.forms.feedback_template``) are the copies
``render_form`` writes with annotations, part by part and byte for byte (``same_form``: only
core.xml's creation time may differ), for random values, marks, comments and issue lists on every
sheet; and ``build_feedback`` uses a template only after its first copy passed that comparison.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from reporting.forms.feedback_template import FeedbackTemplate
from reporting.forms.layout import (
    ACTIVITIES,
    ACTIVITY_COLUMNS,
    INDICATORS,
    INSTRUCTIONS,
    META,
    FormLayout,
    a1,
    build_layout,
    make_meta,
)
from reporting.forms.template import Shape, same_form, shape_of
from reporting.forms.writer import EMPTY_PREFILL, ISSUES_SHEET, Annotations, render_form
from reporting.intake import feedback
from reporting.periods import Period
from reporting.plan.load import require_plan
from reporting.plan.model import Plan, Unit
from tests.test_forms_template import ODD_NAMES

MAY = Period(2014, 5)
STAMP = "2014-05-25T09:30:00"
KEY = b"feedback-template-key"
SUMMARY = ["收到文件：甲.xlsx　收到时间：2014-06-01 09:00", "审核结果：退回修改", "请修改后发回。"]

TEXTS = [
    "已完成",
    "会议记录、照片",
    "&<>\"'",
    "🏥😀",
    "控制\x01字符\x1f",
    "_x0041_",
    "  前后空格 ",
    "第一行\n第二行",
    "",
    "备注",  # a header on the form: shares its shared-string entry
    "长" * 300,
]
VALUES: list[Any] = [
    *TEXTS,
    None,
    0,
    3,
    -2.5,
    1e-7,
    12345678901234567890,
    float("nan"),
    float("inf"),
    True,
    False,
    date(2014, 5, 3),
    datetime(2014, 4, 30, 8, 15),
    Decimal("1.50"),
]


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    from reporting.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("fbt") / "ws").workspace
    return require_plan(ws.plan_path)


_TEMPLATES: dict[tuple[int, Shape], FeedbackTemplate] = {}


def template_for(plan: Plan, layout: FormLayout) -> FeedbackTemplate:
    shape = shape_of(layout, EMPTY_PREFILL)
    key = (id(plan), shape)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = FeedbackTemplate.build_feedback(plan, MAY, shape, KEY, STAMP)
    return _TEMPLATES[key]


def direct(layout: FormLayout, notes: Annotations) -> bytes:
    return render_form(layout, make_meta(layout, KEY, STAMP), annotations=notes)


def input_cells(layout: FormLayout) -> list[tuple[str, str]]:
    """Cells a unit fills in: activity inputs, indicator values, ledger cells (some rows)."""
    cells = [
        (ACTIVITIES, a1(slot.row, c))
        for slot in layout.activities
        for c, col in enumerate(ACTIVITY_COLUMNS, start=1)
        if not col.locked
    ]
    cells += [(INDICATORS, slot.cell) for slot in layout.indicators]
    for slot in layout.ledgers:
        for row in (slot.first_row, slot.first_row + 1, slot.first_row + 17, slot.last_row):
            cells += [
                (slot.sheet, a1(row, slot.column(i))) for i in range(len(slot.ledger.columns))
            ]
    return cells


def random_notes(rng: random.Random, layout: FormLayout) -> Annotations:
    cells = input_cells(layout)
    chosen = rng.sample(cells, rng.randint(0, min(40, len(cells))))
    values = {cell: rng.choice(VALUES) for cell in chosen if rng.random() < 0.85}
    marked = rng.sample(chosen, rng.randint(0, min(8, len(chosen))))
    marks = {
        cell: (rng.choice(["error", "warning"]), rng.choice(TEXTS) or "请核对") for cell in marked
    }
    issues = [
        (
            rng.choice(["错误", "提示"]),
            rng.choice([ACTIVITIES, INDICATORS, ""]),
            rng.choice(["H3", "", "AB12"]),
            rng.choice(["参加人数", "", "备注"]),
            rng.choice(TEXTS),
        )
        for _ in range(rng.choice([0, 1, 3, 12, 30]))
    ]
    return Annotations(values=values, marks=marks, issues=issues, summary=list(SUMMARY))


def units(plan: Plan) -> list[Unit]:
    base = plan.units
    odd = [
        dataclasses.replace(base[i % len(base)], code=f"Z{i:02d}", name=name)
        for i, name in enumerate(ODD_NAMES)
    ]
    return [*base, *odd]


def test_random_copies_byte_for_byte(plan: Plan):
    rng = random.Random(20141122)
    made = total = 0
    for unit in units(plan):
        layout = build_layout(plan, unit, MAY, None)
        template = template_for(plan, layout)
        for _ in range(6):
            notes = random_notes(rng, layout)
            fast = template.render_feedback(unit, notes)
            total += 1
            if fast is None:
                continue
            made += 1
            assert same_form(fast, direct(layout, notes)), (unit.name, notes)
    # only text XlsxWriter rewrites (none here) or cut footers (no such name here) go direct
    assert made == total


def test_comments_on_several_sheets_and_long_issue_lists(plan: Plan):
    unit = plan.units[0]
    layout = build_layout(plan, unit, MAY, None)
    ledger = layout.ledgers[0]
    act = layout.activities[0].row
    far = ledger.first_row + 40
    notes = Annotations(
        values={
            (ACTIVITIES, f"G{act}"): "已完成",
            (INDICATORS, layout.indicators[0].cell): 45,
            (ledger.sheet, a1(far, 2)): "很远的一行",
        },
        marks={
            (ACTIVITIES, f"H{act}"): ("error", "次数" * 700),  # cut to 1,000 characters
            (INDICATORS, layout.indicators[0].cell): ("error", "超过职工人数"),
            (INDICATORS, layout.indicators[1].cell): ("warning", "偏高，请核实"),
            (ledger.sheet, a1(far, 2)): ("warning", "请核对"),
            (ledger.sheet, a1(ledger.first_row, 1)): ("error", "必填"),
        },
        issues=[("错误", ACTIVITIES, f"H{act}", "次数", f"第{n}条") for n in range(40)],
        summary=list(SUMMARY),
    )
    fast = template_for(plan, layout).render_feedback(unit, notes)
    assert fast is not None
    assert same_form(fast, direct(layout, notes))


def test_a_fresh_copy_has_only_the_issue_list(plan: Plan):
    unit = plan.units[1]
    layout = build_layout(plan, unit, MAY, None)
    notes = Annotations(issues=[("错误", "", "", "", "表格结构被改动")], summary=list(SUMMARY))
    fast = template_for(plan, layout).render_feedback(unit, notes)
    assert fast is not None and same_form(fast, direct(layout, notes))


@pytest.mark.parametrize(
    "notes",
    [
        # a mark on a cell the form writes text into (an activity's name)
        Annotations(marks={(ACTIVITIES, "B3"): ("error", "x")}, summary=list(SUMMARY)),
        # text XlsxWriter would write as rich text through plain_text
        Annotations(values={(ACTIVITIES, "G3"): "<r>粗体</r>"}, summary=list(SUMMARY)),
        # another number of summary lines than the template has
        Annotations(summary=["只有一行"]),
        # a time-zone-aware datetime, which XlsxWriter refuses
        Annotations(
            values={
                (ACTIVITIES, "I3"): datetime(2014, 5, 1, tzinfo=datetime.now().astimezone().tzinfo)
            },
            summary=list(SUMMARY),
        ),
    ],
    ids=["locked cell", "rich-looking text", "summary lines", "aware datetime"],
)
def test_what_the_template_cannot_reproduce_goes_direct(plan: Plan, notes: Annotations):
    unit = plan.units[0]
    layout = build_layout(plan, unit, MAY, None)
    assert layout.activities[0].row == 3
    assert template_for(plan, layout).render_feedback(unit, notes) is None


def test_cells_on_sheets_the_writer_skips_are_skipped(plan: Plan):
    unit = plan.units[0]
    layout = build_layout(plan, unit, MAY, None)
    notes = Annotations(
        values={(META, "B2"): "x", ("没有这张表", "A1"): 1, (ISSUES_SHEET, "A1"): "y"},
        marks={(META, "B2"): ("error", "x"), (INSTRUCTIONS, "Z99"): ("warning", "空白处")},
        issues=[("提示", INSTRUCTIONS, "Z99", "", "空白处")],
        summary=list(SUMMARY),
    )
    fast = template_for(plan, layout).render_feedback(unit, notes)
    # Z99 on 填报说明 is no blank of the form: XlsxWriter would add a cell there, so direct
    assert fast is None
    del notes.marks[(INSTRUCTIONS, "Z99")]
    fast = template_for(plan, layout).render_feedback(unit, notes)
    assert fast is not None and same_form(fast, direct(layout, notes))


# --------------------------------------------------------------------------- build_feedback


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(feedback, "_SHAPES", type(feedback._SHAPES)())
    return feedback._SHAPES


def test_render_uses_the_template_after_its_first_copy_matched(
    plan: Plan, fresh_cache, monkeypatch
):
    calls = []
    real = feedback.render_form

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(feedback, "render_form", counting)
    rng = random.Random(7)
    unit = plan.units[0]
    layout = build_layout(plan, unit, MAY, None)
    outputs = []
    for _ in range(feedback.TEMPLATE_AFTER + 4):
        notes = random_notes(rng, layout)
        outputs.append((notes, feedback._render(plan, layout, KEY, STAMP, notes)))
    (state,) = fresh_cache.values()
    assert state.template is not None and not state.direct_only
    # direct for the first copies and the check; none after
    assert len(calls) == feedback.TEMPLATE_AFTER
    for notes, data in outputs:
        assert same_form(data, direct(layout, notes))


def test_a_template_that_fails_its_check_is_not_used(plan: Plan, fresh_cache, monkeypatch):
    monkeypatch.setattr(FeedbackTemplate, "render_feedback", lambda self, unit, notes: b"PK")
    unit = plan.units[0]
    layout = build_layout(plan, unit, MAY, None)
    notes = Annotations(issues=[("错误", "", "", "", "x")], summary=list(SUMMARY))
    for _ in range(feedback.TEMPLATE_AFTER + 2):
        data = feedback._render(plan, layout, KEY, STAMP, notes)
        assert same_form(data, direct(layout, notes))
    (state,) = fresh_cache.values()
    assert state.direct_only and state.template is None


def test_a_template_keeps_no_compressor_state(plan: Plan):
    """A process keeps up to 32 feedback templates; each part's head compressor would add
    ~256 KB to each (over 2 MB a template), and copies never start from a blank head."""
    layout = build_layout(plan, plan.units[0], MAY, None)
    template = template_for(plan, layout)
    assert all(part.head is None for part in template.parts)
    assert feedback._MAX_SHAPES <= 32
