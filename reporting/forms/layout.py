"""The form layout: where every sheet, row and input cell of a unit form is.

This is the contract between the form writer and intake. The writer renders a
:class:`FormLayout`; intake rebuilds the same layout from the plan version, unit and period named
in the form's metadata and reads the returned file cell by cell against it. The *locked* cells
(headers, codes, names) are fingerprinted so a moved row or an inserted column is detected.

Data sheets hold data only — no formulas — so every reader (calamine included) sees exactly what
the unit typed. Live checks live in conditional formats and on the instructions sheet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from reporting.periods import Period
from reporting.plan.model import Activity, Indicator, Ledger, LedgerColumn, Plan, Unit, ValueType

LAYOUT_VERSION = "1"
FORM_KIND_UNIT = "unit"

INSTRUCTIONS = "填报说明"
ACTIVITIES = "规定动作"
INDICATORS = "月报数据"
META = "_meta"

TITLE_ROW = 1  # 1-based Excel rows
HEADER_ROW = 2
FIRST_ROW = 3
LEDGER_MIN_ROWS = 200
LEDGER_SPARE_ROWS = 50

STATUS_DONE = "已完成"
STATUS_OPTIONS = ("已完成", "进行中", "未开展")
FORM_OPTIONS = ("集中学习", "会议", "报告会", "座谈会", "竞赛评比", "实践活动", "网络宣传", "其他")
TEXT_LIMIT = 500  # default length limit of free-text inputs
NOTE_LIMIT = 200


@dataclass(frozen=True)
class Col:
    key: str
    header: str
    locked: bool
    width: float


ACTIVITY_COLUMNS: tuple[Col, ...] = (
    Col("code", "编号", True, 6),
    Col("name", "规定动作", True, 26),
    Col("phase", "所属阶段", True, 10),
    Col("deadline", "完成时限", True, 11),
    Col("min_count", "最少次数", True, 6),
    Col("evidence_required", "佐证材料要求", True, 20),
    Col("status", "完成情况", False, 10),
    Col("count", "完成次数", False, 8),
    Col("done_date", "完成日期", False, 11),
    Col("participants", "参加人数", False, 8),
    Col("form", "开展形式", False, 10),
    Col("evidence", "佐证材料说明", False, 24),
    Col("note", "备注", False, 18),
)

INDICATOR_COLUMNS: tuple[Col, ...] = (
    Col("code", "编号", True, 6),
    Col("name", "指标名称", True, 24),
    Col("measure", "计量单位", True, 8),
    Col("required", "是否必填", True, 8),
    Col("hint", "填报要求", True, 30),
    Col("value", "本期数值", False, 16),
    Col("note", "备注", False, 24),
)


def ledger_header(column: LedgerColumn) -> str:
    """Header of a ledger column; required columns are marked with ``*``."""
    return column.name + ("*" if column.required else "")


# Label cells on the instructions sheet, read back when the metadata sheet is gone.
INFO_LABELS = ("填报单位", "单位编码", "单位类别", "所属地区", "职工人数", "报送期", "报送截止")
INFO_FIRST_ROW = 4


def col_letter(index: int) -> str:
    """1-based column index → Excel letters (1 → A, 27 → AA)."""
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def a1(row: int, col: int) -> str:
    return f"{col_letter(col)}{row}"


def col_of(columns: tuple[Col, ...], key: str) -> int:
    """1-based column index of ``key``."""
    return next(i for i, c in enumerate(columns, start=1) if c.key == key)


@dataclass(frozen=True)
class ActivitySlot:
    activity: Activity
    row: int


@dataclass(frozen=True)
class IndicatorSlot:
    indicator: Indicator
    row: int

    @property
    def cell(self) -> str:
        return a1(self.row, col_of(INDICATOR_COLUMNS, "value"))


@dataclass(frozen=True)
class LedgerSlot:
    ledger: Ledger
    first_row: int
    n_rows: int

    @property
    def sheet(self) -> str:
        return self.ledger.name

    def column(self, i: int) -> int:
        """1-based sheet column of the ledger's ``i``-th (0-based) column."""
        return i + 1

    @property
    def last_row(self) -> int:
        return self.first_row + self.n_rows - 1


@dataclass(frozen=True)
class FormLayout:
    plan: Plan
    unit: Unit
    period: Period
    activities: tuple[ActivitySlot, ...]
    indicators: tuple[IndicatorSlot, ...]
    ledgers: tuple[LedgerSlot, ...]
    kind: str = FORM_KIND_UNIT
    # What this layout shares with every other of the same plan and unit category (see
    # :func:`build_layout`); worked out from the slots when not given.
    shape: LockedShape | None = field(default=None, compare=False, repr=False)

    # ---- sheets
    @property
    def sheet_names(self) -> tuple[str, ...]:
        """Visible sheets in order (the metadata sheet is not listed)."""
        return (INSTRUCTIONS, ACTIVITIES, INDICATORS, *(s.sheet for s in self.ledgers))

    @property
    def deadline(self) -> date:
        return self.plan.deadline(self.period)

    @property
    def date_window(self) -> tuple[date, date]:
        """Dates a unit may enter: from the campaign's start to the return deadline."""
        start = min(
            (p.start for p in self.plan.phases), default=date(self.plan.settings.year, 1, 1)
        )
        return start, max(self.deadline, start)

    @property
    def year_window(self) -> tuple[date, date]:
        year = self.plan.settings.year
        return date(year, 1, 1), date(year, 12, 31)

    # ---- what must not change
    def info_values(self) -> dict[str, str]:
        u = self.unit
        return {
            "填报单位": u.name,
            "单位编码": u.code,
            "单位类别": u.category,
            "所属地区": u.region,
            "职工人数": str(u.headcount),
            "报送期": str(self.period),
            "报送截止": f"{self.deadline.year}年{self.deadline.month}月{self.deadline.day}日",
        }

    def locked_cells(self) -> dict[tuple[str, str], str]:
        """Every locked cell whose content defines the layout, as text, in form order (the
        instructions' labels and values, then each sheet's headers and rows)."""
        shape, values = self._locked_values
        return dict(zip(shape.keys, values, strict=True))

    @cached_property
    def _locked_values(self) -> tuple[LockedShape, list[str]]:
        shape = self.shape or locked_shape(
            self.plan, self.activities, self.indicators, self.ledgers
        )
        values = list(shape.values)
        info = self.info_values()
        for pos, label in zip(shape.info, INFO_LABELS, strict=True):
            values[pos] = info[label]
        headcount = self.unit.headcount
        for pos, fixed, rules in shape.hints:
            values[pos] = _join_hint(fixed, [_with_headcount(w, headcount) for w in rules])
        return shape, values

    def locked_places(self) -> list[tuple[str, str, int, int, str]]:
        """:meth:`locked_cells` as (sheet, A1, 1-based row, column, text), in the same order."""
        shape, values = self._locked_values
        return [
            (sheet, ref, row, col, value)
            for (sheet, ref), (_, row, col), value in zip(
                shape.keys, shape.cells, values, strict=True
            )
        ]

    def fingerprint_text(self) -> str:
        """What the fingerprint hashes: the sheet names and every locked cell as
        ``["sheet!A1", text]`` sorted by the first, as JSON."""
        shape, values = self._locked_values
        head, pieces = shape.fingerprint_pieces(self.sheet_names)
        enc = _encode_json_string
        cells = [p if p.__class__ is str else f"{p[0]}{enc(values[p[1]])}]" for p in pieces]
        return f"{head}{', '.join(cells)}]]"

    @cached_property
    def _fingerprint(self) -> str:
        return fingerprint_of(self.fingerprint_text())

    def fingerprint(self) -> str:
        return self._fingerprint


@dataclass(frozen=True)
class LockedShape:
    """The locked cells of a form, minus what belongs to the unit: their places (``keys``) in
    form order with their texts (``values``; empty at the unit's own places), the positions of
    the instructions' values (in :data:`INFO_LABELS` order) and of the 填报要求 hints (with
    their parts that do not depend on the unit, and the words of each rule before the unit's
    headcount goes in), the fingerprint's order (positions sorted by ``"sheet!A1"``) and each
    place as (sheet, 1-based row, column)."""

    keys: tuple[tuple[str, str], ...]
    values: tuple[str, ...]
    info: tuple[int, ...]
    hints: tuple[tuple[int, tuple[str, ...], tuple[str, ...]], ...]
    names: tuple[str, ...]
    order: tuple[int, ...]
    cells: tuple[tuple[str, int, int], ...] = ()

    def fingerprint_pieces(
        self, sheet_names: tuple[str, ...]
    ) -> tuple[str, list[str | tuple[str, int]]]:
        """:meth:`FormLayout.fingerprint_text` in pieces, made once per sheet list: the JSON
        up to the first cell, and each cell in fingerprint order, written out where its text is
        the shape's and as ``(its JSON up to the text, position)`` where the unit's goes in.
        The text is ``json.dumps`` of the same lists, character for character."""
        cached = self._json.get(sheet_names)
        if cached is None:
            enc = _encode_json_string
            own = {*self.info, *(pos for pos, _, _ in self.hints)}
            pieces: list[str | tuple[str, int]] = []
            for i in self.order:
                start = f"[{enc(self.names[i])}, "
                pieces.append((start, i) if i in own else f"{start}{enc(self.values[i])}]")
            head = f"[{json.dumps(list(sheet_names), ensure_ascii=False)}, ["
            cached = self._json[sheet_names] = (head, pieces)
        return cached

    @cached_property
    def _json(self) -> dict[tuple[str, ...], tuple[str, list[str | tuple[str, int]]]]:
        return {}


def locked_shape(
    plan: Plan,
    activities: tuple[ActivitySlot, ...],
    indicators: tuple[IndicatorSlot, ...],
    ledgers: tuple[LedgerSlot, ...],
) -> LockedShape:
    keys: list[tuple[str, str]] = []
    cells: list[tuple[str, int, int]] = []
    values: list[str] = []
    info: list[int] = []
    hints: list[tuple[int, tuple[str, ...], tuple[str, ...]]] = []

    def put(sheet: str, row: int, col: int, value: str) -> int:
        keys.append((sheet, a1(row, col)))
        cells.append((sheet, row, col))
        values.append(value)
        return len(keys) - 1

    for i, label in enumerate(INFO_LABELS):
        row = INFO_FIRST_ROW + i
        put(INSTRUCTIONS, row, 1, label)
        info.append(put(INSTRUCTIONS, row, 2, ""))
    for c, col in enumerate(ACTIVITY_COLUMNS, start=1):
        put(ACTIVITIES, HEADER_ROW, c, col.header)
    for slot in activities:
        for c, value in enumerate(activity_locked_values(plan, slot.activity), start=1):
            put(ACTIVITIES, slot.row, c, value)
    for c, col in enumerate(INDICATOR_COLUMNS, start=1):
        put(INDICATORS, HEADER_ROW, c, col.header)
    for slot in indicators:
        ind = slot.indicator
        fixed = [ind.code, ind.name, ind.measure, "是" if ind.required else "否"]
        for c, value in enumerate(fixed, start=1):
            put(INDICATORS, slot.row, c, value)
        pos = put(INDICATORS, slot.row, len(fixed) + 1, "")
        rules = tuple(_rule_words(indicators, rule.text) for rule in ind.rules)
        hints.append((pos, tuple(_hint_parts(plan, ind)), rules))
    for ls in ledgers:
        for i, column in enumerate(ls.ledger.columns):
            put(ls.sheet, HEADER_ROW, ls.column(i), ledger_header(column))
    names = tuple(f"{sheet}!{ref}" for sheet, ref in keys)
    order = tuple(sorted(range(len(keys)), key=names.__getitem__))
    return LockedShape(
        tuple(keys), tuple(values), tuple(info), tuple(hints), names, order, tuple(cells)
    )


# Shapes by (plan, unit category), for build_layout: intake rebuilds a layout for every returned
# file, and all forms of one category share everything but the unit's own texts. The plan itself
# is kept with its shapes, so the id in the key always names that very (immutable) plan.
_SHAPES: dict[tuple[int, str], tuple[Plan, LockedShape]] = {}
_SHAPES_MAX = 64


# What json.dumps(..., ensure_ascii=False) writes for a string.
_encode_json_string = json.encoder.encode_basestring  # type: ignore[attr-defined]


def fingerprint_of(text: str) -> str:
    """The fingerprint of a layout whose :meth:`FormLayout.fingerprint_text` is ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def activity_locked_values(plan: Plan, activity: Activity) -> list[str]:
    phase = plan.phase(activity.phase)
    return [
        activity.code,
        activity.name,
        phase.name if phase else activity.phase,
        activity.deadline.isoformat(),
        str(activity.min_count),
        activity.evidence,
    ]


def indicator_hint(layout: FormLayout, ind: Indicator) -> str:
    """The 填报要求 text: type, bounds and rules in words a clerk understands."""
    rules = [describe_rule(layout, rule.text) for rule in ind.rules]
    return _join_hint(_hint_parts(layout.plan, ind), rules)


def _join_hint(parts: Iterable[str], rules: Iterable[str]) -> str:
    return "；".join([*parts, *rules])


def _hint_parts(plan: Plan, ind: Indicator) -> list[str]:
    """The hint's type and bounds (the same for every unit)."""
    parts: list[str] = []
    if ind.type is ValueType.INTEGER:
        parts.append("填整数")
    elif ind.type is ValueType.DECIMAL:
        parts.append("填数字，可带小数")
    elif ind.type is ValueType.DATE:
        parts.append(f"填日期（{plan.settings.year}年内）")
    elif ind.type is ValueType.YESNO:
        parts.append("选“是”或“否”")
    else:
        parts.append(f"填文字，不超过{int(ind.maximum or TEXT_LIMIT)}字")
    if ind.numeric:
        if ind.minimum is not None and ind.maximum is not None:
            parts.append(f"范围 {ind.minimum:g}–{ind.maximum:g}")
        elif ind.minimum is not None:
            parts.append(f"不小于 {ind.minimum:g}")
        elif ind.maximum is not None:
            parts.append(f"不大于 {ind.maximum:g}")
    return parts


def describe_rule(layout: FormLayout, text: str) -> str:
    return _with_headcount(_rule_words(layout.indicators, text), layout.unit.headcount)


def _rule_words(indicators: tuple[IndicatorSlot, ...], text: str) -> str:
    """A rule in words, but for the unit's headcount (:func:`_with_headcount`)."""
    words = text.replace("<=", "不大于").replace(">=", "不小于").replace("!=", "不等于")
    words = (
        words.replace("==", "等于").replace("<", "小于").replace(">", "大于").replace("=", "等于")
    )
    for slot in indicators:
        words = words.replace(f"[{slot.indicator.code}]", f"“{slot.indicator.name}”")
    return words


def _with_headcount(words: str, headcount: int) -> str:
    return words.replace("职工人数", f"职工人数（{headcount}）").strip()


def indicator_locked_values(layout: FormLayout, ind: Indicator) -> list[str]:
    return [
        ind.code,
        ind.name,
        ind.measure,
        "是" if ind.required else "否",
        indicator_hint(layout, ind),
    ]


def build_layout(
    plan: Plan, unit: Unit, period: Period, ledger_rows: dict[str, int] | None = None
) -> FormLayout:
    """The layout of ``unit``'s form for ``period``.

    ``ledger_rows`` gives how many rows each ledger sheet has when it differs from the default
    (a pre-filled ledger with many open items gets spare rows beyond them).
    """
    acts = tuple(ActivitySlot(a, FIRST_ROW + i) for i, a in enumerate(plan.activities_for(unit)))
    inds = tuple(IndicatorSlot(ind, FIRST_ROW + i) for i, ind in enumerate(plan.indicators))
    rows = ledger_rows or {}
    ledgers = tuple(
        LedgerSlot(lg, FIRST_ROW, max(LEDGER_MIN_ROWS, rows.get(lg.name, LEDGER_MIN_ROWS)))
        for lg in plan.ledgers
    )
    # The slots above depend on the plan and the unit's category only (ledger row counts do not
    # change the locked cells): so does their shape.
    key = (id(plan), unit.category)
    cached = _SHAPES.get(key)
    if cached is None or cached[0] is not plan:
        if len(_SHAPES) >= _SHAPES_MAX:
            _SHAPES.clear()
        cached = _SHAPES[key] = (plan, locked_shape(plan, acts, inds, ledgers))
    return FormLayout(plan, unit, period, acts, inds, ledgers, shape=cached[1])


# --------------------------------------------------------------------------- metadata


@dataclass(frozen=True)
class FormMeta:
    """What the very hidden metadata sheet says about a form."""

    tool: str
    kind: str
    layout_version: str
    plan_id: str
    plan_version: str
    unit_code: str
    unit_name: str
    period: str
    generated_at: str
    fingerprint: str
    ledger_rows: dict[str, int]
    signature: str

    def payload(self) -> str:
        return "|".join(
            (
                self.kind,
                self.layout_version,
                self.plan_version,
                self.unit_code,
                self.period,
                self.fingerprint,
                json.dumps(self.ledger_rows, sort_keys=True, ensure_ascii=False),
            )
        )

    def as_rows(self) -> list[tuple[str, str]]:
        return [
            ("tool", self.tool),
            ("kind", self.kind),
            ("layout_version", self.layout_version),
            ("plan_id", self.plan_id),
            ("plan_version", self.plan_version),
            ("unit_code", self.unit_code),
            ("unit_name", self.unit_name),
            ("period", self.period),
            ("generated_at", self.generated_at),
            ("fingerprint", self.fingerprint),
            ("ledger_rows", json.dumps(self.ledger_rows, ensure_ascii=False, sort_keys=True)),
            ("signature", self.signature),
        ]

    @classmethod
    def from_rows(cls, rows: dict[str, str]) -> FormMeta:
        """Raises KeyError/ValueError when a field is missing or malformed."""
        ledger_rows = json.loads(rows["ledger_rows"] or "{}")
        if not isinstance(ledger_rows, dict):
            raise ValueError("ledger_rows")
        return cls(
            tool=rows["tool"],
            kind=rows["kind"],
            layout_version=rows["layout_version"],
            plan_id=rows["plan_id"],
            plan_version=rows["plan_version"],
            unit_code=rows["unit_code"],
            unit_name=rows["unit_name"],
            period=rows["period"],
            generated_at=rows["generated_at"],
            fingerprint=rows["fingerprint"],
            ledger_rows={str(k): int(v) for k, v in ledger_rows.items()},
            signature=rows.get("signature", ""),
        )


TOOL_NAME = "campaign-reporting"


def sign(key: bytes, meta_payload: str) -> str:
    return hmac.new(key, meta_payload.encode(), hashlib.sha256).hexdigest()[:32]


def verify(key: bytes, meta: FormMeta) -> bool:
    return hmac.compare_digest(sign(key, meta.payload()), meta.signature)


def make_meta(layout: FormLayout, key: bytes, generated_at: str) -> FormMeta:
    unsigned = FormMeta(
        tool=TOOL_NAME,
        kind=layout.kind,
        layout_version=LAYOUT_VERSION,
        plan_id=layout.plan.plan_id,
        plan_version=layout.plan.version,
        unit_code=layout.unit.code,
        unit_name=layout.unit.name,
        period=str(layout.period),
        generated_at=generated_at,
        fingerprint=layout.fingerprint(),
        ledger_rows={s.sheet: s.n_rows for s in layout.ledgers},
        signature="",
    )
    return FormMeta(**{**unsigned.__dict__, "signature": sign(key, unsigned.payload())})
